"""Discovery takes nginx's config from the running master process; `nginx -T` output is read."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from proxylab import App, Findings, TlsFiles

from mxguard.collect.proxy import ProxyOptions, collect_proxy, detect_server


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def running_nginx(tmp_path: Path) -> Iterator[Path]:
    """Start a real nginx master on a free loopback port; stop it by its own pid."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.path.exists(nginx):
        pytest.skip("nginx is not installed (./dev setup installs nginx-light)")
    prefix = tmp_path / "running"
    (prefix / "logs").mkdir(parents=True)
    port = free_port()
    config = prefix / "odd-name.conf"
    config.write_text(
        f"pid {prefix}/nginx.pid;\nerror_log {prefix}/error.log;\nevents {{}}\n"
        f"http {{ access_log off; server {{ listen 127.0.0.1:{port}; server_name discovered; "
        f"location / {{ return 204; }} }} }}\n",
        encoding="utf-8",
    )
    process = subprocess.Popen(
        [nginx, "-c", str(config), "-p", str(prefix), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as client:
                if client.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        yield config
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)


def test_the_running_masters_config_is_found(running_nginx: Path) -> None:
    # Given an nginx master started with -c on a file no usual path names
    facts = collect_proxy(ProxyOptions(discover=True))

    # Then discovery reads that file, as the process shows it
    paths = [config.path for config in facts.configs]
    assert str(running_nginx) in paths
    config = next(c for c in facts.configs if c.path == str(running_nginx))
    assert [site.name for site in config.sites] == [f"discovered:{config.sites[0].listens[0].port}"]


def test_nginx_dump_output_is_read_with_original_paths_and_lines(
    nginx_config: Callable[..., Path],
    app: App,
    tls: TlsFiles,
    tmp_path: Path,
    audit: Callable[..., Findings],
) -> None:
    # Given the output of `nginx -T` for the inheritance traps, saved to a file
    config = nginx_config("wrong-inheritance.conf")
    dump = subprocess.run(
        ["nginx", "-T", "-q", "-c", str(config), "-p", str(config.parent)],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    saved = tmp_path / "nginx-T.txt"
    saved.write_text(dump, encoding="utf-8")
    assert detect_server(dump, str(saved)) == "nginx-dump"

    # When it is audited
    found = audit("--config", app.m2ee, "--proxy-config", str(saved), "--ca-bundle", tls.ca)

    # Then the findings name the original file and line
    missing = [
        f
        for f in found.of("forwarded-scheme-header-missing", status="fail")
        if f["subject"] == "route:shop.example.com:443 /xas/"
    ]
    assert missing and missing[0]["evidence"]["file"] == str(config)
    line = config.read_text().splitlines()[missing[0]["evidence"]["line"] - 1]
    assert "location /xas/" in line
