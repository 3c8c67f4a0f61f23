"""SARIF and JUnit reports of the demo host: what CI dashboards and test viewers read."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET  # noqa: S405 - parsing our own output in a test
from typing import Any

import pytest

from mxguard.cli import main


def demo(capsys: pytest.CaptureFixture[str], fmt: str) -> str:
    assert main(["demo", "--format", fmt]) == 0
    return capsys.readouterr().out


def test_sarif_lists_failures_and_warnings_against_their_rules(
    capsys: pytest.CaptureFixture[str],
) -> None:
    log: dict[str, Any] = json.loads(demo(capsys, "sarif"))
    assert log["version"] == "2.1.0"
    (run,) = log["runs"]
    rules = run["tool"]["driver"]["rules"]
    results = run["results"]
    summary = run["properties"]["summary"]

    # Every result points at its own rule, and only failures and warnings are results.
    assert results and len(results) == summary["fail"] + summary["warn"]
    for result in results:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["level"] in ("error", "warning", "note")
        assert len(result["partialFingerprints"]["mxguardFinding/v1"]) == 32

    # A config finding points at its file and line.
    dtap = next(r for r in results if r["ruleId"] == "dtap-mode-not-production")
    physical = dtap["locations"][0]["physicalLocation"]
    assert physical["artifactLocation"]["uri"] == "file:///srv/ledger/.m2ee/m2ee.yaml"
    assert physical["region"]["startLine"] > 0
    assert float(rules[dtap["ruleIndex"]]["properties"]["security-severity"]) >= 7.0


def test_sarif_fingerprints_are_stable_across_runs(capsys: pytest.CaptureFixture[str]) -> None:
    first = json.loads(demo(capsys, "sarif"))["runs"][0]["results"]
    second = json.loads(demo(capsys, "sarif"))["runs"][0]["results"]
    prints = [r["partialFingerprints"]["mxguardFinding/v1"] for r in first]
    assert prints == [r["partialFingerprints"]["mxguardFinding/v1"] for r in second]
    assert len(set(prints)) == len(prints)


def test_junit_counts_agree_with_the_findings(capsys: pytest.CaptureFixture[str]) -> None:
    summary = json.loads(demo(capsys, "json"))["summary"]
    suites = ET.fromstring(demo(capsys, "junit"))  # noqa: S314 - our own output

    assert int(suites.get("failures", "-1")) == summary["fail"]
    assert int(suites.get("errors", "-1")) == summary["error"]
    assert int(suites.get("skipped", "-1")) == summary["skip"]
    statuses = ("pass", "fail", "warn", "skip", "error")
    assert int(suites.get("tests", "-1")) == sum(summary[status] for status in statuses)
    failure = suites.find(".//testcase/failure")
    assert failure is not None and failure.get("type") in ("critical", "high", "medium", "low")
    names = [suite.get("name", "") for suite in suites]
    assert "§4 File system access" in names
