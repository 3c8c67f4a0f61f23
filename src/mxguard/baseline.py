"""Comparing a run with an earlier JSON report: what is new, what regressed, what was fixed.

Findings are matched by their fingerprint. A failing or warning finding is `new` when the
baseline did not have it, `regressed` when the baseline had it passing, and `unchanged` when
it was already failing or warning; a baseline problem that no longer fails is `fixed`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from mxguard.errors import UsageError
from mxguard.model import Finding, FixedProblem, Report, Status

MAX_BYTES = 512 * 1024 * 1024
_PROBLEM = ("fail", "warn")


@dataclass(frozen=True, slots=True, kw_only=True)
class Baseline:
    """The findings of an earlier report, by fingerprint."""

    path: str
    statuses: dict[str, str]  # fingerprint -> status
    problems: dict[str, FixedProblem]  # fingerprint -> what it was, for fail and warn


def load(path: str) -> Baseline:
    """Read an earlier JSON report of mxguard; anything else is a `UsageError` naming it."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
        document = json.loads(raw.decode("utf-8"))
    except OSError as exc:
        raise UsageError(f"--baseline {path}: {exc.strerror}") from exc
    except (UnicodeDecodeError, ValueError) as exc:
        raise UsageError(f"--baseline {path}: not a JSON report ({exc})") from exc
    findings = document.get("findings") if isinstance(document, dict) else None
    if not isinstance(findings, list):
        raise UsageError(f"--baseline {path}: not an mxguard JSON report (no findings list)")

    statuses: dict[str, str] = {}
    problems: dict[str, FixedProblem] = {}
    for entry in findings:
        fingerprint = entry.get("fingerprint") if isinstance(entry, dict) else None
        if not isinstance(fingerprint, str):
            raise UsageError(f"--baseline {path}: a finding has no fingerprint (report too old?)")
        status = str(entry.get("status"))
        statuses[fingerprint] = _worse(statuses.get(fingerprint), status)
        if status in _PROBLEM:
            problems[fingerprint] = FixedProblem(
                check=str(entry.get("check")),
                subject=str(entry.get("subject")),
                host=str(entry.get("host", "")),
                fingerprint=fingerprint,
            )
    return Baseline(path=path, statuses=statuses, problems=problems)


def compare(report: Report, baseline: Baseline) -> Report:
    """Return `report` with every problem marked against `baseline`, and the fixed ones."""
    marked = tuple(_mark(finding, baseline) for finding in report.findings)
    still = {f.fingerprint for f in report.findings if f.status.value in _PROBLEM}
    fixed = tuple(problem for fp, problem in baseline.problems.items() if fp not in still)
    return replace(report, findings=marked, baseline_path=baseline.path, fixed=fixed)


def _mark(finding: Finding, baseline: Baseline) -> Finding:
    if finding.status not in (Status.FAIL, Status.WARN):
        return finding
    before = baseline.statuses.get(finding.fingerprint)
    if before in _PROBLEM:
        change = "unchanged"
    elif before == "pass":
        change = "regressed"
    else:
        change = "new"
    return replace(finding, change=change)


def _worse(old: str | None, new: str) -> str:
    order = ["pass", "skip", "error", "warn", "fail"]
    if old is None:
        return new
    return max(old, new, key=lambda s: order.index(s) if s in order else -1)


def counts(report: Report) -> dict[str, Any]:
    """Return the comparison in numbers, for reporters."""
    changes = [f.change for f in report.findings if f.change]
    return {
        "path": report.baseline_path,
        "new": changes.count("new"),
        "regressed": changes.count("regressed"),
        "unchanged": changes.count("unchanged"),
        "fixed": len(report.fixed),
    }


def fixed_entries(fixed: Sequence[FixedProblem]) -> list[dict[str, str]]:
    """Return the fixed problems as JSON-ready entries."""
    return [
        {"check": f.check, "subject": f.subject, "host": f.host, "fingerprint": f.fingerprint}
        for f in fixed
    ]
