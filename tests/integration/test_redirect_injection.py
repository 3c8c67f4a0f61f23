"""A redirect built from nginx's decoded path splits the response; httpd's does not."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from proxylab import (
    free_port,
    judge,
    running_httpd,
    running_nginx,
    write_httpd_conf,
    write_nginx_conf,
)

from mxguard.proxy.apache import parse_apache
from mxguard.proxy.model import ProxyConfig
from mxguard.proxy.nginx import parse_nginx

FORGED = (
    b"GET /x%0d%0aSet-Cookie:%20forged=1 HTTP/1.1\r\nHost: a.example\r\nConnection: close\r\n\r\n"
)


def _raw_answer(port: int) -> list[str]:
    """Send the forged request and return the header lines of the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
        connection.sendall(FORGED)
        data = b""
        while chunk := connection.recv(4096):
            data += chunk
    head = data.split(b"\r\n\r\n", 1)[0].decode(errors="replace")
    return head.split("\r\n")


def _verdict(config: ProxyConfig) -> str:
    [status] = {f.status.value for f in judge(config, "redirect-header-injection")}
    return status


@pytest.mark.parametrize(
    ("target", "splits"),
    [("https://$host$uri", True), ("https://$host$request_uri", False)],
)
def test_nginx_splits_the_answer_exactly_when_the_check_fails(
    target: str, splits: bool, tmp_path: Path
) -> None:
    # Given the plain-HTTP redirect written with the decoded or the raw path
    port = free_port()
    config = write_nginx_conf(
        tmp_path,
        f"    server {{ listen 127.0.0.1:{port}; server_name a.example;\n"
        f"    return 301 {target};\n}}\n",
    )

    # When a client sends an encoded line break followed by a header of its own
    with running_nginx(config, tmp_path, port):
        lines = _raw_answer(port)

    # Then the header reaches the client exactly when mxguard fails the redirect
    assert ("Set-Cookie: forged=1" in lines) is splits
    assert _verdict(parse_nginx(str(config))) == ("fail" if splits else "pass")


def test_httpd_escapes_what_it_copies_into_a_redirect(tmp_path: Path) -> None:
    # Given httpd redirecting with the captured path, the way most Apache configs do
    port = free_port()
    config = write_httpd_conf(
        tmp_path,
        port,
        "    RewriteEngine On\n    RewriteRule ^(.*)$ https://a.example$1 [R=301,L]\n",
        ("rewrite",),
    )

    with running_httpd(config, tmp_path, port):
        lines = _raw_answer(port)

    # Then the line break stays escaped, as the check's pass for httpd says
    assert not any(line.startswith("Set-Cookie") for line in lines)
    assert any("%0d%0a" in line.lower() for line in lines if line.startswith("Location"))
    assert _verdict(parse_apache(str(config))) == "pass"
