"""Waivers: accepted findings with a justification and an expiry that is never ambiguous."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET  # noqa: S405 - parsing our own output in a test
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mxguard import snapshot_io
from mxguard.cli import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, main
from mxguard.collect.host import listen_setting
from mxguard.errors import UsageError
from mxguard.facts import Installation, Mode, Settings, Snapshot, Source
from mxguard.waivers import load

CHECK = "admin-port-listens-beyond-loopback"


def facts(tmp_path: Path) -> str:
    installation = Installation(
        name="shop",
        app_base="/srv/shop",
        runtime_version="10.6.0",
        settings=Settings(admin_listen=listen_setting("*", Source(file="/m.yaml", line=4))),
    )
    snapshot = Snapshot(
        tool_version="t",
        host="web-1",
        collected_at="c",
        mode=Mode.OFFLINE,
        installations=(installation,),
    )
    path = tmp_path / "facts.json"
    path.write_bytes(snapshot_io.dumps([snapshot]))
    return str(path)


def waiver_file(tmp_path: Path, expires: str, *, subject: str = "app:shop") -> str:
    path = tmp_path / "waivers.yaml"
    path.write_text(
        "waivers:\n"
        f"  - check: {CHECK}\n"
        f'    subject: "{subject}"\n'
        '    host: "web-*"\n'
        "    justification: ops reach the admin port over the VPN; nftables limits it\n"
        f"    expires: {expires}\n"
    )
    return str(path)


def test_a_date_lasts_through_the_end_of_that_day_in_utc(tmp_path: Path) -> None:
    (rule,) = load(waiver_file(tmp_path, "2027-03-31"))
    assert rule.expires == datetime(2027, 4, 1, tzinfo=UTC)
    assert rule.source.endswith("waivers.yaml:2")


def test_a_time_needs_an_explicit_offset(tmp_path: Path) -> None:
    (rule,) = load(waiver_file(tmp_path, "2027-03-31T18:00:00+02:00"))
    assert rule.expires == datetime(2027, 3, 31, 16, tzinfo=UTC)
    with pytest.raises(UsageError, match="no UTC offset"):
        load(waiver_file(tmp_path, "2027-03-31T18:00:00"))


@pytest.mark.parametrize(
    "text",
    [
        "waivers:\n  - check: no-such-check\n    justification: long enough reason\n"
        "    expires: 2027-01-01\n",
        # no justification, then no expiry
        "waivers:\n  - check: dtap-mode-not-production\n    expires: 2027-01-01\n",
        "waivers:\n  - check: dtap-mode-not-production\n    justification: long enough reason\n",
        "waivers:\n  - check: Not An Id\n    justification: long enough\n    expires: 2027-01-01\n",
        "waivers: {}\n",
        "waivers:\n  - check: dtap-mode-not-production\n    subjcet: app:a\n"
        "    justification: long enough\n    expires: 2027-01-01\n",
        "- just a list\n",
    ],
)
def test_a_malformed_waiver_file_is_a_usage_error_naming_it(tmp_path: Path, text: str) -> None:
    path = tmp_path / "w.yaml"
    path.write_text(text)
    with pytest.raises(UsageError) as raised:
        load(str(path))
    assert str(path) in str(raised.value)


def test_an_active_waiver_accepts_the_failure_and_an_expired_one_does_not(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = facts(tmp_path)
    assert main(["evaluate", path, "--format", "json"]) == EXIT_FINDINGS
    capsys.readouterr()

    future = waiver_file(tmp_path, "2999-01-01")
    assert main(["evaluate", path, "--waivers", future, "--format", "json"]) == EXIT_OK
    report = json.loads(capsys.readouterr().out)
    (waived,) = [f for f in report["findings"] if f["check"] == CHECK]
    assert waived["status"] == "fail" and waived["waiver"]["expired"] is False
    assert report["summary"]["waived"] == 1

    past = waiver_file(tmp_path, "2020-01-01")
    assert main(["evaluate", path, "--waivers", past, "--format", "json"]) == EXIT_FINDINGS
    (expired,) = [f for f in json.loads(capsys.readouterr().out)["findings"] if f["check"] == CHECK]
    assert expired["waiver"]["expired"] is True


def test_a_waiver_for_another_subject_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = waiver_file(tmp_path, "2999-01-01", subject="app:ledger")
    assert main(["evaluate", facts(tmp_path), "--waivers", other]) == EXIT_FINDINGS


def test_waived_findings_are_suppressions_in_sarif_and_skipped_in_junit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, future = facts(tmp_path), waiver_file(tmp_path, "2999-01-01")
    main(["evaluate", path, "--waivers", future, "--format", "sarif"])
    results = json.loads(capsys.readouterr().out)["runs"][0]["results"]
    (result,) = [r for r in results if r["ruleId"] == CHECK]
    assert result["suppressions"][0]["status"] == "accepted"

    main(["evaluate", path, "--waivers", future, "--format", "junit"])
    suites = ET.fromstring(capsys.readouterr().out)  # noqa: S314 - our own output
    (case,) = [c for c in suites.iter("testcase") if CHECK in c.get("name", "")]
    skipped = case.find("skipped")
    assert skipped is not None and "waived until 2999-01-02" in skipped.get("message", "")


def test_a_broken_waiver_file_stops_before_auditing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "w.yaml"
    broken.write_text("waivers: [\n")
    assert main(["audit", "--root", str(tmp_path), "--waivers", str(broken)]) == EXIT_USAGE
    assert str(broken) in capsys.readouterr().err
