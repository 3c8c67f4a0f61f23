"""mod_rewrite's "static if the file exists, else the runtime", decided as httpd decides it."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from proxylab import App, Findings, TlsFiles, free_port, running_httpd, write_httpd_conf

from mxguard.proxy.apache import parse_apache
from mxguard.proxy.model import select_route

SUBJECT = "route:shop.example.com:443 ^/(.*)$"


def _audit(audit: Callable[..., Findings], app: App, config: Path, ca: str) -> Findings:
    return audit("--config", app.m2ee, "--proxy-config", str(config), "--ca-bundle", ca)


def test_a_fallback_to_the_runtime_for_missing_files_passes(
    apache_config: Callable[..., Path], app: App, tls: TlsFiles, audit: Callable[..., Findings]
) -> None:
    # Given static files from web/ and a RewriteRule [P] only where no such file exists
    config = apache_config("good-rewrite.conf")

    found = _audit(audit, app, config, tls.ca)

    # Then nothing about the site fails: / is static, the runtime is the fallback
    bad = [
        (f["check"], f["subject"])
        for f in found.items
        if f["section"] in ("5", "7", "9")
        and f["status"] in ("fail", "warn", "error")
        and "shop.example.com" in str(f["subject"])
    ]
    assert bad == []
    passed = {
        (f["check"], f["subject"]) for f in found.of("root-proxied-to-runtime", status="pass")
    }
    assert ("root-proxied-to-runtime", SUBJECT) in passed


def test_a_condition_on_request_filename_in_a_virtual_host_proxies_everything(
    apache_config: Callable[..., Path], app: App, tls: TlsFiles, audit: Callable[..., Findings]
) -> None:
    # Given the same rule conditioned on %{REQUEST_FILENAME}, which is the URL path here
    config = apache_config("wrong-rewrite.conf")

    found = _audit(audit, app, config, tls.ca)

    # Then / and the client system are seen to go to the runtime, with the rule's line
    failing = {f["subject"]: f for f in found.of("root-proxied-to-runtime", status="fail")}
    assert SUBJECT in failing
    line = failing[SUBJECT]["evidence"]["line"]  # type: ignore[index]
    assert "RewriteRule" in config.read_text().splitlines()[int(line) - 1]  # type: ignore[call-overload]
    assert found.of("mxclientsystem-not-served-statically", status="fail")


def _fetch(port: int, path: str) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as answer:
        text = answer.read().decode()
    return "STATIC" if text.strip() == "STATIC" else str(json.loads(text)["who"])


@pytest.mark.parametrize(
    ("tested", "expected"),
    [
        ("%{DOCUMENT_ROOT}%{REQUEST_FILENAME}", "STATIC"),
        ("%{DOCUMENT_ROOT}%{REQUEST_URI}", "STATIC"),
        ("%{REQUEST_FILENAME}", "RUNTIME"),
    ],
)
def test_the_model_agrees_with_a_running_httpd(
    tested: str, expected: str, tmp_path: Path, upstream: int
) -> None:
    # Given httpd with the rewrite fallback conditioned on `tested`, and a file in web/
    port = free_port()
    (tmp_path / "web").mkdir()
    (tmp_path / "web/index.html").write_text("STATIC\n")
    config = write_httpd_conf(
        tmp_path,
        port,
        f'    DocumentRoot "{tmp_path}/web"\n'
        f'    <Directory "{tmp_path}/web">\n        Require all granted\n    </Directory>\n'
        f"    RewriteEngine On\n    RewriteCond {tested} !-f\n"
        f"    RewriteRule ^/(.*)$ http://127.0.0.1:{upstream}/$1 [P,L]\n",
        ("dir", "rewrite", "proxy", "proxy_http"),
    )

    # When httpd answers a file that exists and a path that does not
    with running_httpd(config, tmp_path, port):
        served = {path: _fetch(port, path) for path in ("/index.html", "/missing")}

    # Then the existing file came from where the model says, and the rest from the runtime
    assert served == {"/index.html": expected, "/missing": "RUNTIME"}
    [site] = parse_apache(str(config)).sites
    route = select_route(site, "/index.html")
    assert route is not None
    assert (route.kind == "static") == (expected == "STATIC")
    assert route.upstream_hosts == (f"127.0.0.1:{upstream}",)
