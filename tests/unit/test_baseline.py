"""Comparing a run with an earlier report: new, regressed, unchanged and fixed problems."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mxguard import snapshot_io
from mxguard.cli import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, main
from mxguard.collect.host import listen_setting
from mxguard.facts import Installation, Mode, Settings, Snapshot, Source

CHECK = "admin-port-listens-beyond-loopback"


def facts(tmp_path: Path, listen: str, *, name: str = "shop") -> str:
    installation = Installation(
        name=name,
        app_base=f"/srv/{name}",
        runtime_version="10.6.0",
        settings=Settings(admin_listen=listen_setting(listen, Source(file="/m.yaml", line=4))),
    )
    snapshot = Snapshot(
        tool_version="t",
        host="h",
        collected_at="c",
        mode=Mode.OFFLINE,
        installations=(installation,),
    )
    path = tmp_path / f"facts-{name}-{len(listen)}.json"
    path.write_bytes(snapshot_io.dumps([snapshot]))
    return str(path)


def report_of(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, object]]:
    code = main(["evaluate", *args, "--format", "json"])
    return code, json.loads(capsys.readouterr().out)


def finding(report: dict[str, object]) -> dict[str, object]:
    findings = report["findings"]
    assert isinstance(findings, list)
    return next(f for f in findings if f["check"] == CHECK)


def test_an_unchanged_failure_no_longer_fails_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wide = facts(tmp_path, "*")
    _, earlier = report_of(capsys, wide)
    base = tmp_path / "base.json"
    base.write_text(json.dumps(earlier))

    code, now = report_of(capsys, wide, "--baseline", str(base))

    assert code == EXIT_OK and finding(now)["change"] == "unchanged"
    assert now["baseline"]["unchanged"] >= 1  # type: ignore[index]


def test_a_regression_fails_and_a_fix_is_listed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, earlier = report_of(capsys, facts(tmp_path, "127.0.0.1"))
    base = tmp_path / "base.json"
    base.write_text(json.dumps(earlier))

    code, now = report_of(capsys, facts(tmp_path, "*"), "--baseline", str(base))
    assert code == EXIT_FINDINGS and finding(now)["change"] == "regressed"

    wide_base = tmp_path / "wide.json"
    wide_base.write_text(json.dumps(now))
    code, fixed = report_of(capsys, facts(tmp_path, "127.0.0.1"), "--baseline", str(wide_base))
    assert code == EXIT_OK
    entries = fixed["baseline"]["fixed_findings"]  # type: ignore[index]
    assert any(e["check"] == CHECK for e in entries)


def test_a_problem_of_a_new_app_is_new(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, earlier = report_of(capsys, facts(tmp_path, "*", name="shop"))
    base = tmp_path / "base.json"
    base.write_text(json.dumps(earlier))
    code, now = report_of(capsys, facts(tmp_path, "*", name="ledger"), "--baseline", str(base))
    assert code == EXIT_FINDINGS and finding(now)["change"] == "new"


def test_a_baseline_that_is_not_a_report_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"findings": [{"check": "x"}]}')
    assert main(["evaluate", facts(tmp_path, "*"), "--baseline", str(bad)]) == EXIT_USAGE
    assert str(bad) in capsys.readouterr().err
