"""The JSON report, in the shape fixed by the design: tool, generated, hosts, findings, summary."""

from __future__ import annotations

import json
from typing import Any, TextIO

from mxguard.baseline import counts, fixed_entries
from mxguard.model import Finding, Report


def as_document(report: Report) -> dict[str, Any]:
    """Return the report as a JSON-ready document."""
    return {
        "tool": {"name": "mxguard", "version": report.tool_version},
        "generated": report.generated,
        "hosts": list(report.hosts),
        "findings": [_finding(f) for f in report.findings],
        "summary": report.summary,
        **({"baseline": _baseline(report)} if report.baseline_path else {}),
    }


def render(report: Report, stream: TextIO) -> None:
    """Write the report as indented JSON."""
    # One string, one write: json.dump streams millions of small writes, which through a
    # pipe took 8 s instead of 1.7 s for a 38 MB report (bench/proxy_config.py).
    stream.write(json.dumps(as_document(report), indent=2, ensure_ascii=False))
    stream.write("\n")


def _finding(finding: Finding) -> dict[str, Any]:
    return {
        "check": finding.check,
        "section": finding.section,
        "title": finding.title,
        "status": finding.status.value,
        "severity": finding.severity.value,
        "subject": finding.subject,
        "host": finding.host,
        "message": finding.message,
        "evidence": dict(finding.evidence),
        "fingerprint": finding.fingerprint,
        "waiver": _waiver(finding),
        "change": finding.change or None,
        "remediation": finding.remediation,
    }


def _waiver(finding: Finding) -> dict[str, Any] | None:
    waiver = finding.waiver
    if waiver is None:
        return None
    return {
        "justification": waiver.justification,
        "expires": waiver.expires,
        "source": waiver.source,
        "expired": waiver.is_expired,
    }


def _baseline(report: Report) -> dict[str, Any]:
    return {**counts(report), "fixed_findings": fixed_entries(report.fixed)}
