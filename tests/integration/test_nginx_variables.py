"""Where nginx's `set` and `map` values apply, confirmed by what a running nginx forwards."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest
from proxylab import free_port, running_nginx, write_nginx_conf

from mxguard.proxy.model import Route, select_route
from mxguard.proxy.nginx import parse_nginx

CLIENT = "http"  # what the client claims in its own X-Forwarded-Proto

# (path, extra request header) -> the if-branch route that answers it, when one does
REQUESTS = (
    ("/a/x", None, None),
    ("/a/nested/x", None, None),
    ("/a/nested/x", "X-Debug", None),
    ("/b/x", None, None),
    ("/b/x?x=1", None, "$arg_x"),
    ("/m/x", None, None),
)


def _config(prefix: Path, port: int, upstream: int) -> Path:
    return write_nginx_conf(
        prefix,
        "    map $http_x_forwarded_proto $chained { default $http_x_forwarded_proto; '' https; }\n"
        "    server {\n"
        f"        listen 127.0.0.1:{port};\n"
        "        set $scheme_to_send https;\n"
        "        if ($http_x_debug) { set $scheme_to_send $http_x_forwarded_proto; }\n"
        "        proxy_set_header X-Forwarded-Proto $scheme_to_send;\n"
        "        location /a/ {\n"
        "            set $scheme_to_send https;\n"
        f"            proxy_pass http://127.0.0.1:{upstream};\n"
        f"            location /a/nested/ {{ proxy_pass http://127.0.0.1:{upstream}; }}\n"
        "        }\n"
        "        location /b/ {\n"
        "            if ($arg_x) { set $scheme_to_send $http_x_forwarded_proto; }\n"
        f"            proxy_pass http://127.0.0.1:{upstream};\n"
        "        }\n"
        "        location /m/ {\n"
        "            proxy_set_header X-Forwarded-Proto $chained;\n"
        f"            proxy_pass http://127.0.0.1:{upstream};\n"
        "        }\n"
        "    }\n",
    )


def _route(routes: tuple[Route, ...], site_route: Route, branch: str | None) -> Route:
    if branch is None:
        return site_route
    return next(r for r in routes if r.match == "if" and r.path == branch)


def test_every_value_nginx_forwards_is_one_the_model_expects(tmp_path: Path, upstream: int) -> None:
    # Given nginx with map and set at server level, in locations, nested and in `if` blocks
    port = free_port()
    config = _config(tmp_path, port, upstream)
    [site] = parse_nginx(str(config)).sites

    # When a client that claims plain HTTP sends each request
    received: dict[str, list[str]] = {}
    with running_nginx(config, tmp_path, port):
        for path, extra, _ in REQUESTS:
            headers = {"X-Forwarded-Proto": CLIENT, **({extra: "1"} if extra else {})}
            request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers)
            with urllib.request.urlopen(request, timeout=5) as answer:  # noqa: S310 - loopback
                received[f"{path} {extra}"] = json.loads(answer.read())["headers"][
                    "X-Forwarded-Proto"
                ]

    # Then each value the runtime got is among those the model says the route can send
    for path, extra, branch in REQUESTS:
        route = select_route(site, path.split("?")[0])
        assert route is not None
        [header] = _route(site.routes, route, branch).request_headers
        possible = {v.replace("$http_x_forwarded_proto", CLIENT) for v in header.possible_values}
        assert received[f"{path} {extra}"][0] in possible, (path, extra, possible)
    # and the places where the client decides are the ones nginx let it decide
    assert received == {
        "/a/x None": ["https"],
        "/a/nested/x None": ["https"],
        "/a/nested/x X-Debug": [CLIENT],
        "/b/x None": ["https"],
        "/b/x?x=1 None": [CLIENT],
        "/m/x None": [CLIENT],
    }


@pytest.fixture(autouse=True)
def _nginx_present() -> None:
    if not Path("/usr/sbin/nginx").exists():
        pytest.skip("nginx is not installed (./dev setup installs it)")
