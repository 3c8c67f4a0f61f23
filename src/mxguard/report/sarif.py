"""SARIF 2.1.0: failures and warnings as results, for code-scanning dashboards and CI.

Only `fail` and `warn` findings become results: a dashboard lists what to fix. Findings
that could not be decided (`error`) become tool notifications, so that a run with gaps
is visible as such; passes and skips are counted in the run's properties.
"""

from __future__ import annotations

import json
from typing import Any, TextIO

from mxguard.checks.registry import Check, catalog
from mxguard.model import Finding, Report, Severity, Status

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
# The scale GitHub code scanning reads from `security-severity`: 9+ critical, 7+ high, …
_SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "3.0",
    Severity.INFO: "0.0",
}
_LEVEL = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}


def render(report: Report, stream: TextIO) -> None:
    """Write the report as one SARIF log with one run."""
    stream.write(json.dumps(as_log(report), indent=2, ensure_ascii=False))
    stream.write("\n")


def as_log(report: Report) -> dict[str, Any]:
    """Return the SARIF log of `report`."""
    checks = catalog()
    index = {check.id: position for position, check in enumerate(checks)}
    results = [
        _result(finding, index)
        for finding in report.findings
        if finding.status in (Status.FAIL, Status.WARN)
    ]
    notifications = [
        {
            "level": "error",
            "message": {"text": f"{f.check} for {f.subject} on {f.host}: {f.message}"},
            "descriptor": {"id": f.check},
        }
        for f in report.findings
        if f.status is Status.ERROR
    ]
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "mxguard",
                        "version": report.tool_version,
                        "informationUri": "https://docs.mendix.com/developerportal/deploy/"
                        "security-checklist-for-your-on-premises-installation/",
                        "rules": [_rule(check) for check in checks],
                    }
                },
                "invocations": [
                    {
                        "executionSuccessful": not notifications,
                        "toolExecutionNotifications": notifications,
                        "endTimeUtc": report.generated,
                    }
                ],
                "results": results,
                "properties": {"hosts": list(report.hosts), "summary": report.summary},
            }
        ],
    }


def _rule(check: Check) -> dict[str, Any]:
    return {
        "id": check.id,
        "name": "".join(part.capitalize() for part in check.id.split("-")),
        "shortDescription": {"text": check.title},
        "fullDescription": {"text": check.rationale},
        "help": {"text": check.remediation},
        "helpUri": check.references[0] if check.references else None,
        "defaultConfiguration": {"level": _LEVEL[check.severity]},
        "properties": {
            "tags": ["security", f"checklist-section-{check.section}"],
            "security-severity": _SECURITY_SEVERITY[check.severity],
        },
    }


def _result(finding: Finding, index: dict[str, int]) -> dict[str, Any]:
    level = _LEVEL[finding.severity] if finding.status is Status.FAIL else "warning"
    result: dict[str, Any] = {
        "ruleId": finding.check,
        "level": level,
        "message": {"text": f"{finding.subject}: {finding.message}"},
        "partialFingerprints": {"mxguardFinding/v1": finding.fingerprint},
        "properties": {
            "status": finding.status.value,
            "severity": finding.severity.value,
            "host": finding.host,
            "subject": finding.subject,
            "evidence": dict(finding.evidence),
        },
    }
    if finding.check in index:
        result["ruleIndex"] = index[finding.check]
    if finding.change:
        result["baselineState"] = "unchanged" if finding.change == "unchanged" else "new"
    if finding.is_waived and finding.waiver is not None:
        result["suppressions"] = [
            {
                "kind": "external",
                "status": "accepted",
                "justification": f"{finding.waiver.justification} (until "
                f"{finding.waiver.expires}; {finding.waiver.source})",
            }
        ]
    location = _location(finding)
    if location:
        result["locations"] = [location]
    return result


def _location(finding: Finding) -> dict[str, Any]:
    evidence = finding.evidence
    file = evidence.get("file")
    logical = [{"name": finding.subject, "kind": "resource", "fullyQualifiedName": finding.host}]
    if not isinstance(file, str) or not file.startswith("/"):
        return {"logicalLocations": logical}
    physical: dict[str, Any] = {"artifactLocation": {"uri": f"file://{file}"}}
    line = evidence.get("line")
    if isinstance(line, int) and line > 0:
        physical["region"] = {"startLine": line}
    return {"physicalLocation": physical, "logicalLocations": logical}
