"""Apache httpd configurations into the proxy model: includes, variables, protocols, headers."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from mxguard.checks.registry import catalog
from mxguard.discovery.rootfs import Root
from mxguard.engine import evaluate
from mxguard.facts import Mode, Snapshot
from mxguard.proxy.apache import parse_apache, protocols_enabled
from mxguard.proxy.model import ProxyFacts, select_route


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_protocols_enabled() -> None:
    assert protocols_enabled(["all", "-SSLv3"]) == ("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")
    assert protocols_enabled(["-all", "+TLSv1.2", "+TLSv1.3"]) == ("TLSv1.2", "TLSv1.3")
    assert protocols_enabled(["TLSv1.2"]) == ("TLSv1.2",)
    assert protocols_enabled(["all", "-TLSv1", "-TLSv1.1"]) == ("TLSv1.2", "TLSv1.3")


def test_debian_layout_in_a_root_tree(tmp_path: Path) -> None:
    # Given a Debian-style tree: apache2.conf, envvars, ports.conf, sites-enabled symlinks
    etc = tmp_path / "etc" / "apache2"
    write(etc / "envvars", "export APACHE_RUN_USER=www-data\nexport APACHE_LOG_DIR=/var/log\n")
    write(
        etc / "apache2.conf",
        "User ${APACHE_RUN_USER}\nErrorLog ${APACHE_LOG_DIR}/error.log\n"
        "Include ports.conf\nIncludeOptional conf-enabled/*.conf\n"
        "IncludeOptional sites-enabled/*.conf\nInclude missing.conf\n",
    )
    write(etc / "ports.conf", "Listen 80\n<IfModule ssl_module>\nListen 443\n</IfModule>\n")
    write(
        etc / "sites-available" / "shop.conf",
        "<VirtualHost *:443>\nServerName shop.example.com\nSSLEngine on\n"
        "SSLProtocol -all +TLSv1.2\nDocumentRoot /srv/shop/web\n"
        "ProxyPass /xas/ http://127.0.0.1:8000/xas/\n</VirtualHost>\n",
    )
    (etc / "sites-enabled").mkdir()
    # An absolute link, as a2ensite makes relative ones: it must resolve inside the tree
    os.symlink("/etc/apache2/sites-available/shop.conf", etc / "sites-enabled" / "shop.conf")

    config = parse_apache("/etc/apache2/apache2.conf", root=Root(str(tmp_path)))

    assert config.user == "www-data"
    assert "/etc/apache2/sites-enabled/shop.conf" in config.files
    [site] = config.sites
    assert site.name == "shop.example.com:443" and site.is_tls
    assert site.tls is not None and site.tls.protocols == ("TLSv1.2",)
    xas = select_route(site, "/xas/x")
    assert xas is not None and xas.kind == "proxy" and xas.upstream_hosts == ("127.0.0.1:8000",)
    root = select_route(site, "/index.html")
    assert root is not None and root.static_root == "/srv/shop/web"
    # The missing Include is a warning naming it, with the line of the Include
    [problem] = config.problems
    assert problem.status == "warn" and "missing.conf" in problem.message
    assert problem.file == "/etc/apache2/apache2.conf" and problem.line == 6


def test_headers_merge_from_server_to_location(tmp_path: Path) -> None:
    config_file = write(
        tmp_path / "httpd.conf",
        "Header always set X-Frame-Options DENY\n"
        "<VirtualHost *:443>\nSSLEngine on\n"
        "Header always set Strict-Transport-Security max-age=31536000\n"
        "Header set X-Only-Success yes\n"
        "RequestHeader set X-Forwarded-Scheme https\n"
        "<Location /p/>\nHeader always unset X-Frame-Options\n"
        "RequestHeader unset X-Forwarded-Scheme\n</Location>\n"
        "ProxyPass /p/ http://127.0.0.1:8000/p/\n"
        "ProxyPass /xas/ http://127.0.0.1:8000/xas/\n</VirtualHost>\n",
    )
    [site] = parse_apache(str(config_file)).sites
    xas = select_route(site, "/xas/")
    page = select_route(site, "/p/a")
    assert xas is not None and page is not None
    assert {h.name: h.always for h in xas.response_headers} == {
        "X-Only-Success": False,
        "X-Frame-Options": True,
        "Strict-Transport-Security": True,
    }
    assert [h.name for h in xas.request_headers] == ["X-Forwarded-Scheme"]
    assert "X-Frame-Options" not in {h.name for h in page.response_headers}
    assert page.request_headers == ()


def test_define_and_negated_conditions(tmp_path: Path) -> None:
    config_file = write(
        tmp_path / "httpd.conf",
        "Define APP /srv/app\n<IfModule !ssl_module>\nListen 8080\n</IfModule>\n"
        "<VirtualHost *:80>\nDocumentRoot ${APP}/web\n</VirtualHost>\n",
    )
    [site] = parse_apache(str(config_file)).sites
    assert site.document_root == "/srv/app/web"


def test_non_utf8_and_binary_input_do_not_crash(tmp_path: Path) -> None:
    path = tmp_path / "httpd.conf"
    path.write_bytes(
        b"ServerName \xff\xfe\n<VirtualHost *:80>\nDocumentRoot /x\x00\n</VirtualHost>\n"
    )
    config = parse_apache(str(path))
    assert len(config.sites) == 1


def test_a_redirect_only_host_has_no_document_root_route(tmp_path: Path) -> None:
    config_file = write(
        tmp_path / "httpd.conf",
        "<VirtualHost *:80>\nServerName shop\nRedirect permanent / https://shop/\n</VirtualHost>\n",
    )
    [site] = parse_apache(str(config_file)).sites
    [route] = site.routes
    assert (route.kind, route.status, route.redirect_to) == ("redirect", 301, "https://shop/")


def test_a_restricted_location_below_a_proxy_is_its_own_route(tmp_path: Path) -> None:
    config_file = write(
        tmp_path / "httpd.conf",
        "<VirtualHost *:443>\nSSLEngine on\n<Location /rest-doc/>\nRequire ip 10.0.0.0/8\n"
        "</Location>\nProxyPass / http://127.0.0.1:8000/\n</VirtualHost>\n",
    )
    [site] = parse_apache(str(config_file)).sites
    docs = select_route(site, "/rest-doc/x")
    rest = select_route(site, "/xas/")
    assert docs is not None and docs.path == "/rest-doc/" and docs.kind == "proxy"
    assert docs.is_access_restricted
    assert rest is not None and rest.path == "/" and not rest.is_access_restricted


def test_ifmodule_follows_the_modules_loaded_so_far(tmp_path: Path) -> None:
    # Given headers wrapped in <IfModule mod_headers.c> while only mod_alias is loaded,
    # and a rewrite block after mod_rewrite is loaded,
    config_file = write(
        tmp_path / "httpd.conf",
        "LoadModule alias_module modules/mod_alias.so\n"
        "<VirtualHost *:80>\nDocumentRoot /srv/app/web\n"
        "<IfModule rewrite_module>\nAlias /early /srv/early\n</IfModule>\n"
        "</VirtualHost>\n"
        "LoadModule rewrite_module modules/mod_rewrite.so\n"
        "<VirtualHost *:81>\nDocumentRoot /srv/app/web\n"
        "<IfModule mod_rewrite.c>\nAlias /late /srv/late\n</IfModule>\n"
        "<IfModule !mod_version.c>\nAlias /never /srv/never\n</IfModule>\n"
        "<IfModule mod_headers.c>\nHeader always set X-Frame-Options DENY\n</IfModule>\n"
        "</VirtualHost>\n",
    )

    config = parse_apache(str(config_file))

    # then httpd's own reading is followed: a module counts once loaded, compiled-in ones always,
    early, late = config.sites
    assert {r.path for r in early.routes} == {"/"}
    assert {r.path for r in late.routes} == {"/", "/late"}
    route = select_route(late, "/")
    assert route is not None
    assert "X-Frame-Options" not in {h.name for h in route.response_headers}
    # and the ignored Header is a warning naming the section's line.
    [problem] = config.problems
    assert (problem.status, problem.line) == ("warn", 17)
    assert "mod_headers.c" in problem.message and "Header" in problem.message


def test_a_fragment_that_loads_no_module_assumes_every_module(tmp_path: Path) -> None:
    config_file = write(
        tmp_path / "site.conf",
        "<VirtualHost *:80>\nDocumentRoot /srv/app/web\n"
        "<IfModule mod_headers.c>\nHeader always set X-Frame-Options DENY\n</IfModule>\n"
        "</VirtualHost>\n",
    )
    config = parse_apache(str(config_file))
    route = select_route(config.sites[0], "/")
    assert route is not None
    assert "X-Frame-Options" in {h.name for h in route.response_headers}
    assert config.problems == ()


def test_a_rewrite_fallback_counts_only_with_conditions_that_name_the_file(
    tmp_path: Path,
) -> None:
    def kind_of(conditions: str) -> str:
        config = write(
            tmp_path / "httpd.conf",
            "<VirtualHost *:443>\nSSLEngine on\nDocumentRoot /srv/shop/web\nRewriteEngine On\n"
            f"{conditions}RewriteRule ^/(.*)$ http://127.0.0.1:8000/$1 [P,L]\n</VirtualHost>\n",
        )
        [site] = parse_apache(str(config)).sites
        route = select_route(site, "/index.html")
        assert route is not None
        return route.kind

    mapped = "RewriteCond %{DOCUMENT_ROOT}%{REQUEST_FILENAME}"
    assert kind_of(f"{mapped} !-f\n{mapped} !-d\n") == "static"
    # Unconditional, the URL path in a VirtualHost, or an [OR]: the runtime answers files too
    assert kind_of("") == "proxy"
    assert kind_of("RewriteCond %{REQUEST_FILENAME} !-f\n") == "proxy"
    assert kind_of(f"{mapped} !-f [OR]\nRewriteCond %{{HTTP_HOST}} ^x$\n") == "proxy"
    # A condition on something else limits the rule in ways not modelled: taken as always
    assert kind_of(f"{mapped} !-f\nRewriteCond %{{REQUEST_URI}} !^/static/\n") == "proxy"


def test_a_request_header_that_keeps_the_clients_value_fails_the_from_client_check(
    tmp_path: Path,
) -> None:
    def verdicts(directive: str) -> dict[str, str]:
        config = write(
            tmp_path / "httpd.conf",
            "Listen 443\n<VirtualHost *:443>\nServerName shop.example.com\nSSLEngine on\n"
            f"DocumentRoot /srv/shop/web\n{directive}\n"
            "ProxyPass /xas/ http://127.0.0.1:8000/xas/\n</VirtualHost>\n",
        )
        wanted = ("forwarded-scheme-header-from-client", "forwarded-scheme-header-missing")
        parsed = replace(parse_apache(str(config)), is_explicit=True)
        snapshot = Snapshot(
            tool_version="t",
            host="t",
            collected_at="now",
            mode=Mode.OFFLINE,
            proxy=ProxyFacts(configs=(parsed,)),
        )
        report = evaluate([snapshot], checks=[c for c in catalog() if c.id in wanted])
        return {
            f.check: f.status.value for f in report.findings if f.subject.endswith(":443 /xas/")
        }

    assert verdicts("RequestHeader set X-Forwarded-Scheme https") == {
        "forwarded-scheme-header-from-client": "pass",
        "forwarded-scheme-header-missing": "pass",
    }
    # The missing check leaves a header the client decides to the from-client check
    assert verdicts("RequestHeader setifempty X-Forwarded-Scheme https") == {
        "forwarded-scheme-header-from-client": "fail",
    }
