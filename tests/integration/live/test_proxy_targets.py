"""The proxy's own TLS sites as live targets: probed on loopback under their server name."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import trustme
from livelab import (
    FAST,
    Emulator,
    Nginx,
    NginxSite,
    free_port,
    make_app,
    nginx_config,
    start_emulator,
    start_nginx,
)

from mxguard.cli import main
from mxguard.engine import AuditOptions, collect, evaluate
from mxguard.facts import Mode, Snapshot
from mxguard.live.client import Gate
from mxguard.live.probes import follow_redirects
from mxguard.model import Finding, Status

NAME = "shop.example.com"  # a real name that resolves elsewhere: it must never be looked up
OTHER = "other.example.com"


@pytest.fixture(scope="module")
def named_cert(ca: trustme.CA) -> trustme.LeafCert:
    """A certificate for the sites' server names (and nothing on loopback)."""
    return ca.issue_cert(NAME, OTHER)


def _untied_site(cert_dir: Path, port: int) -> str:
    # A TLS site that proxies to no known runtime: it must not be probed.
    return f"""server {{
        listen 127.0.0.1:{port} ssl;
        server_name {OTHER};
        ssl_certificate {cert_dir}/cert.pem;
        ssl_certificate_key {cert_dir}/key.pem;
        location / {{ return 200 "not a Mendix app"; }}
    }}"""


def _setup(
    site: NginxSite,
    tmp_path: Path,
    cert: trustme.LeafCert,
    emulators: list[Emulator],
    nginxes: list[Nginx],
) -> tuple[Emulator, Nginx, Path, int]:
    emulator = start_emulator(make_app(tmp_path))
    emulators.append(emulator)
    cert_dir = tmp_path / "other-cert"
    cert_dir.mkdir()
    cert.private_key_pem.write_to_path(str(cert_dir / "key.pem"))
    cert.cert_chain_pems[0].write_to_path(str(cert_dir / "cert.pem"))
    other = free_port()
    site = replace(site, extra=_untied_site(cert_dir, other))
    server = start_nginx(site, tmp_path, emulator.app_base, emulator.runtime_port, cert)
    nginxes.append(server)
    m2ee = tmp_path / "m2ee.yaml"
    m2ee.write_text(
        f"m2ee:\n  app_name: shop\n  app_base: {emulator.app_base}\n"
        f"  runtime_port: {emulator.runtime_port}\n  admin_port: {emulator.admin_port}\n"
        '  admin_listen_addresses: "127.0.0.1"\n  runtime_listen_addresses: "127.0.0.1"\n'
    )
    return emulator, server, m2ee, other


def _cli_audit(m2ee: Path, server: Nginx, ca_bundle: str, report: Path) -> list[dict[str, Any]]:
    main(
        ["audit", "--config", str(m2ee), "--proxy-config", str(server.prefix / "nginx.conf"),
         "--ca-bundle", ca_bundle, "--format", "json", "--output", str(report)]
    )  # fmt: skip
    findings: list[dict[str, Any]] = json.loads(report.read_text())["findings"]
    return findings


def _by_check(findings: list[dict[str, Any]], url: str) -> dict[str, dict[str, Any]]:
    return {f["check"]: f for f in findings if f["subject"] == f"url:{url}"}


def test_a_tls_site_serving_the_app_is_probed_on_loopback_under_its_name(
    tmp_path: Path,
    named_cert: trustme.LeafCert,
    ca_bundle: str,
    emulators: list[Emulator],
    nginxes: list[Nginx],
) -> None:
    # Given nginx with a TLS site named shop.example.com in front of the app, and a second
    # TLS site that fronts no known app
    _, server, m2ee, other = _setup(
        NginxSite(server_name=NAME), tmp_path, named_cert, emulators, nginxes
    )

    # When the host is audited with the app's config and the proxy config, without --url
    findings = _cli_audit(m2ee, server, ca_bundle, tmp_path / "report.json")

    # Then the site was probed under its name, over loopback, and judged right
    url = f"https://{NAME}:{server.https_port}/"
    live = _by_check(findings, url)
    for check in (
        "live-tls-protocol-below-1-2-accepted",
        "live-tls-certificate-untrusted",
        "live-tls-certificate-name-mismatch",
        "session-cookie-not-secure",
        "forwarded-scheme-spoofable",
        "static-content-served-by-runtime",
        "live-hsts-missing-or-short",
        "http-not-redirected-to-https",  # from the plain listener of the same name
    ):
        assert live[check]["status"] == "pass", live[check]
        assert live[check]["evidence"]["connected_to"] == f"127.0.0.1:{server.https_port}"
        origin = live[check]["evidence"]["origin"]
        assert origin.startswith(f"proxy site {server.prefix / 'nginx.conf'}:"), origin
    # And the site tied to no app was left alone
    assert not [f for f in findings if OTHER in f["subject"] or f":{other}" in f["subject"]]


@pytest.mark.parametrize(
    ("site", "failing"),
    [
        (
            NginxSite(server_name=NAME, weak_tls=True, scheme_header="none", redirect=False),
            (
                "live-tls-protocol-below-1-2-accepted",
                "session-cookie-not-secure",
                "http-not-redirected-to-https",
            ),
        ),
        (NginxSite(server_name=NAME, scheme_header="passthrough"), ("forwarded-scheme-spoofable",)),
    ],
    ids=["old-tls-and-no-scheme-header", "client-scheme-passed-through"],
)
def test_a_wrong_proxy_site_fails_the_live_checks_under_its_name(
    site: NginxSite,
    failing: tuple[str, ...],
    tmp_path: Path,
    named_cert: trustme.LeafCert,
    ca_bundle: str,
    emulators: list[Emulator],
    nginxes: list[Nginx],
) -> None:
    # Given a proxy site with one mistake
    _, server, m2ee, _ = _setup(site, tmp_path, named_cert, emulators, nginxes)

    # When the host is audited without --url
    findings = _cli_audit(m2ee, server, ca_bundle, tmp_path / "report.json")

    # Then the mistake is found on the site's name, reached on loopback
    live = _by_check(findings, f"https://{NAME}:{server.https_port}/")
    for check in failing:
        assert live[check]["status"] == "fail", live[check]
        assert live[check]["evidence"]["connected_to"] == f"127.0.0.1:{server.https_port}"
    assert live["live-tls-certificate-untrusted"]["status"] == "pass"


def _is_loopback(host: object) -> bool:
    try:
        return ipaddress.ip_address(str(host).split("%", 1)[0]).is_loopback
    except ValueError:
        return str(host).lower() == "localhost"


@pytest.fixture
def network_guard(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, list[object]]]:
    """Record every name lookup and connection; refuse those that are not loopback."""
    # Other installations on a shared machine may be discovered too; their names are
    # theirs, so tests assert on this test's names and on connections.
    seen: dict[str, list[object]] = {"lookups": [], "refused": [], "connects": []}
    real_getaddrinfo = socket.getaddrinfo
    real_connect = socket.socket.connect

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        seen["lookups"].append(host)
        if host is not None and not _is_loopback(host):
            raise socket.gaierror(socket.EAI_NONAME, f"the test refuses to resolve {host}")
        return real_getaddrinfo(host, *args, **kwargs)

    def connect(self: socket.socket, address: Any) -> None:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            seen["connects"].append(address)
            if not _is_loopback(address[0]):
                seen["refused"].append(address)
                raise OSError(f"the test refuses to connect to {address}")
        real_connect(self, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    yield seen


def _forget(seen: dict[str, list[object]]) -> None:
    for recorded in seen.values():
        recorded.clear()


def _findings(snapshot: Snapshot) -> dict[tuple[str, str], Finding]:
    return {(f.check, f.subject): f for f in evaluate([snapshot]).findings}


def test_a_wildcard_listen_is_reached_on_ipv4_loopback_and_the_name_is_never_resolved(
    tmp_path: Path,
    named_cert: trustme.LeafCert,
    ca_bundle: str,
    emulators: list[Emulator],
    nginxes: list[Nginx],
    network_guard: dict[str, list[object]],
) -> None:
    # Given a TLS site that listens on every address under a name that resolves elsewhere
    _, server, m2ee, _ = _setup(
        NginxSite(server_name=NAME, https_address="*"), tmp_path, named_cert, emulators, nginxes
    )
    _forget(network_guard)  # the setup's own readiness checks do not count

    # When the host is audited in this process, with lookups and connections watched
    snapshot = collect(
        AuditOptions(
            configs=(str(m2ee),),
            proxy_configs=(str(server.prefix / "nginx.conf"),),
            ca_bundle=ca_bundle,
            probe_limits=FAST,
            show_progress=False,
        )
    )

    # Then nothing was resolved or connected to beyond loopback
    assert NAME not in network_guard["lookups"] and OTHER not in network_guard["lookups"]
    assert network_guard["refused"] == []
    # And the site was reached at 127.0.0.1, with its name in SNI and Host only
    assert snapshot.live is not None
    url = f"https://{NAME}:{server.https_port}/"
    (probe,) = [s for s in snapshot.live.sites if s.url == url]
    assert probe.connected_to == f"127.0.0.1:{server.https_port}"
    assert probe.tls is not None and probe.tls.certificate is not None
    assert probe.tls.certificate.is_hostname_match and probe.tls.certificate.is_trusted
    findings = _findings(snapshot)
    assert findings[("session-cookie-not-secure", f"url:{url}")].status is Status.PASS
    connected = [tuple(address[:2]) for address in network_guard["connects"]]  # type: ignore[index]
    assert ("127.0.0.1", server.https_port) in connected


def test_from_outside_no_proxy_site_is_probed(
    tmp_path: Path,
    named_cert: trustme.LeafCert,
    emulators: list[Emulator],
    nginxes: list[Nginx],
    network_guard: dict[str, list[object]],
) -> None:
    # Given a proxy site that serves the app
    _, server, m2ee, _ = _setup(
        NginxSite(server_name=NAME), tmp_path, named_cert, emulators, nginxes
    )

    _forget(network_guard)

    # When the app is probed from outside (here: the loopback address as the other host)
    snapshot = collect(
        AuditOptions(
            configs=(str(m2ee),),
            proxy_configs=(str(server.prefix / "nginx.conf"),),
            from_outside="127.0.0.1",
            probe_limits=FAST,
            show_progress=False,
        )
    )

    # Then only the ports were probed: from outside, the proxy's sites are not targets
    assert snapshot.live is not None and snapshot.live.ports
    assert snapshot.live.sites == ()
    assert network_guard["refused"] == []


def test_an_offline_tree_probes_no_proxy_site(
    tmp_path: Path,
    named_cert: trustme.LeafCert,
    emulators: list[Emulator],
    nginxes: list[Nginx],
    network_guard: dict[str, list[object]],
) -> None:
    # Given a proxy site that serves the app, and an offline tree to audit
    _, server, m2ee, _ = _setup(
        NginxSite(server_name=NAME), tmp_path, named_cert, emulators, nginxes
    )
    tree = tmp_path / "tree"
    tree.mkdir(mode=0o755)
    _forget(network_guard)

    # When the tree is audited with --root
    snapshot = collect(
        AuditOptions(
            root=str(tree),
            configs=(str(m2ee),),
            proxy_configs=(str(server.prefix / "nginx.conf"),),
            show_progress=False,
        )
    )

    # Then the proxy was read, but nothing was probed and no connection was made
    assert snapshot.mode is Mode.OFFLINE and snapshot.live is None
    assert snapshot.proxy is not None and any(c.sites for c in snapshot.proxy.configs)
    assert network_guard["connects"] == []


def test_redirects_on_the_name_stay_on_loopback_and_others_are_not_followed(
    tmp_path: Path,
    named_cert: trustme.LeafCert,
    emulators: list[Emulator],
    nginxes: list[Nginx],
    network_guard: dict[str, list[object]],
) -> None:
    # Given the site's plain listener, which redirects to https:// on the same name, and
    # one that sends users to another host
    away = free_port()
    emulator = start_emulator(make_app(tmp_path))
    emulators.append(emulator)
    leaving = f"""server {{
        listen 127.0.0.1:{away};
        server_name {NAME};
        return 301 https://login.example.net/start;
    }}"""
    site = NginxSite(server_name=NAME, extra=leaving)
    server = start_nginx(site, tmp_path, emulator.app_base, emulator.runtime_port, named_cert)
    nginxes.append(server)
    _forget(network_guard)
    gate = Gate(FAST)

    # When both are followed with the loopback address to connect to
    home, home_error, home_elsewhere = asyncio.run(
        follow_redirects(
            f"http://{NAME}:{server.http_port}/", limits=FAST, gate=gate, connect_to="127.0.0.1"
        )
    )
    gone, gone_error, gone_elsewhere = asyncio.run(
        follow_redirects(f"http://{NAME}:{away}/", limits=FAST, gate=gate, connect_to="127.0.0.1")
    )

    # Then the same name was followed to https:// over loopback
    assert [r.status for r in home] == [301, 200] and not home_error and not home_elsewhere
    assert home[-1].url == f"https://{NAME}:{server.https_port}/"
    # And the other host was recorded, not followed, not even looked up
    assert [r.status for r in gone] == [301] and not gone_error
    assert gone_elsewhere == "https://login.example.net/start"
    assert network_guard["refused"] == [] and NAME not in network_guard["lookups"]


def test_headers_the_running_proxy_sends_agree_with_its_configuration(
    tmp_path: Path,
    named_cert: trustme.LeafCert,
    ca_bundle: str,
    emulators: list[Emulator],
    nginxes: list[Nginx],
) -> None:
    # Given nginx running the very configuration that is audited
    _, server, m2ee, _ = _setup(
        NginxSite(server_name=NAME), tmp_path, named_cert, emulators, nginxes
    )

    # When the host is audited
    findings = _cli_audit(m2ee, server, ca_bundle, tmp_path / "report.json")

    # Then every security header the route adds arrived on each page and /xas/ answer
    drift = _by_check(findings, f"https://{NAME}:{server.https_port}/")[
        "live-headers-differ-from-config"
    ]
    assert drift["status"] == "pass", drift
    assert drift["evidence"]["compared"] >= 10  # five headers on / and on /xas/ at least


def test_a_configuration_edited_but_never_reloaded_differs_from_the_live_site(
    tmp_path: Path,
    named_cert: trustme.LeafCert,
    ca_bundle: str,
    emulators: list[Emulator],
    nginxes: list[Nginx],
) -> None:
    # Given nginx started without security headers, whose file was then fixed (the headers
    # added) but never reloaded
    site = NginxSite(server_name=NAME, security_headers=False)
    emulator, server, m2ee, _ = _setup(site, tmp_path, named_cert, emulators, nginxes)
    config = server.prefix / "nginx.conf"
    fixed = nginx_config(
        NginxSite(server_name=NAME, security_headers=True, extra=_untied_site(tmp_path, 1)),
        server.prefix,
        emulator.app_base,
        emulator.runtime_port,
        server.http_port,
        server.https_port,
    )
    config.write_text(fixed)

    # When the host is audited
    findings = _cli_audit(m2ee, server, ca_bundle, tmp_path / "report.json")

    # Then the configuration alone passes, the live site fails, and the drift says why
    url = f"https://{NAME}:{server.https_port}/"
    live = _by_check(findings, url)
    assert live["live-hsts-missing-or-short"]["status"] == "fail"
    configured = [f for f in findings if f["check"] == "hsts-missing-or-short"]
    assert configured and all(f["status"] == "pass" for f in configured)
    drift = live["live-headers-differ-from-config"]
    assert drift["status"] == "fail", drift
    lines = config.read_text().splitlines()
    assert "add_header Content-Security-Policy" in lines[drift["evidence"]["line"] - 1]
    said = "\n".join(drift["evidence"]["differences"])
    assert "/ (200): Strict-Transport-Security is configured" in said
    assert "/xas/ (200): Content-Security-Policy is configured" in said
    assert drift["evidence"]["connected_to"] == f"127.0.0.1:{server.https_port}"


def test_a_header_value_changed_in_the_file_only_is_shown_both_ways(
    tmp_path: Path,
    named_cert: trustme.LeafCert,
    ca_bundle: str,
    emulators: list[Emulator],
    nginxes: list[Nginx],
) -> None:
    # Given nginx sending X-Frame-Options DENY, its file since changed to SAMEORIGIN
    _, server, m2ee, _ = _setup(
        NginxSite(server_name=NAME), tmp_path, named_cert, emulators, nginxes
    )
    config = server.prefix / "nginx.conf"
    config.write_text(config.read_text().replace('"DENY"', '"SAMEORIGIN"'))

    # When the host is audited
    findings = _cli_audit(m2ee, server, ca_bundle, tmp_path / "report.json")

    # Then only that header differs, with both values and the line that sets it
    drift = _by_check(findings, f"https://{NAME}:{server.https_port}/")
    finding = drift["live-headers-differ-from-config"]
    assert finding["status"] == "fail", finding
    assert {d.split(": ", 1)[1] for d in finding["evidence"]["differences"]} == {
        f"X-Frame-Options is configured as 'SAMEORIGIN' ({config}:{finding['evidence']['line']})"
        " but arrived as 'DENY'"
    }
