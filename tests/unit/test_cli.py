"""The command-line contract: streams, exit codes, `--fail-on`, `--output`, bad facts files."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from mxguard import engine, snapshot_io
from mxguard.checks.registry import Check, catalog
from mxguard.cli import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, main
from mxguard.collect.host import listen_setting
from mxguard.facts import Installation, Mode, Settings, Snapshot, Source
from mxguard.model import Severity, Status


def facts_file(tmp_path: Path, *, listen: str) -> Path:
    installation = Installation(
        name="app",
        app_base="/srv/app",
        runtime_version="10.6.0",
        settings=Settings(admin_listen=listen_setting(listen, Source(file="/m.yaml", line=4))),
    )
    snapshot = Snapshot(
        tool_version="t",
        host="h1",
        collected_at="2026-12-03T00:00:00Z",
        mode=Mode.OFFLINE,
        installations=(installation,),
    )
    path = tmp_path / f"facts-{listen.replace('*', 'all')}.json"
    path.write_bytes(snapshot_io.dumps([snapshot]))
    return path


def test_a_high_failure_exits_1_and_fail_on_critical_exits_0(tmp_path: Path) -> None:
    facts = str(facts_file(tmp_path, listen="*"))
    assert main(["evaluate", facts, "--format", "json", "--output", os.devnull]) == EXIT_FINDINGS
    assert main(["evaluate", facts, "--fail-on", "critical", "--output", os.devnull]) == EXIT_OK


def test_json_goes_to_stdout_alone(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["evaluate", str(facts_file(tmp_path, listen="127.0.0.1")), "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    assert set(report) >= {"tool", "generated", "hosts", "findings", "summary"}
    finding = report["findings"][0]
    assert set(finding) >= {
        "check",
        "section",
        "title",
        "status",
        "severity",
        "subject",
        "message",
        "evidence",
        "remediation",
    }
    assert report["summary"].keys() == {"pass", "fail", "warn", "skip", "error", "waived"}


def test_output_writes_the_report_to_a_file(tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    main(
        [
            "evaluate",
            str(facts_file(tmp_path, listen="*")),
            "--format",
            "json",
            "--output",
            str(target),
        ]
    )
    assert json.loads(target.read_text())["hosts"] == ["h1"]


def test_snapshots_from_several_hosts_merge_into_one_report(tmp_path: Path) -> None:
    first = facts_file(tmp_path, listen="*")
    second = facts_file(tmp_path, listen="127.0.0.1")
    merged = engine.evaluate(snapshot_io.read(str(first)) + snapshot_io.read(str(second)))
    assert len(merged.failures_at_or_above(Severity.HIGH)) == 1


def test_a_file_that_is_not_facts_is_a_usage_error_with_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Like a broken --waivers or --baseline file: the input named is wrong, not mxguard
    bad = tmp_path / "facts.json"
    bad.write_bytes(b"\xff{ not json")
    assert main(["evaluate", str(bad)]) == EXIT_USAGE
    assert str(bad) in capsys.readouterr().err


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        main(["audit", "--fail-on", "sometimes"])
    assert raised.value.code == EXIT_USAGE
    assert main(["audit", "--root", "/no/such/folder"]) == EXIT_USAGE
    assert "/no/such/folder" in capsys.readouterr().err


def test_a_check_that_raises_becomes_an_error_finding_and_the_run_goes_on() -> None:

    def broken(snapshot: Snapshot) -> list[object]:
        raise KeyError("boom")

    check = Check(
        id="broken",
        section="3",
        title="t",
        severity=Severity.LOW,
        rationale="r",
        remediation="m",
        references=(),
        evaluate=broken,  # type: ignore[arg-type]
    )
    snapshot = Snapshot(tool_version="t", host="h", collected_at="c", mode=Mode.OFFLINE)
    report = engine.evaluate([snapshot], checks=[check, *catalog()])
    (error,) = [f for f in report.findings if f.check == "broken"]
    assert error.status is Status.ERROR and "KeyError" in error.message


def test_output_to_a_device_or_pipe_writes_through_and_never_replaces_it(tmp_path: Path) -> None:
    # Given a named pipe as --output, the report flows through it and the pipe stays a pipe.
    import stat
    import threading

    pipe = tmp_path / "report.pipe"
    os.mkfifo(pipe)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(pipe.read_bytes()))
    reader.start()
    main(
        [
            "evaluate",
            str(facts_file(tmp_path, listen="*")),
            "--format",
            "json",
            "--output",
            str(pipe),
        ]
    )
    reader.join(timeout=10)
    assert stat.S_ISFIFO(os.stat(pipe).st_mode)
    assert json.loads(received[0])["hosts"] == ["h1"]
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)


def test_output_replacing_a_file_keeps_its_mode(tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    target.write_text("old")
    target.chmod(0o644)
    main(
        [
            "evaluate",
            str(facts_file(tmp_path, listen="*")),
            "--format",
            "json",
            "--output",
            str(target),
        ]
    )
    assert target.stat().st_mode & 0o777 == 0o644
    assert json.loads(target.read_text())["hosts"] == ["h1"]


def test_advisories_from_csaf_reach_evaluate_and_a_bad_file_is_a_finding(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    installation = Installation(name="old", app_base="/srv/old", runtime_version="10.6.3")
    snapshot = Snapshot(
        tool_version="t",
        host="h",
        collected_at="c",
        mode=Mode.OFFLINE,
        installations=(installation,),
    )
    facts = tmp_path / "facts.json"
    facts.write_bytes(snapshot_io.dumps([snapshot]))
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    csaf = Path(__file__).parents[1] / "fixtures" / "csaf" / "icsa-24-256-05.json"

    code = main(
        [
            "evaluate",
            str(facts),
            "--advisories",
            str(csaf),
            "--advisories",
            str(broken),
            "--format",
            "json",
        ]
    )

    report = json.loads(capsys.readouterr().out)
    (version,) = [
        f for f in report["findings"] if f["check"] == "runtime-version-has-known-vulnerabilities"
    ]
    assert version["status"] == "fail" and "CVE-2023-49069" in version["message"]
    assert any(str(broken) in f["message"] for f in report["findings"] if f["status"] == "error")
    assert code == EXIT_OK  # the worst advisory here is medium; --fail-on is high
