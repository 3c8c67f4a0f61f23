"""mod_rewrite's "static if the file exists, else the runtime", decided as httpd decides it."""

from __future__ import annotations

import http.server
import shutil
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from proxylab import APACHE_MODULES, App, Findings, TlsFiles, apache_env, assert_apache_accepts

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


class _Runtime(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"RUNTIME")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def runtime() -> Iterator[int]:
    """A stand-in upstream on loopback that answers RUNTIME to everything."""
    server = http.server.HTTPServer(("127.0.0.1", 0), _Runtime)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _fetch(port: int, path: str) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as answer:
        return str(answer.read().decode().strip())


@pytest.mark.parametrize(
    ("tested", "expected"),
    [
        ("%{DOCUMENT_ROOT}%{REQUEST_FILENAME}", "STATIC"),
        ("%{DOCUMENT_ROOT}%{REQUEST_URI}", "STATIC"),
        ("%{REQUEST_FILENAME}", "RUNTIME"),
    ],
)
def test_the_model_agrees_with_a_running_httpd(
    tested: str, expected: str, tmp_path: Path, runtime: int
) -> None:
    # Given httpd with the rewrite fallback conditioned on `tested`, and a file in web/
    port = _free_port()
    (tmp_path / "web").mkdir()
    (tmp_path / "web/index.html").write_text("STATIC\n")
    loads = "".join(
        f"LoadModule {name}_module {APACHE_MODULES}/mod_{name}.so\n"
        for name in ("mpm_event", "authz_core", "dir", "mime", "rewrite", "proxy", "proxy_http")
    )
    config = tmp_path / "httpd.conf"
    config.write_text(
        f'ServerRoot "{tmp_path}"\nServerName localhost\nTypesConfig /etc/mime.types\n'
        f'PidFile "{tmp_path}/httpd.pid"\nErrorLog "{tmp_path}/error.log"\n{loads}'
        f"Listen 127.0.0.1:{port}\n<VirtualHost 127.0.0.1:{port}>\n"
        f'    DocumentRoot "{tmp_path}/web"\n'
        f'    <Directory "{tmp_path}/web">\n        Require all granted\n    </Directory>\n'
        f"    RewriteEngine On\n    RewriteCond {tested} !-f\n"
        f"    RewriteRule ^/(.*)$ http://127.0.0.1:{runtime}/$1 [P,L]\n</VirtualHost>\n"
    )
    assert_apache_accepts(config, tmp_path)
    apache = shutil.which("apache2") or "/usr/sbin/apache2"
    server = subprocess.Popen(
        [apache, "-d", str(tmp_path), "-f", str(config), "-DFOREGROUND"],
        env=apache_env(tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.05)
        # When httpd answers a file that exists and a path that does not
        served = {path: _fetch(port, path) for path in ("/index.html", "/missing")}
    finally:
        server.terminate()
        server.wait(timeout=10)

    # Then the existing file came from where the model says, and the rest from the runtime
    assert served == {"/index.html": expected, "/missing": "RUNTIME"}
    [site] = parse_apache(str(config)).sites
    route = select_route(site, "/index.html")
    assert route is not None
    assert (route.kind == "static") == (expected == "STATIC")
    assert route.upstream_hosts == (f"127.0.0.1:{runtime}",)
