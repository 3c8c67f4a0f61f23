"""Helpers and fixtures for the proxy tests: a Mendix project, real TLS files, real server config
tests. `conftest.py` makes the fixtures available; tests import the helpers from here.
"""

from __future__ import annotations

import contextlib
import dataclasses
import http.server
import json
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import trustme

from mxguard.checks.registry import catalog
from mxguard.cli import main
from mxguard.engine import evaluate
from mxguard.facts import Mode, Snapshot
from mxguard.lab.example import RUNTIME_VERSION, AppLayout, write_app
from mxguard.model import Finding
from mxguard.proxy.model import ProxyConfig, ProxyFacts

FIXTURES = Path(__file__).parent.parent / "fixtures" / "proxy"
RUNTIME_PORT = 8000
APACHE_MODULES = "/usr/lib/apache2/modules"


@dataclass(frozen=True, slots=True, kw_only=True)
class App:
    """A Mendix project written for a test."""

    base: str
    m2ee: str
    version: str = RUNTIME_VERSION
    port: int = RUNTIME_PORT


@dataclass(frozen=True, slots=True, kw_only=True)
class TlsFiles:
    """A certificate chain, its key and the CA that issued it, as files."""

    cert: str
    key: str
    ca: str


@pytest.fixture
def app(tmp_path: Path) -> App:
    """Write a hardened Mendix project under the test's folder."""
    home = str(tmp_path / "srv" / "shop")
    layout = AppLayout(
        name="shop",
        home=home,
        uid=os.getuid(),
        gid=os.getgid(),
        runtime_port=RUNTIME_PORT,
        admin_port=9000,
        hardened=True,
    )
    write_app("/", layout)
    return App(base=home, m2ee=f"{home}/.m2ee/m2ee.yaml")


def make_tls(
    folder: Path,
    *,
    names: tuple[str, ...] = ("shop.example.com",),
    not_after: datetime | None = None,
    key_mode: int = 0o600,
    other_key: bool = False,
) -> TlsFiles:
    """Write a trustme CA, a leaf certificate for `names` and its key into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA()
    leaf = ca.issue_cert(*names, not_after=not_after)
    cert = folder / "shop.crt"
    key = folder / "shop.key"
    leaf.cert_chain_pems[0].write_to_path(str(cert))
    source = ca.issue_cert(*names) if other_key else leaf
    source.private_key_pem.write_to_path(str(key))
    os.chmod(key, key_mode)
    ca_file = folder / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    return TlsFiles(cert=str(cert), key=str(key), ca=str(ca_file))


@pytest.fixture
def tls(tmp_path: Path) -> TlsFiles:
    """Return good TLS files for shop.example.com."""
    return make_tls(tmp_path / "tls")


def render(template: Path, target: Path, **values: str) -> Path:
    """Copy a fixture with its @PLACEHOLDERS@ filled in."""
    text = template.read_text(encoding="utf-8")
    for name, value in values.items():
        text = text.replace(f"@{name.upper()}@", value)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    return target


@pytest.fixture
def nginx_config(tmp_path: Path, app: App, tls: TlsFiles) -> Callable[..., Path]:
    """Return a function that renders an nginx fixture and has real nginx accept it."""

    def build(name: str, *, tls_files: TlsFiles | None = None, check: bool = True) -> Path:
        files = tls_files or tls
        prefix = tmp_path / "nginx"
        (prefix / "logs").mkdir(parents=True, exist_ok=True)
        path = render(
            FIXTURES / "nginx" / name,
            prefix / name,
            prefix=str(prefix),
            app=app.base,
            cert=files.cert,
            key=files.key,
            port=str(app.port),
            version=app.version,
        )
        if check:
            assert_nginx_accepts(path, prefix)
        return path

    return build


def assert_nginx_accepts(path: Path, prefix: Path) -> None:
    """Run `nginx -t` on the config and fail the test when nginx rejects it."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.path.exists(nginx):
        pytest.skip("nginx is not installed (./dev setup installs nginx-light)")
    result = subprocess.run(
        [nginx, "-t", "-q", "-c", str(path), "-p", str(prefix)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, f"nginx rejects {path}: {result.stderr}"


def apache_env(prefix: Path) -> dict[str, str]:
    """Return an environment in which apache2 touches nothing outside `prefix`."""
    return {
        **os.environ,
        "APACHE_RUN_DIR": str(prefix),
        "APACHE_LOCK_DIR": str(prefix),
        "APACHE_LOG_DIR": str(prefix),
        "APACHE_PID_FILE": str(prefix / "apache2.pid"),
        "APACHE_RUN_USER": "www-data",
        "APACHE_RUN_GROUP": "www-data",
        "APACHE_CONFDIR": str(prefix),
    }


def assert_apache_accepts(path: Path, prefix: Path) -> None:
    """Run `apache2 -t` on a test-owned config and fail the test when httpd rejects it."""
    apache = shutil.which("apache2") or "/usr/sbin/apache2"
    if not os.path.exists(apache):
        pytest.skip("apache2 is not installed (./dev setup installs it)")
    result = subprocess.run(
        [apache, "-t", "-d", str(prefix), "-f", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env=apache_env(prefix),
    )
    assert result.returncode == 0, f"apache2 rejects {path}: {result.stderr}"


@pytest.fixture
def apache_config(tmp_path: Path, app: App, tls: TlsFiles) -> Callable[..., Path]:
    """Return a function that renders an Apache fixture and has real httpd accept it."""

    def build(name: str, *, tls_files: TlsFiles | None = None, check: bool = True) -> Path:
        files = tls_files or tls
        prefix = tmp_path / "apache"
        prefix.mkdir(parents=True, exist_ok=True)
        values = {
            "prefix": str(prefix),
            "modules": APACHE_MODULES,
            "app": app.base,
            "cert": files.cert,
            "key": files.key,
            "port": str(app.port),
            "version": app.version,
        }
        render(FIXTURES / "apache" / "base.inc", prefix / "base.inc", **values)
        path = render(FIXTURES / "apache" / name, prefix / name, **values)
        if check:
            assert_apache_accepts(path, prefix)
        return path

    return build


@dataclass(frozen=True, slots=True)
class Findings:
    """The findings of one `mxguard audit` run, with helpers to select them."""

    items: list[dict[str, object]]
    exit_code: int

    def of(self, check: str, *, status: str | None = None) -> list[dict[str, object]]:
        return [
            f
            for f in self.items
            if f["check"] == check and (status is None or f["status"] == status)
        ]

    def statuses(self, check: str) -> set[object]:
        return {f["status"] for f in self.of(check)}

    def failing(self, section: str) -> set[object]:
        return {f["check"] for f in self.items if f["section"] == section and f["status"] == "fail"}


@pytest.fixture
def audit(tmp_path: Path) -> Iterator[Callable[..., Findings]]:
    """Return a function that runs `mxguard audit` and returns its JSON findings."""

    def run(*args: str) -> Findings:
        output = tmp_path / "report.json"
        code = main(["audit", *args, "--format", "json", "--output", str(output)])
        report = json.loads(output.read_text(encoding="utf-8"))
        return Findings(items=report["findings"], exit_code=code)

    yield run


def days_from_now(days: int) -> datetime:
    """Return a moment `days` from now, in UTC."""
    return datetime.now(UTC) + timedelta(days=days)


def free_port() -> int:
    """Return a loopback TCP port that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, server: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """Wait until something accepts on `port`; raise when `server` dies or time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                raise
            time.sleep(0.05)


@contextlib.contextmanager
def _running(command: list[str], port: int, env: dict[str, str] | None = None) -> Iterator[None]:
    """Run a server in the foreground until the block ends, once it accepts on `port`."""
    server = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for_port(port, server)
        yield
    finally:
        server.terminate()
        server.wait(timeout=10)


def running_httpd(config: Path, prefix: Path, port: int) -> contextlib.AbstractContextManager[None]:
    """Run httpd on `config` (accepted by `apache2 -t` first) until the block ends."""
    assert_apache_accepts(config, prefix)
    apache = shutil.which("apache2") or "/usr/sbin/apache2"
    command = [apache, "-d", str(prefix), "-f", str(config), "-DFOREGROUND"]
    return _running(command, port, apache_env(prefix))


class _Upstream(http.server.BaseHTTPRequestHandler):
    """Answers every request with the scheme headers it received, as JSON.

    A path ending in `/status/NNN` is answered with that status instead of 200.
    """

    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        seen = {
            name: self.headers.get_all(name) or []
            for name in ("X-Forwarded-Scheme", "X-Forwarded-Proto")
        }
        body = json.dumps({"who": "RUNTIME", "headers": seen}).encode()
        _, marker, code = self.path.rpartition("/status/")
        status = int(code) if marker and code.isdigit() else 200
        self.send_response(status)
        if 300 <= status < 400:
            self.send_header("Location", "/elsewhere")
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def upstream() -> Iterator[int]:
    """A stand-in runtime on loopback that reports the scheme headers it was sent."""
    server = http.server.HTTPServer(("127.0.0.1", 0), _Upstream)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


def apache_loads(*modules: str) -> str:
    """Return the `LoadModule` lines for `modules` from Debian's module folder."""
    return "".join(f"LoadModule {m}_module {APACHE_MODULES}/mod_{m}.so\n" for m in modules)


def write_httpd_conf(prefix: Path, port: int, vhost: str, modules: Sequence[str]) -> Path:
    """Write a minimal httpd.conf with one plain-HTTP virtual host on loopback `port`."""
    config = prefix / "httpd.conf"
    config.write_text(
        f'ServerRoot "{prefix}"\nServerName localhost\nTypesConfig /etc/mime.types\n'
        f'PidFile "{prefix}/httpd.pid"\nErrorLog "{prefix}/error.log"\n'
        + apache_loads("mpm_event", "authz_core", "mime", *modules)
        + f"Listen 127.0.0.1:{port}\n<VirtualHost 127.0.0.1:{port}>\n{vhost}</VirtualHost>\n",
        encoding="utf-8",
    )
    return config


def running_nginx(config: Path, prefix: Path, port: int) -> contextlib.AbstractContextManager[None]:
    """Run nginx on `config` (accepted by `nginx -t` first) until the block ends."""
    assert_nginx_accepts(config, prefix)
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    return _running([nginx, "-p", str(prefix), "-c", str(config), "-g", "daemon off;"], port)


def judge(config: ProxyConfig, *check_ids: str) -> list[Finding]:
    """Evaluate the checks `check_ids` on one proxy configuration, as if named explicitly."""
    snapshot = Snapshot(
        tool_version="test",
        host="test",
        collected_at="now",
        mode=Mode.OFFLINE,
        proxy=ProxyFacts(configs=(dataclasses.replace(config, is_explicit=True),)),
    )
    checks = [c for c in catalog() if c.id in check_ids]
    return list(evaluate([snapshot], checks=checks).findings)


def write_nginx_conf(prefix: Path, http: str, *, before: str = "") -> Path:
    """Write an nginx.conf that keeps its files in `prefix`, with `http` as its http block.

    As root the workers run as root too, so that they can read the test's own files.
    """
    user = "user root;\n" if os.geteuid() == 0 else ""
    config = prefix / "nginx.conf"
    config.write_text(
        f"{before}{user}pid {prefix}/nginx.pid;\nerror_log {prefix}/error.log;\nevents {{}}\n"
        "http {\n    access_log off;\n"
        f"    client_body_temp_path {prefix}/body;\n    proxy_temp_path {prefix}/proxy;\n"
        f"{http}}}\n",
        encoding="utf-8",
    )
    return config
