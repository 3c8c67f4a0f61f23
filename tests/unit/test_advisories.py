"""Matching runtime versions with advisories, and importing CSAF 2.0 documents."""

from __future__ import annotations

from pathlib import Path

import pytest

from mxguard.advisories import Advisory, AffectedRange, affecting, bundled, load_csaf, merge
from mxguard.checks.s02_version import runtime_version_has_known_vulnerabilities
from mxguard.errors import ConfigError
from mxguard.facts import Installation, Mode, Snapshot
from mxguard.model import Severity, Status

CSAF = Path(__file__).parents[1] / "fixtures" / "csaf"


def advisory(*ranges: AffectedRange, cvss: float = 5.0) -> Advisory:
    return Advisory(id="CVE-0000-1", summary="s", cvss3=cvss, ranges=ranges, source="test")


def test_a_minor_line_overrides_its_major_line() -> None:
    # Given 9.x fixed in 9.22.0 but the 9.12 line fixed in 9.12.10,
    found = advisory(
        AffectedRange(line="9", introduced="9.0.0", fixed="9.22.0"),
        AffectedRange(line="9.12", introduced="9.12.0", fixed="9.12.10"),
    )
    # then 9.12.11 is safe, 9.12.3 and 9.13.0 are not, and 9.22.0 is fixed.
    assert not affecting("9.12.11.100", [found])
    assert affecting("9.12.3", [found]) and affecting("9.13.0", [found])
    assert not affecting("9.22.0", [found])


def test_a_range_without_a_fix_affects_every_later_version_of_its_line() -> None:
    found = advisory(AffectedRange(line="10.6", introduced="10.6.0", fixed=None))
    assert affecting("10.6.99", [found])
    assert not affecting("10.7.0", [found])  # no 10 line named: not affected


def test_versions_before_the_first_affected_one_are_safe() -> None:
    found = advisory(AffectedRange(line="9", introduced="9.11.0", fixed="9.15.0"))
    assert not affecting("9.10.4", [found])
    assert affecting("9.11.0", [found])


def test_the_bundled_data_holds_runtime_advisories_only() -> None:
    ids = {a.id for a in bundled()}
    assert "CVE-2023-23835" in ids and "CVE-2025-40592" not in ids  # the latter is Studio Pro
    assert [
        m.range.fixed for m in affecting("8.18.22", bundled()) if m.advisory.id == "CVE-2023-23835"
    ] == ["8.18.23"]


def test_csaf_with_free_text_ranges_is_read() -> None:
    (found,) = load_csaf(str(CSAF / "icsa-23-047-11.json"))
    assert found.id == "CVE-2023-23835" and found.cvss3 == 5.9
    by_line = {r.line: r.fixed for r in found.ranges}
    assert by_line == {
        "7": "7.23.34",
        "8": "8.18.23",
        "9": "9.22.0",
        "9.12": "9.12.10",
        "9.18": "9.18.4",
        "9.6": "9.6.15",
    }


def test_csaf_conditions_are_kept_in_words() -> None:
    (found,) = load_csaf(str(CSAF / "icsa-24-256-05.json"))
    assert {r.line for r in found.ranges} == {"8", "9", "10", "10.6", "10.12"}
    assert all("basic authentication" in r.condition for r in found.ranges)


@pytest.mark.parametrize("raw", [b"", b"\xff", b"[]", b'{"document": {}}', b'{"product_tree": 3}'])
def test_a_file_that_is_not_csaf_is_an_error_naming_it(tmp_path: Path, raw: bytes) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(raw)
    with pytest.raises(ConfigError) as raised:
        load_csaf(str(path))
    assert str(path) in str(raised.value)


def test_a_later_set_replaces_an_advisory_with_the_same_id() -> None:
    older, newer = advisory(cvss=1.0), advisory(cvss=9.5)
    assert merge([older], [newer]) == (newer,)


def snapshot(version: str | None, extra: tuple[Advisory, ...] = ()) -> Snapshot:
    installation = Installation(name="app", app_base="/srv/app", runtime_version=version)
    return Snapshot(
        tool_version="t",
        host="h",
        collected_at="c",
        mode=Mode.OFFLINE,
        installations=(installation,),
        advisories=extra,
    )


def test_an_old_runtime_fails_with_the_advisories_and_their_fixes() -> None:
    (outcome,) = runtime_version_has_known_vulnerabilities(snapshot("9.18.2.5432"))
    assert outcome.status is Status.FAIL
    assert any(
        "CVE-2023-23835" in a and "fixed in 9.18.4" in a for a in outcome.evidence["advisories"]
    )  # type: ignore[union-attr]
    assert outcome.severity is Severity.MEDIUM  # the worst of them scores 6.8


def test_a_patched_runtime_passes_and_an_unknown_version_skips() -> None:
    (patched,) = runtime_version_has_known_vulnerabilities(snapshot("10.24.3.78414"))
    (unknown,) = runtime_version_has_known_vulnerabilities(snapshot(None))
    assert patched.status is Status.PASS and unknown.status is Status.SKIP


def test_an_operator_advisory_from_csaf_counts() -> None:
    newer = advisory(AffectedRange(line="10", introduced="10.0.0", fixed="10.30.0"), cvss=9.8)
    (outcome,) = runtime_version_has_known_vulnerabilities(snapshot("10.24.3", (newer,)))
    assert outcome.status is Status.FAIL and outcome.severity is Severity.CRITICAL
