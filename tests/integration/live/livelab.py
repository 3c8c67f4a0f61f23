"""Helpers of the live tests: emulated runtimes, nginx with TLS, and an in-process audit.

Every server listens on loopback ports chosen at run time and is stopped by its own pid.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import trustme

from mxguard.collect.live import LiveOptions, collect_live
from mxguard.engine import evaluate
from mxguard.facts import Installation, ListenSetting, Mode, Settings, Snapshot, Socket
from mxguard.live.client import Limits
from mxguard.model import Finding

EMULATOR = Path(__file__).resolve().parents[3] / "src" / "mxguard" / "lab" / "emulator.py"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
FAST = Limits(connect_timeout=2.0, read_timeout=2.0, deadline=4.0, per_host=8, overall=64)


def free_port() -> int:
    """Return a loopback TCP port that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, *, host: str = "127.0.0.1", timeout: float = 10.0) -> None:
    """Wait until something accepts connections on `host:port`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port}")


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a process this test started, by its pid."""
    if process.poll() is None:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
    for stream in (process.stdout, process.stderr):
        if stream is not None:
            stream.close()


@dataclass
class Emulator:
    """A running emulated runtime."""

    app_base: Path
    runtime_port: int
    admin_port: int
    process: subprocess.Popen[bytes]
    banner: str = ""


def start_emulator(
    app_base: Path,
    *,
    admin_pass: str = "a-long-random-admin-password-0123456789",  # noqa: S107
    runtime_listen: str | None = "127.0.0.1",
    admin_listen: str | None = "127.0.0.1",
    command_prefix: tuple[str, ...] = (),
    emulator: Path = EMULATOR,
    runtime_port: int | None = None,
    admin_port: int | None = None,
    extra_env: Mapping[str, str] | None = None,
    user: str | None = None,
    arguments: tuple[str, ...] = (),
) -> Emulator:
    """Start an emulator process for `app_base` and wait for its startup line."""
    runtime_port = runtime_port or free_port()
    admin_port = admin_port or free_port()
    environment = {
        "PATH": "/usr/bin:/bin",
        "M2EE_RUNTIME_PORT": str(runtime_port),
        "M2EE_ADMIN_PORT": str(admin_port),
        "M2EE_ADMIN_PASS": admin_pass,
        **(extra_env or {}),
    }
    if runtime_listen is not None:
        environment["M2EE_RUNTIME_LISTEN_ADDRESSES"] = runtime_listen
    if admin_listen is not None:
        environment["M2EE_ADMIN_LISTEN_ADDRESSES"] = admin_listen
    launcher = "/opt/mendix/10.6.1.24711/runtime/launcher/runtimelauncher.jar"
    process = subprocess.Popen(
        [*command_prefix, "/usr/bin/python3", str(emulator), *arguments, launcher, str(app_base)],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        user=user,
    )
    assert process.stdout is not None
    banner = process.stdout.readline().decode("utf-8", "replace")
    if "emulator" not in banner:
        stop(process)
        raise RuntimeError(f"the emulator did not start: {banner}")
    return Emulator(app_base, runtime_port, admin_port, process, banner)


def make_app(folder: Path, name: str = "shop") -> Path:
    """Create a project folder with a web/ folder holding an index and a client file."""
    app_base = folder / name
    (app_base / "web" / "mxclientsystem" / "mxui").mkdir(parents=True)
    (app_base / "web" / "index.html").write_text("<!doctype html><title>shop</title>\n")
    (app_base / "web" / "mxclientsystem" / "mxui" / "mxui.js").write_text("// client\n")
    for path in [folder, *app_base.rglob("*"), app_base]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return app_base


@dataclass
class NginxSite:
    """How one nginx test site is configured; each flag is one way of getting it wrong."""

    scheme_header: str = "set"  # set | none | passthrough
    forward_all: bool = False
    security_headers: bool = True
    weak_tls: bool = False
    server_tokens: bool = False
    redirect: bool = True
    server_name: str = ""  # the TLS site's server_name; none when empty
    https_address: str = "127.0.0.1"  # where the TLS site listens; "*" writes no address
    extra: str = ""  # more of the http block, such as a site tied to no app
    send_chain: bool = True  # False: the certificate file holds the leaf alone


@dataclass
class Nginx:
    """A running nginx in front of an emulator."""

    http_port: int
    https_port: int
    process: subprocess.Popen[bytes]
    prefix: Path
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def https_url(self) -> str:
        return f"https://127.0.0.1:{self.https_port}/"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}/"


GOOD_CSP = (
    "default-src 'none'; img-src 'self'; script-src 'self'; style-src 'self'; "
    "connect-src 'self'; font-src 'self'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'; object-src 'none'"
)


def nginx_config(
    site: NginxSite, prefix: Path, app_base: Path, runtime_port: int, http: int, https: int
) -> str:
    """Return an nginx.conf for `site` in front of the runtime on `runtime_port`."""
    user = "user root;\n" if os.geteuid() == 0 else ""
    protocols = "TLSv1 TLSv1.1 TLSv1.2" if site.weak_tls else "TLSv1.2 TLSv1.3"
    ciphers = "ssl_ciphers ALL:@SECLEVEL=0;" if site.weak_tls else ""
    headers = ""
    if site.security_headers:
        headers = f"""
        add_header Content-Security-Policy "{GOOD_CSP}" always;
        add_header Strict-Transport-Security "max-age=31536000" always;
        add_header X-Content-Type-Options "nosniff" always;
        add_header X-Frame-Options "DENY" always;
        add_header Referrer-Policy "strict-origin-when-cross-origin" always;"""
    if site.scheme_header == "set":
        forward = (
            "proxy_set_header X-Forwarded-Scheme https;\n"
            "            proxy_set_header X-Forwarded-Proto https;"
        )
    elif site.scheme_header == "passthrough":
        forward = (
            "proxy_set_header X-Forwarded-Scheme $mx_scheme;\n"
            "            proxy_set_header X-Forwarded-Proto $mx_proto;"
        )
    else:
        forward = ""
    runtime = f"""
            proxy_pass http://127.0.0.1:{runtime_port};
            proxy_set_header Host $host;
            {forward}"""
    if site.forward_all:
        root_location = f"location / {{{runtime}\n        }}"
    else:
        root_location = f"""location / {{
            root {app_base}/web;
            try_files $uri $uri/ =404;
        }}"""
    redirect = (
        f"return 301 https://$host:{https}$request_uri;"
        if site.redirect
        else f"root {app_base}/web;"
    )
    name = f"server_name {site.server_name};" if site.server_name else ""
    https_listen = f"{https}" if site.https_address == "*" else f"{site.https_address}:{https}"
    return f"""{user}worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    types {{ text/html html; application/javascript js; }}
    server_tokens {"on" if site.server_tokens else "off"};
    map $http_x_forwarded_scheme $mx_scheme {{ "" https; default $http_x_forwarded_scheme; }}
    map $http_x_forwarded_proto $mx_proto {{ "" https; default $http_x_forwarded_proto; }}
    server {{
        listen 127.0.0.1:{http};
        {name}
        {redirect}
    }}
    server {{
        listen {https_listen} ssl;
        {name}
        ssl_certificate {prefix}/cert.pem;
        ssl_certificate_key {prefix}/key.pem;
        ssl_protocols {protocols};
        {ciphers}
        {headers}
        {root_location}
        location /xas/ {{{runtime}
        }}
    }}
    {site.extra}
}}
"""


def start_nginx(
    site: NginxSite, folder: Path, app_base: Path, runtime_port: int, cert: trustme.LeafCert
) -> Nginx:
    """Write a config for `site` and start nginx with its own prefix."""
    prefix = folder / f"nginx-{free_port()}"
    prefix.mkdir()
    cert.private_key_pem.write_to_path(str(prefix / "key.pem"))
    cert.cert_chain_pems[0].write_to_path(str(prefix / "cert.pem"))
    for extra in cert.cert_chain_pems[1:] if site.send_chain else ():
        extra.write_to_path(str(prefix / "cert.pem"), append=True)
    http, https = free_port(), free_port()
    config = prefix / "nginx.conf"
    config.write_text(nginx_config(site, prefix, app_base, runtime_port, http, https))
    process = subprocess.Popen(
        [NGINX, "-p", str(prefix), "-c", str(config), "-e", str(prefix / "error.log"),
         "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for_port(https)
        wait_for_port(http)
    except TimeoutError:
        stop(process)
        log = (prefix / "error.log").read_text(errors="replace")
        raise RuntimeError(f"nginx did not start: {log}") from None
    return Nginx(http_port=http, https_port=https, process=process, prefix=prefix)


def installation(
    name: str,
    *,
    runtime_port: int | None = None,
    admin_port: int | None = None,
    root_url: str | None = None,
) -> Installation:
    """Return an installation as the host collector would describe it."""
    return Installation(
        name=name,
        app_base=f"/srv/{name}",
        settings=Settings(
            runtime_port=runtime_port,
            admin_port=admin_port,
            application_root_url=root_url,
            runtime_listen=ListenSetting(raw="127.0.0.1", addresses=("127.0.0.1",)),
        ),
    )


def audit_live(
    installations: tuple[Installation, ...] = (),
    *,
    urls: tuple[str, ...] = (),
    ca_bundle: str | None = None,
    try_defaults: bool = False,
    from_outside: str | None = None,
    limits: Limits = FAST,
    sockets: tuple[Socket, ...] = (),
) -> tuple[Snapshot, dict[tuple[str, str], Finding]]:
    """Probe like `mxguard audit` does and return the snapshot and findings by check, subject."""
    live = collect_live(
        LiveOptions(
            urls=urls,
            ca_bundle=ca_bundle,
            try_default_admin_passwords=try_defaults,
            from_outside=from_outside,
            limits=limits,
            show_progress=False,
        ),
        installations,
        sockets,
    )
    snapshot = Snapshot(
        tool_version="test",
        host="test-host",
        collected_at="2026-01-01T00:00:00Z",
        mode=Mode.LIVE,
        installations=installations,
        live=live,
    )
    report = evaluate([snapshot])
    return snapshot, {(f.check, f.subject): f for f in report.findings}
