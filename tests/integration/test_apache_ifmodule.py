"""`<IfModule>` decided as httpd decides it, confirmed by asking a running httpd."""

from __future__ import annotations

import shutil
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from proxylab import free_port, running_httpd, write_httpd_conf

from mxguard.proxy.apache import parse_apache
from mxguard.proxy.model import select_route

HEADER = "X-Frame-Options"


def _write_config(prefix: Path, port: int, *, load_headers: bool) -> Path:
    (prefix / "web").mkdir(parents=True, exist_ok=True)
    (prefix / "web/index.html").write_text("<!doctype html><title>app</title>\n")
    return write_httpd_conf(
        prefix,
        port,
        "    ServerName app.example.com\n"
        f'    DocumentRoot "{prefix}/web"\n'
        "    <IfModule mod_headers.c>\n"
        f"        Header always set {HEADER} DENY\n"
        "    </IfModule>\n",
        ("dir", "headers") if load_headers else ("dir",),
    )


def _served_header(prefix: Path, config: Path, port: int) -> str | None:
    """Start httpd on the config, ask it for `/`, and return the header it sent."""
    with running_httpd(config, prefix, port):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as answer:
                return answer.headers.get(HEADER)
        except urllib.error.HTTPError as answer:  # an error page still carries `always`
            return answer.headers.get(HEADER)


@pytest.fixture
def prefix(tmp_path: Path) -> Iterator[Path]:
    if shutil.which("apache2") is None and not Path("/usr/sbin/apache2").exists():
        pytest.skip("apache2 is not installed (./dev setup installs it)")
    yield tmp_path / "httpd"


@pytest.mark.parametrize("load_headers", [False, True])
def test_ifmodule_verdict_agrees_with_what_httpd_sends(prefix: Path, load_headers: bool) -> None:
    # Given a header wrapped in <IfModule mod_headers.c>, with and without the module loaded,
    port = free_port()
    config = _write_config(prefix, port, load_headers=load_headers)

    # when mxguard reads the configuration and httpd really answers a request,
    parsed = parse_apache(str(config))
    route = select_route(parsed.sites[0], "/")
    assert route is not None
    modelled = HEADER in {h.name for h in route.response_headers}
    sent = _served_header(prefix, config, port)

    # then both agree, and a header httpd drops is a warning naming the section.
    assert modelled == (sent == "DENY") == load_headers
    warnings = [p for p in parsed.problems if p.status == "warn"]
    if load_headers:
        assert warnings == []
    else:
        [warning] = warnings
        section = config.read_text().splitlines()[warning.line - 1]
        assert section.strip() == "<IfModule mod_headers.c>"
        assert "Header" in warning.message
