"""nginx configurations into the proxy model: location order, inheritance, includes, scale."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mxguard.checks.registry import catalog
from mxguard.discovery.rootfs import Root
from mxguard.engine import evaluate
from mxguard.facts import Mode, Snapshot
from mxguard.proxy.model import ProxyFacts, select_route
from mxguard.proxy.nginx import parse_nginx


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def one_site(tmp_path: Path, server_body: str, http_body: str = "") -> object:
    path = write(
        tmp_path / "nginx.conf",
        f"events {{}}\nhttp {{\n{http_body}\nserver {{\nlisten 443 ssl;\n{server_body}\n}}\n}}\n",
    )
    config = parse_nginx(str(path))
    assert config.problems == ()
    [site] = config.sites
    return site


LOCATIONS = """
location = /exact { return 200; }
location / { return 201; }
location /images/ { return 202; }
location ^~ /static/ { return 203; }
location ~ \\.(png|js)$ { return 204; }
location ~* \\.CSS$ { return 205; }
location /nested/ {
    location ~ \\.php$ { return 206; }
    return 207;
}
"""


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/exact", 200),
        ("/exact/more", 201),
        ("/", 201),
        ("/images/a.gif", 202),
        ("/images/a.png", 204),  # a regex beats a plain prefix
        ("/static/a.png", 203),  # ^~ stops the regex search
        ("/a/b.style.css", 205),  # case-insensitive regex
        ("/nested/x.php", 206),  # nested regex inside the longest prefix
        ("/nested/x.html", 207),
    ],
)
def test_location_matching_order(tmp_path: Path, path: str, status: int) -> None:
    site = one_site(tmp_path, LOCATIONS)
    route = select_route(site, path)  # type: ignore[arg-type]
    assert route is not None and route.status == status


def test_add_header_inherited_only_when_a_level_has_none(tmp_path: Path) -> None:
    site = one_site(
        tmp_path,
        "add_header A 1 always;\nadd_header B 2;\n"
        "location / { }\nlocation /own/ { add_header C 3; }\n"
        "location /if/ { if ($args) { add_header D 4; } }\n",
        http_body="add_header H 0;",
    )
    routes = {r.path: r for r in site.routes}  # type: ignore[attr-defined]
    assert [(h.name, h.always) for h in routes["/"].response_headers] == [("A", True), ("B", False)]
    assert [h.name for h in routes["/own/"].response_headers] == ["C"]
    assert [h.name for h in routes["/if/"].response_headers] == ["A", "B"]
    assert [h.name for h in routes["$args"].response_headers] == ["D"]


def test_proxy_set_header_defaults_and_nesting(tmp_path: Path) -> None:
    site = one_site(
        tmp_path,
        "location /a/ { proxy_pass http://127.0.0.1:8000; }\n"
        "location /b/ { proxy_set_header X-Forwarded-Scheme https;\n"
        "  location /b/c/ { proxy_set_header Host $host; proxy_pass http://127.0.0.1:8000; }\n"
        "  proxy_pass http://127.0.0.1:8000; }\n",
    )
    routes = {r.path: r for r in site.routes}  # type: ignore[attr-defined]
    assert [(h.name, h.value) for h in routes["/a/"].request_headers] == [
        ("Host", "$proxy_host"),
        ("Connection", "close"),
    ]
    assert [h.name for h in routes["/b/"].request_headers] == ["X-Forwarded-Scheme"]
    assert [h.name for h in routes["/b/c/"].request_headers] == ["Host"]


def test_map_and_set_variables_are_expanded_to_every_value_they_can_take(
    tmp_path: Path,
) -> None:
    # Given a map without a default whose entries use a capture, and a `set` in one location
    site = one_site(
        tmp_path,
        "location /a/ { proxy_set_header X-Forwarded-Proto $chosen; proxy_pass http://u; }\n"
        "location /b/ { set $fixed https; proxy_set_header X-Forwarded-Scheme ${fixed};"
        " proxy_pass http://u; }\n"
        "location /c/ { proxy_set_header X-Forwarded-Scheme $scheme; proxy_pass http://u; }\n",
        http_body=(
            "map $http_x_forwarded_proto $chosen {\n    ~^(https?)$ $1;\n    other https;\n}\n"
        ),
    )
    routes = {r.path: r for r in site.routes}  # type: ignore[attr-defined]

    # Then the map's values, its capture and its empty miss are all possible values
    [proto] = routes["/a/"].request_headers
    assert proto.values == ("$http_x_forwarded_proto", "https", "")
    # and the `set` value replaces the variable, braces and all
    [fixed] = routes["/b/"].request_headers
    assert fixed.possible_values == ("https",)
    # while a variable nginx itself defines is kept as written
    [scheme] = routes["/c/"].request_headers
    assert scheme.values == ()
    assert scheme.possible_values == ("$scheme",)


def test_upstream_groups_and_unix_sockets(tmp_path: Path) -> None:
    site = one_site(
        tmp_path,
        "location /a/ { proxy_pass http://app; }\n"
        "location /b/ { proxy_pass http://unix:/run/app.sock:/; }\n",
        http_body="upstream app { server 127.0.0.1:8000; server [::1]:8000; }",
    )
    routes = {r.path: r for r in site.routes}  # type: ignore[attr-defined]
    assert routes["/a/"].upstream_hosts == ("127.0.0.1:8000", "[::1]:8000")
    assert routes["/b/"].upstream_hosts == ("unix:/run/app.sock",)


def test_server_level_return_answers_everything(tmp_path: Path) -> None:
    site = one_site(tmp_path, "return 301 https://$host$request_uri;\nlocation /x/ { }")
    [route] = site.routes  # type: ignore[attr-defined]
    assert route.kind == "redirect" and route.redirect_to.startswith("https://")


def test_includes_in_a_root_tree_and_missing_include(tmp_path: Path) -> None:
    etc = tmp_path / "etc" / "nginx"
    write(
        etc / "nginx.conf",
        "events {}\nhttp {\ninclude /etc/nginx/sites-enabled/*;\ninclude snippets/none.conf;\n}\n",
    )
    write(etc / "sites-available" / "shop", "server { listen 80; server_name shop; }\n")
    (etc / "sites-enabled").mkdir()
    os.symlink("/etc/nginx/sites-available/shop", etc / "sites-enabled" / "shop")

    config = parse_nginx("/etc/nginx/nginx.conf", root=Root(str(tmp_path)))

    assert [s.name for s in config.sites] == ["shop:80"]
    assert config.files == ("/etc/nginx/nginx.conf", "/etc/nginx/sites-enabled/shop")
    [problem] = config.problems
    assert problem.status == "warn" and "/etc/nginx/snippets/none.conf" in problem.message
    assert problem.line == 4


def test_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path / "nginx.conf", "events {}\nhttp {\nserver {\nlisten 80;\n")
    config = parse_nginx(str(path))
    [problem] = config.problems
    assert problem.status == "error" and problem.file == str(path) and problem.line >= 4


def test_non_utf8_input_is_reported_not_raised(tmp_path: Path) -> None:
    path = tmp_path / "nginx.conf"
    path.write_bytes(b"events {}\nhttp { server { server_name \xff\xfe; } }\n")
    config = parse_nginx(str(path))
    assert config.sites or config.problems


def test_five_thousand_server_blocks_are_all_read_and_judged(tmp_path: Path) -> None:
    # Given 5,000 TLS server blocks, each with the usual Mendix locations
    block = (
        "server {{ listen 443 ssl; server_name app{0}.example.com;\n"
        "  add_header Strict-Transport-Security max-age=31536000 always;\n"
        "  proxy_set_header X-Forwarded-Scheme https;\n"
        "  root /srv/app{0}/web;\n"
        "  location / {{ try_files $uri @rt; }}\n"
        "  location @rt {{ proxy_pass http://127.0.0.1:{1}; }}\n"
        "  location ~ ^/(xas|p)/ {{ proxy_pass http://127.0.0.1:{1}; }}\n"
        "}}\n"
    )
    body = "".join(block.format(i, 8000 + i % 100) for i in range(5000))
    path = write(tmp_path / "nginx.conf", "events {}\nhttp {\n" + body + "}\n")

    config = parse_nginx(str(path))
    snapshot = Snapshot(
        tool_version="test",
        host="big",
        collected_at=datetime.now(UTC).isoformat(),
        mode=Mode.OFFLINE,
        proxy=ProxyFacts(configs=(config,)),
    )
    checks = [c for c in catalog() if c.section in ("5", "7", "9")]
    report = evaluate([snapshot], checks=checks)

    assert len(config.sites) == 5000
    assert not [f for f in report.findings if f.status == "error"]
    # Its speed is measured beside gixy's in bench/proxy_config.py, not asserted here.


def test_round_trip_through_crossplane_build_gives_the_same_model(tmp_path: Path) -> None:
    # Given the realistic fixtures, written back by crossplane's builder
    import crossplane

    fixtures = Path(__file__).parent.parent / "fixtures" / "proxy" / "nginx"
    for name in ("good.conf", "wrong-inheritance.conf", "wrong-everything.conf"):
        original = fixtures / name
        payload = crossplane.parse(str(original), single=True, check_ctx=False, check_args=False)
        rebuilt = write(tmp_path / name, crossplane.build(payload["config"][0]["parsed"]))

        first, again = parse_nginx(str(original)), parse_nginx(str(rebuilt))

        # Then sites, routes and effective headers are the same (lines may move)
        def shape(config: object) -> list[object]:
            return [
                (
                    s.name,
                    [
                        (
                            r.match,
                            r.path,
                            r.kind,
                            r.upstream_hosts,
                            [(h.name, h.value, h.always) for h in r.request_headers],
                            [(h.name, h.value, h.always) for h in r.response_headers],
                        )
                        for r in s.routes
                    ],
                )
                for s in config.sites  # type: ignore[attr-defined]
            ]

        assert shape(again) == shape(first), name


def test_a_server_on_both_ports_is_named_by_its_tls_port(tmp_path: Path) -> None:
    path = write(
        tmp_path / "nginx.conf",
        "events {}\nhttp {\nserver { listen 80; listen 443 ssl; server_name a.example; }\n"
        "server { listen 8080; server_name b.example; }\n}\n",
    )
    names = [site.name for site in parse_nginx(str(path)).sites]
    assert names == ["a.example:443", "b.example:8080"]


def test_headers_more_directives_merge_over_levels_and_survive_add_header(
    tmp_path: Path,
) -> None:
    # Given headers-more at every level, next to add_header, with a clear, -s and -t
    site = one_site(
        tmp_path,
        'more_set_headers "X-Frame-Options: DENY" "X-Gone: 1";\n'
        "location / {\n"
        "    add_header X-Own 1;\n"
        "    more_clear_headers X-Gone;\n"
        '    more_set_headers -s "200 301" "Strict-Transport-Security: max-age=63072000";\n'
        '    more_set_headers -t application/json "X-Json-Only: 1";\n'
        "}\n",
        http_body='more_set_headers "Referrer-Policy: no-referrer";',
    )
    [root] = [r for r in site.routes if r.path == "/"]  # type: ignore[attr-defined]

    # Then every level's headers apply, the clear removed its own, add_header kept its own
    found = {h.name: h for h in root.response_headers}
    assert set(found) == {
        "Referrer-Policy",
        "X-Frame-Options",
        "Strict-Transport-Security",
        "X-Own",
    }
    # and a header limited to some statuses is not added to error pages
    assert found["Referrer-Policy"].always and found["X-Frame-Options"].always
    assert not found["Strict-Transport-Security"].always
    assert found["Strict-Transport-Security"].condition == "status 200 301"


def test_set_lines_apply_where_nginx_runs_them(tmp_path: Path) -> None:
    # Given `set` at server level, in a location, in its `if`, and a nested location
    site = one_site(
        tmp_path,
        "set $scheme_to_send https;\n"
        "if ($http_x_debug) { set $scheme_to_send $http_x_forwarded_proto; }\n"
        "proxy_set_header X-Forwarded-Proto $scheme_to_send;\n"
        "location /a/ {\n"
        "    set $scheme_to_send https;\n"
        "    proxy_pass http://u;\n"
        "    location /a/nested/ { proxy_pass http://u; }\n"
        "}\n"
        "location /b/ {\n"
        "    if ($arg_x) { set $scheme_to_send $http_x_forwarded_proto; }\n"
        "    proxy_pass http://u;\n"
        "}\n",
    )
    routes = {r.path: r for r in site.routes}  # type: ignore[attr-defined]

    def values(path: str) -> tuple[str, ...]:
        [header] = routes[path].request_headers
        return header.possible_values

    # Then a location's own `set` replaces the server's, even its conditional one
    assert values("/a/") == ("https",)
    # a nested location runs only its own (none) after the server's, `if` included
    assert values("/a/nested/") == ("https", "$http_x_forwarded_proto")
    # and an `if` inside a location varies only its own branch
    assert values("/b/") == ("https", "$http_x_forwarded_proto")
    assert values("$arg_x") == ("$http_x_forwarded_proto",)


def test_add_header_inherit_merge_and_off_change_what_a_level_keeps(tmp_path: Path) -> None:
    # Given nginx 1.29.3's add_header_inherit: merge set at server level (and so inherited
    # below), and off in one location
    site = one_site(
        tmp_path,
        "add_header_inherit merge;\n"
        "add_header X-Frame-Options DENY always;\n"
        "location /merged/ { add_header Cache-Control no-cache; }\n"
        "location /nested/ { location /nested/deeper/ { add_header X-Own 1; } }\n"
        "location /cut/ { add_header_inherit off; }\n"
        "location /classic/ { add_header_inherit on; add_header X-Own 1; }\n",
    )
    routes = {r.path: {h.name for h in r.response_headers} for r in site.routes}  # type: ignore[attr-defined]

    # Then merge keeps the server's header beside a location's own, also further down
    assert routes["/merged/"] == {"Cache-Control", "X-Frame-Options"}
    assert routes["/nested/deeper/"] == {"X-Own", "X-Frame-Options"}
    # off keeps nothing from above, and on is the classic rule again
    assert routes["/cut/"] == set()
    assert routes["/classic/"] == {"X-Own"}
