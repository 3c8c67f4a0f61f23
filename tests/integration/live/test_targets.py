"""Which targets the live collector derives from installations, configs and sockets."""

from __future__ import annotations

import socket
from dataclasses import replace
from pathlib import Path

import pytest
from livelab import Emulator, audit_live, installation, make_app, start_emulator

from mxguard.facts import ConfigFile, Socket
from mxguard.model import Status


def test_the_configured_session_cookie_name_is_the_one_judged(
    tmp_path: Path, emulators: list[Emulator]
) -> None:
    # Given a runtime whose session cookie is renamed in its m2ee config
    emulator = start_emulator(make_app(tmp_path), arguments=("--session-cookie", "SHOPSESSION"))
    emulators.append(emulator)
    config = tmp_path / "m2ee.yaml"
    config.write_text("mxruntime:\n  com.mendix.core.SessionIdCookieName: SHOPSESSION\n")
    url = f"http://127.0.0.1:{emulator.runtime_port}/"
    app = replace(
        installation("shop", runtime_port=emulator.runtime_port, root_url=url),
        config_files=(ConfigFile(path=str(config)),),
    )

    # When its plain-HTTP site is probed
    snapshot, findings = audit_live((app,))

    # Then the probe knew the name, and the insecure session cookie is named in the finding
    assert snapshot.live is not None and snapshot.live.sites[0].session_cookie == "SHOPSESSION"
    finding = findings[("session-cookie-not-secure", f"url:{url}")]
    assert finding.status is Status.FAIL and "SHOPSESSION" in str(finding.evidence["cookies"])


@pytest.mark.skipif(not socket.has_ipv6, reason="no IPv6 on this host")
def test_a_port_bound_to_ipv6_loopback_only_is_probed_there(
    tmp_path: Path, emulators: list[Emulator]
) -> None:
    try:
        emulator = start_emulator(make_app(tmp_path), runtime_listen="::1", admin_listen="::1")
    except RuntimeError as exc:
        pytest.skip(f"::1 cannot be bound here: {exc}")
    emulators.append(emulator)
    app = installation("shop", admin_port=emulator.admin_port)
    sockets = (Socket(address="::1", port=emulator.admin_port),)

    snapshot, findings = audit_live((app,), sockets=sockets)

    assert snapshot.live is not None
    (probe,) = snapshot.live.admin
    assert probe.address == "::1" and not probe.error
    finding = findings[("admin-api-accepts-unauthenticated", "app:shop")]
    assert finding.status is Status.PASS
    assert finding.evidence["address"] == f"[::1]:{emulator.admin_port}"
