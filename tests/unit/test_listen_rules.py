"""The listen-address rules of §6 and §8, from facts alone."""

from __future__ import annotations

import pytest

from mxguard.checks.s06_network import runtime_port_listens_beyond_loopback
from mxguard.checks.s08_admin import monitoring_password_weak
from mxguard.collect.host import listen_setting
from mxguard.collect.passwords import describe_password
from mxguard.facts import Installation, Mode, Settings, Snapshot, Source
from mxguard.model import Status


def snapshot(raw: object, version: str | None, **settings: object) -> Snapshot:
    installation = Installation(
        name="app",
        app_base="/srv/app",
        runtime_version=version,
        settings=Settings(runtime_listen=listen_setting(raw, Source(file="m", line=9)), **settings),  # type: ignore[arg-type]
    )
    return Snapshot(
        tool_version="t",
        host="h",
        collected_at="now",
        mode=Mode.OFFLINE,
        installations=(installation,),
    )


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
