"""The listen-address rules of §6 and §8, from facts alone."""

from __future__ import annotations

from dataclasses import replace

import pytest

from mxguard.checks.s06_network import runtime_port_listens_beyond_loopback
from mxguard.checks.s08_admin import (
    admin_listen_config_contradicts_socket,
    monitoring_password_weak,
)
from mxguard.collect.host import listen_setting
from mxguard.collect.passwords import describe_password
from mxguard.facts import (
    Installation,
    Mode,
    Process,
    Settings,
    Snapshot,
    Socket,
    Source,
    Visibility,
)
from mxguard.model import Status


def snapshot(raw: object, version: str | None, **settings: object) -> Snapshot:
    installation = Installation(
        name="app",
        app_base="/srv/app",
        runtime_version=version,
        settings=Settings(runtime_listen=listen_setting(raw, Source(file="m", line=9)), **settings),  # type: ignore[arg-type]
    )
    return host_with(installation, mode=Mode.OFFLINE)


def host_with(installation: Installation, **fields: object) -> Snapshot:
    """Return a snapshot of one host holding `installation`."""
    base = Snapshot(tool_version="t", host="h", collected_at="now", mode=Mode.LIVE)
    return replace(base, installations=(installation,), **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "version", "expected"),
    [
        ("*", "9.24.0", Status.FAIL),
        ("0.0.0.0", "9.24.0", Status.FAIL),
        ("::", "9.24.0", Status.FAIL),
        ("127.0.0.1,::1", "9.24.0", Status.PASS),
        (["127.0.0.1", "localhost"], "9.24.0", Status.PASS),
        ("10.0.0.5", "9.24.0", Status.WARN),  # a proxy on another host, behind a firewall
        (None, "9.24.0", Status.PASS),  # unset: loopback since 4.3
        (None, "4.2.1", Status.FAIL),  # unset: every address before 4.3
        (None, None, Status.WARN),  # unset and the version unknown: not a pass
    ],
)
def test_runtime_listen_addresses(raw: object, version: str | None, expected: Status) -> None:
    (outcome,) = runtime_port_listens_beyond_loopback(snapshot(raw, version))
    assert outcome.status is expected


def test_a_strong_monitoring_password_passes_and_a_weak_one_fails() -> None:
    strong = describe_password("u8Kq2Zr7Lx4Nc9Vb1Mh6Tg3", source=Source())
    weak = describe_password("monitor", source=Source())
    (passed,) = monitoring_password_weak(snapshot("*", "9", monitoring_password=strong))
    (failed,) = monitoring_password_weak(snapshot("*", "9", monitoring_password=weak))
    assert passed.status is Status.PASS and failed.status is Status.FAIL


def running(config: str, process_told: str, bound: str, *, seen: bool = True) -> Snapshot:
    """One installation whose admin port is configured, given to a process, and bound."""
    source = Source(file="/srv/app/.m2ee/m2ee.yaml", line=7)
    installation = Installation(
        name="app",
        app_base="/srv/app",
        runtime_version="10.6.0",
        settings=Settings(admin_port=9090, admin_listen=listen_setting(config, source)),
        processes=(
            Process(
                pid=4242,
                uid=1001,
                user="app",
                command="java -jar runtimelauncher.jar /srv/app",
                generation="launcher",
                admin_port=9090,
                admin_listen=listen_setting(process_told, Source(pid=4242)),
            ),
        ),
    )
    return host_with(
        installation,
        sockets_visibility=Visibility(is_visible=seen, reason="" if seen else "needs root"),
        sockets=(Socket(address=bound, port=9090, pid=4242),),
    )


def test_an_admin_port_running_otherwise_than_configured_is_a_contradiction() -> None:
    # Given a config that now says "*" while the runtime was started on loopback
    (outcome,) = admin_listen_config_contradicts_socket(running("*", "127.0.0.1", "127.0.0.1"))

    # Then both the process's setting and the socket contradict it, with the config's line
    assert outcome.status is Status.FAIL
    assert "process 4242 was started with" in outcome.message
    assert "bound to 127.0.0.1:9090" in outcome.message
    assert outcome.evidence["line"] == 7


def test_an_admin_port_running_as_configured_agrees() -> None:
    (outcome,) = admin_listen_config_contradicts_socket(
        running("127.0.0.1", "127.0.0.1", "127.0.0.1")
    )
    assert outcome.status is Status.PASS


def test_a_socket_bound_wider_than_the_config_says_is_a_contradiction() -> None:
    # Given config and process on loopback but the socket on every address (a restart missed)
    (outcome,) = admin_listen_config_contradicts_socket(
        running("127.0.0.1", "127.0.0.1", "0.0.0.0")
    )
    assert outcome.status is Status.FAIL
    assert "0.0.0.0:9090" in outcome.message


def test_without_the_sockets_the_process_settings_still_show_a_contradiction() -> None:
    snapshot = running("*", "127.0.0.1", "127.0.0.1", seen=False)
    (outcome,) = admin_listen_config_contradicts_socket(snapshot)
    assert outcome.status is Status.FAIL
    assert "bound to" not in outcome.message  # the sockets were not seen, so not judged
