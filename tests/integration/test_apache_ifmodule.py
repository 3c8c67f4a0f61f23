"""`<IfModule>` decided as httpd decides it, confirmed by asking a running httpd."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from proxylab import APACHE_MODULES, apache_env, assert_apache_accepts

from mxguard.proxy.apache import parse_apache
from mxguard.proxy.model import select_route

HEADER = "X-Frame-Options"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _write_config(prefix: Path, port: int, *, load_headers: bool) -> Path:
    modules = ["mpm_event", "authz_core", "dir"]
    if load_headers:
        modules.append("headers")
    loads = "".join(
        f"LoadModule {name}_module {APACHE_MODULES}/mod_{name}.so\n" for name in modules
    )
    (prefix / "web").mkdir(parents=True, exist_ok=True)
    (prefix / "web/index.html").write_text("<!doctype html><title>app</title>\n")
    config = prefix / "httpd.conf"
    config.write_text(
        f'ServerRoot "{prefix}"\nServerName localhost\n'
        f'PidFile "{prefix}/httpd.pid"\nErrorLog "{prefix}/error.log"\n'
        f"{loads}Listen 127.0.0.1:{port}\n"
        f"<VirtualHost 127.0.0.1:{port}>\n"
        f"    ServerName app.example.com\n"
        f'    DocumentRoot "{prefix}/web"\n'
        f"    <IfModule mod_headers.c>\n"
        f"        Header always set {HEADER} DENY\n"
        f"    </IfModule>\n"
        f"</VirtualHost>\n",
        encoding="utf-8",
    )
    return config


def _served_header(prefix: Path, config: Path, port: int) -> str | None:
    """Start httpd on the config, ask it for `/`, and return the header it sent."""
    apache = shutil.which("apache2") or "/usr/sbin/apache2"
    server = subprocess.Popen(
        [apache, "-d", str(prefix), "-f", str(config), "-DFOREGROUND"],
        env=apache_env(prefix),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as answer:
                    return answer.headers.get(HEADER)
            except urllib.error.HTTPError as answer:  # an error page still carries `always`
                return answer.headers.get(HEADER)
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.1)
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture
def prefix(tmp_path: Path) -> Iterator[Path]:
    if shutil.which("apache2") is None and not Path("/usr/sbin/apache2").exists():
        pytest.skip("apache2 is not installed (./dev setup installs it)")
    yield tmp_path / "httpd"


@pytest.mark.parametrize("load_headers", [False, True])
def test_ifmodule_verdict_agrees_with_what_httpd_sends(prefix: Path, load_headers: bool) -> None:
    # Given a header wrapped in <IfModule mod_headers.c>, with and without the module loaded,
    port = _free_port()
    config = _write_config(prefix, port, load_headers=load_headers)
    assert_apache_accepts(config, prefix)

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
