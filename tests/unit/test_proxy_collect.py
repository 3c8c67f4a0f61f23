"""The proxy collector in a `--root` tree: discovery, TLS files, content sniffing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import trustme

from mxguard.collect.proxy import ProxyOptions, collect_proxy, detect_server


@pytest.mark.parametrize(
    ("text", "path", "server"),
    [
        ("events {}\nhttp { server { listen 80; } }\n", "nginx.conf", "nginx"),
        ("server {\n listen 80;\n}\n", "site", "nginx"),
        ("<VirtualHost *:80>\n</VirtualHost>\n", "x.conf", "apache"),
        ("ServerRoot /etc/httpd\nListen 80\n", "httpd.conf", "apache"),
        ('<?xml version="1.0"?>\n<configuration/>', "web.config", "iis"),
        ("<configuration></configuration>", "site.xml", "iis"),
        ("# configuration file /etc/nginx/nginx.conf:\nevents {}\n", "dump.txt", "nginx-dump"),
    ],
)
def test_servers_are_told_apart_by_content(text: str, path: str, server: str) -> None:
    assert detect_server(text, path) == server


def test_a_root_tree_is_read_inside_the_tree(tmp_path: Path) -> None:
    # Given a tree with nginx's usual main file and TLS files named by host paths
    etc = tmp_path / "etc" / "nginx"
    etc.mkdir(parents=True)
    ca = trustme.CA()
    leaf = ca.issue_cert("shop.example.com")
    (tmp_path / "etc" / "ssl").mkdir()
    leaf.cert_chain_pems[0].write_to_path(str(tmp_path / "etc" / "ssl" / "shop.crt"))
    leaf.private_key_pem.write_to_path(str(tmp_path / "etc" / "ssl" / "shop.key"))
    os.chmod(tmp_path / "etc" / "ssl" / "shop.key", 0o640)
    (etc / "nginx.conf").write_text(
        "user www-data;\nevents {}\nhttp { server { listen 443 ssl; server_name shop.example.com;\n"
        "ssl_certificate /etc/ssl/shop.crt; ssl_certificate_key /etc/ssl/shop.key; } }\n",
        encoding="utf-8",
    )

    facts = collect_proxy(ProxyOptions(root=str(tmp_path)))

    assert [c.path for c in facts.configs] == ["/etc/nginx/nginx.conf"]
    [tls] = facts.tls_files
    assert tls.certificate_file == "/etc/ssl/shop.crt"
    assert tls.status == "ok" and tls.names == ("shop.example.com",)
    assert tls.key_matches is True and tls.key_mode == 0o640
    assert tls.chain_status == "untrusted"  # trustme's CA is in no system store


def test_nothing_found_says_where_it_looked(tmp_path: Path) -> None:
    facts = collect_proxy(ProxyOptions(root=str(tmp_path)))
    assert facts.configs == ()
    assert "/etc/nginx/nginx.conf" in facts.reason and "/etc/apache2/apache2.conf" in facts.reason


def test_fifos_never_hang_the_collector(tmp_path: Path) -> None:
    # Given a hostile tree whose include and certificate are named pipes
    etc = tmp_path / "etc" / "apache2"
    etc.mkdir(parents=True)
    os.mkfifo(etc / "pipe.conf")
    (tmp_path / "etc" / "ssl").mkdir()
    os.mkfifo(tmp_path / "etc" / "ssl" / "shop.crt")
    (etc / "apache2.conf").write_text(
        "Include pipe.conf\n<VirtualHost *:443>\nSSLEngine on\n"
        "SSLCertificateFile /etc/ssl/shop.crt\n</VirtualHost>\n",
        encoding="utf-8",
    )

    facts = collect_proxy(ProxyOptions(root=str(tmp_path)))

    [config] = facts.configs
    assert any("not a regular file" in p.message for p in config.problems)
    [tls] = facts.tls_files
    assert tls.status == "unreadable"
