"""Real nginx with TLS in front of real emulated runtimes: one setup right, each wrong one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import trustme
from livelab import (
    Emulator,
    Nginx,
    NginxSite,
    audit_live,
    installation,
    make_app,
    start_emulator,
    start_nginx,
)

from mxguard.cli import main
from mxguard.model import Finding, Status

LIVE_CHECKS = (
    "site-does-not-answer",
    "tls-handshake-fails",
    "live-tls-protocol-below-1-2-accepted",
    "live-tls-certificate-untrusted",
    "live-tls-certificate-name-mismatch",
    "live-tls-certificate-expired",
    "tls-certificate-key-weak",
    "http-not-redirected-to-https",
    "live-hsts-missing-or-short",
    "session-cookie-not-secure",
    "cookie-not-httponly",
    "cookie-samesite-missing",
    "set-cookie-malformed",
    "forwarded-scheme-spoofable",
    "static-content-served-by-runtime",
    "live-csp-missing",
    "live-csp-weak",
    "live-nosniff-missing",
    "live-framing-not-denied",
    "live-referrer-policy-missing",
    "server-header-leaks-version",
)


def _setup(
    site: NginxSite,
    tmp_path: Path,
    cert: trustme.LeafCert,
    emulators: list[Emulator],
    nginxes: list[Nginx],
) -> tuple[Emulator, Nginx]:
    emulator = start_emulator(make_app(tmp_path))
    emulators.append(emulator)
    server = start_nginx(site, tmp_path, emulator.app_base, emulator.runtime_port, cert)
    nginxes.append(server)
    return emulator, server


def _audit(
    emulator: Emulator, server: Nginx, ca_bundle: str, *, try_defaults: bool = False
) -> dict[tuple[str, str], Finding]:
    app = installation(
        "shop",
        runtime_port=emulator.runtime_port,
        admin_port=emulator.admin_port,
        root_url=server.https_url,
    )
    _, findings = audit_live(
        (app,), urls=(server.http_url,), ca_bundle=ca_bundle, try_defaults=try_defaults
    )
    return findings


def _fails(findings: dict[tuple[str, str], Finding], check: str, subject: str) -> Finding:
    finding = findings[(check, subject)]
    assert finding.status is Status.FAIL, finding
    return finding


def test_the_right_setup_passes_every_live_check(
    tmp_path: Path,
    loopback_cert: trustme.LeafCert,
    ca_bundle: str,
    emulators: list[Emulator],
    nginxes: list[Nginx],
) -> None:
    # Given nginx doing everything right in front of a runtime on loopback
    emulator, server = _setup(NginxSite(), tmp_path, loopback_cert, emulators, nginxes)

    # When the site is probed from its http:// address, trusting the test CA
    findings = _audit(emulator, server, ca_bundle, try_defaults=True)

    # Then every live check passes for it
    subject = f"url:{server.http_url}"
    for check in LIVE_CHECKS:
        finding = findings[(check, subject)]
        assert finding.status is Status.PASS, finding
    assert findings[("admin-api-accepts-unauthenticated", "app:shop")].status is Status.PASS
    assert findings[("admin-api-accepts-default-password", "app:shop")].status is Status.PASS


def test_a_proxy_that_does_not_set_the_scheme_header_leaves_cookies_insecure(
    tmp_path: Path,
    loopback_cert: trustme.LeafCert,
    ca_bundle: str,
    emulators: list[Emulator],
    nginxes: list[Nginx],
) -> None:
    site = NginxSite(scheme_header="none")
    emulator, server = _setup(site, tmp_path, loopback_cert, emulators, nginxes)

    findings = _audit(emulator, server, ca_bundle)

    finding = _fails(findings, "session-cookie-not-secure", f"url:{server.http_url}")
    assert server.https_url in finding.message
    assert "XASSESSIONID" in finding.message


def test_a_proxy_that_passes_the_clients_scheme_header_through_is_spoofable(
    tmp_path: Path,
    loopback_cert: trustme.LeafCert,
    ca_bundle: str,
    emulators: list[Emulator],
    nginxes: list[Nginx],
) -> None:
    site = NginxSite(scheme_header="passthrough")
    emulator, server = _setup(site, tmp_path, loopback_cert, emulators, nginxes)

    findings = _audit(emulator, server, ca_bundle)

    subject = f"url:{server.http_url}"
    assert findings[("session-cookie-not-secure", subject)].status is Status.PASS
    finding = _fails(findings, "forwarded-scheme-spoofable", subject)
    assert finding.evidence["url"] == server.https_url


def test_a_proxy_that_forwards_everything_lets_the_runtime_serve_static_files(
    tmp_path: Path,
    loopback_cert: trustme.LeafCert,
    ca_bundle: str,
    emulators: list[Emulator],
    nginxes: list[Nginx],
) -> None:
    site = NginxSite(forward_all=True)
    emulator, server = _setup(site, tmp_path, loopback_cert, emulators, nginxes)

    findings = _audit(emulator, server, ca_bundle)

    finding = _fails(findings, "static-content-served-by-runtime", f"url:{server.http_url}")
    assert f"{server.https_url}index.html" in finding.message


def test_missing_security_headers_each_fail(
    tmp_path: Path,
    loopback_cert: trustme.LeafCert,
    ca_bundle: str,
    emulators: list[Emulator],
    nginxes: list[Nginx],
) -> None:
    site = NginxSite(security_headers=False, server_tokens=True)
    emulator, server = _setup(site, tmp_path, loopback_cert, emulators, nginxes)

    findings = _audit(emulator, server, ca_bundle)

    subject = f"url:{server.http_url}"
    for check in (
        "live-csp-missing",
        "live-nosniff-missing",
        "live-framing-not-denied",
        "live-hsts-missing-or-short",
    ):
        assert server.https_url in _fails(findings, check, subject).message
    assert findings[("live-referrer-policy-missing", subject)].status is Status.WARN
    leak = findings[("server-header-leaks-version", subject)]
    assert leak.status is Status.WARN and "nginx/" in leak.message
    # The dynamic endpoint is judged too, not only the static page.
    assert f"{server.https_url}xas/" in findings[("live-csp-missing", subject)].message


def test_weak_tls_accepts_outdated_protocols(
    tmp_path: Path,
    loopback_cert: trustme.LeafCert,
    ca_bundle: str,
    emulators: list[Emulator],
    nginxes: list[Nginx],
) -> None:
    site = NginxSite(weak_tls=True)
    emulator, server = _setup(site, tmp_path, loopback_cert, emulators, nginxes)

    findings = _audit(emulator, server, ca_bundle)

    finding = findings[("live-tls-protocol-below-1-2-accepted", f"url:{server.http_url}")]
    if finding.status is Status.SKIP:
        pytest.skip(f"the local TLS library cannot test old protocols: {finding.message}")
    assert finding.status is Status.FAIL, finding
    assert "TLSv1" in finding.message and server.https_url in finding.message
    assert json.dumps(finding.evidence["protocols"])  # every version's verdict is shown


def test_an_admin_port_with_a_default_password_is_critical(
    tmp_path: Path,
    loopback_cert: trustme.LeafCert,
    ca_bundle: str,
    emulators: list[Emulator],
    nginxes: list[Nginx],
) -> None:
    # Given a runtime whose admin port listens everywhere with the password "1"
    emulator = start_emulator(make_app(tmp_path), admin_pass="1", admin_listen="*")
    emulators.append(emulator)
    server = start_nginx(
        NginxSite(), tmp_path, emulator.app_base, emulator.runtime_port, loopback_cert
    )
    nginxes.append(server)

    # When probed on the host with the default passwords
    findings = _audit(emulator, server, ca_bundle, try_defaults=True)

    # Then the default password is found (over loopback), and strangers are still refused
    finding = _fails(findings, "admin-api-accepts-default-password", "app:shop")
    assert finding.severity.value == "critical"
    assert finding.evidence["address"] == f"127.0.0.1:{emulator.admin_port}"
    assert findings[("admin-api-accepts-unauthenticated", "app:shop")].status is Status.PASS


def test_without_the_flag_no_password_is_tried(tmp_path: Path, emulators: list[Emulator]) -> None:
    emulator = start_emulator(make_app(tmp_path), admin_pass="1")
    emulators.append(emulator)
    app = installation("shop", admin_port=emulator.admin_port)

    snapshot, findings = audit_live((app,))

    assert snapshot.live is not None and snapshot.live.admin[0].defaults_tried == 0
    assert findings[("admin-api-accepts-default-password", "host:test-host")].status is Status.SKIP


def test_the_command_line_probes_the_sites_of_the_named_config(
    tmp_path: Path,
    loopback_cert: trustme.LeafCert,
    ca_bundle: str,
    emulators: list[Emulator],
    nginxes: list[Nginx],
) -> None:
    # Given the right setup and its m2ee config naming the site's root URL
    emulator, server = _setup(NginxSite(), tmp_path, loopback_cert, emulators, nginxes)
    config = tmp_path / "m2ee.yaml"
    config.write_text(
        f"m2ee:\n  app_name: shop\n  app_base: {emulator.app_base}\n"
        f"  runtime_port: {emulator.runtime_port}\n  admin_port: {emulator.admin_port}\n"
        '  admin_listen_addresses: "127.0.0.1"\n  runtime_listen_addresses: "127.0.0.1"\n'
        f"mxruntime:\n  ApplicationRootUrl: {server.https_url}\n"
    )
    report = tmp_path / "report.json"

    # When mxguard audits the host with that config
    main(
        ["audit", "--config", str(config), "--ca-bundle", ca_bundle, "--format", "json",
         "--output", str(report)]
    )  # fmt: skip

    # Then the root URL was probed through the engine and judged like the --url form
    findings = json.loads(report.read_text())["findings"]
    live = {f["check"]: f for f in findings if f["subject"] == f"url:{server.https_url}"}
    assert live["static-content-served-by-runtime"]["status"] == "pass"
    assert live["session-cookie-not-secure"]["status"] == "pass"
    assert live["live-tls-certificate-untrusted"]["status"] == "pass"
    assert live["http-not-redirected-to-https"]["status"] == "skip"  # no http:// form known


@pytest.mark.parametrize("send_chain", [True, False], ids=["full-chain", "leaf-only"])
def test_a_certificate_sent_without_its_intermediate_is_an_incomplete_chain(
    send_chain: bool,
    tmp_path: Path,
    ca: trustme.CA,
    ca_bundle: str,
    emulators: list[Emulator],
    nginxes: list[Nginx],
) -> None:
    # Given a certificate issued by an intermediate of the test CA, which nginx sends with
    # or without that intermediate
    leaf = ca.create_child_ca().issue_cert("127.0.0.1", "localhost")
    site = NginxSite(send_chain=send_chain)
    emulator, server = _setup(site, tmp_path, leaf, emulators, nginxes)

    # When the site is probed, trusting only the root
    findings = _audit(emulator, server, ca_bundle)

    # Then the chain is listed as sent, and a missing intermediate is named as the fault
    finding = findings[("live-tls-certificate-untrusted", f"url:{server.http_url}")]
    chain = finding.evidence["chain"]
    assert isinstance(chain, list)
    if send_chain:
        assert finding.status is Status.PASS, finding
        assert len(chain) == 2
    else:
        assert finding.status is Status.FAIL, finding
        assert len(chain) == 1
        assert "incomplete chain: the server sends only its own certificate" in finding.message
