"""Headers set with the headers-more module, modelled as nginx applies them and confirmed live."""

from __future__ import annotations

import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from proxylab import (
    App,
    Findings,
    TlsFiles,
    assert_nginx_accepts,
    free_port,
    running_nginx,
    write_nginx_conf,
)

from mxguard.proxy.model import select_route
from mxguard.proxy.nginx import parse_nginx

MODULE = "/usr/lib/nginx/modules/ngx_http_headers_more_filter_module.so"
SECURITY = (
    "content-security-policy",
    "strict-transport-security",
    "x-content-type-options",
    "x-frame-options",
    "referrer-policy",
)

pytestmark = pytest.mark.skipif(
    not Path(MODULE).exists(),
    reason="the headers-more module is not installed (./dev setup installs it)",
)


def _audit(audit: Callable[..., Findings], app: App, config: Path, ca: str) -> Findings:
    return audit("--config", app.m2ee, "--proxy-config", str(config), "--ca-bundle", ca)


def _about_shop(found: Findings, status: str) -> set[tuple[object, object]]:
    return {
        (f["check"], f["subject"])
        for f in found.items
        if f["section"] == "9" and f["status"] == status and "shop.example.com" in str(f["subject"])
    }


def test_headers_more_at_server_level_survive_a_location_with_its_own_add_header(
    nginx_config: Callable[..., Path], app: App, tls: TlsFiles, audit: Callable[..., Findings]
) -> None:
    # Given the good layout whose security headers come from more_set_headers, and whose `/`
    # adds a Cache-Control header of its own (with add_header this would drop them all)
    config = nginx_config("good-headers-more.conf")

    # When it is audited
    found = _audit(audit, app, config, tls.ca)

    # Then no §9 check fails or warns about the site
    assert _about_shop(found, "fail") == set()
    assert _about_shop(found, "warn") == set()
    assert ("csp-missing", "route:shop.example.com:443 /") in _about_shop(found, "pass")


def test_a_location_that_clears_the_policy_fails(
    nginx_config: Callable[..., Path], app: App, tls: TlsFiles, audit: Callable[..., Findings]
) -> None:
    config = nginx_config("wrong-headers-more.conf")
    found = _audit(audit, app, config, tls.ca)
    assert ("csp-missing", "route:shop.example.com:443 /") in _about_shop(found, "fail")


def _served(
    config: Path, prefix: Path, port: int, paths: tuple[str, ...]
) -> dict[str, tuple[int, set[str]]]:
    """Start nginx on `config`, fetch each path, and return the status and security headers."""
    sent: dict[str, tuple[int, set[str]]] = {}
    with running_nginx(config, prefix, port):
        for path in paths:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as answer:
                    status, headers = answer.status, answer.headers
            except urllib.error.HTTPError as error:
                status, headers = error.code, error.headers
            sent[path] = (status, {name.lower() for name in headers if name.lower() in SECURITY})
    return sent


def test_the_modelled_headers_are_the_headers_nginx_sends(tmp_path: Path) -> None:
    # Given nginx with headers-more at the http, server and location levels, a clear, a
    # status-limited header and add_header mixed in
    port = free_port()
    (tmp_path / "web").mkdir()
    (tmp_path / "web/strict").mkdir()
    for page in ("web/index.html", "web/strict/index.html"):
        (tmp_path / page).write_text("<!doctype html><title>app</title>\n")
    config = write_nginx_conf(
        tmp_path,
        '    more_set_headers "Referrer-Policy: no-referrer";\n'
        "    server {\n"
        f"        listen 127.0.0.1:{port};\n"
        f"        root {tmp_path}/web;\n"
        '        more_set_headers "X-Frame-Options: DENY" "Content-Security-Policy: '
        "default-src 'self'\";\n"
        "        add_header X-Content-Type-Options nosniff always;\n"
        "        location / {\n"
        "            add_header Cache-Control no-cache;\n"
        "            more_clear_headers Content-Security-Policy;\n"
        "        }\n"
        "        location /strict/ {\n"
        '            more_set_headers -s 200 "Strict-Transport-Security: max-age=63072000";\n'
        "        }\n"
        "    }\n",
        before=f"load_module {MODULE};\n",
    )
    assert_nginx_accepts(config, tmp_path)
    paths = ("/", "/strict/", "/strict/missing")

    # When nginx answers and mxguard models the same file
    answers = _served(config, tmp_path, port, paths)
    [site] = parse_nginx(str(config)).sites
    assert {path: status for path, (status, _) in answers.items()} == {
        "/": 200,
        "/strict/": 200,
        "/strict/missing": 404,
    }
    sent = {path: names for path, (_, names) in answers.items()}

    # Then, path by path and status by status, the model says what nginx sent
    assert sent["/"] == {"referrer-policy", "x-frame-options"}
    assert sent["/strict/missing"] == {
        "referrer-policy",
        "x-frame-options",
        "content-security-policy",
        "x-content-type-options",
    }
    assert sent["/strict/"] == sent["/strict/missing"] | {"strict-transport-security"}
    for path, status in (("/", 200), ("/strict/", 200), ("/strict/missing", 404)):
        route = select_route(site, path)
        assert route is not None
        modelled = {
            h.name.lower()
            for h in route.response_headers
            if h.name.lower() in SECURITY and (h.always or status < 400)
        }
        assert modelled == sent[path], path
