"""The findings model: statuses, severities, findings and the report that holds them.

Facts (what was observed) live in `mxguard.facts`; this module holds what was concluded.
"""

from __future__ import annotations

import enum
import hashlib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeAlias

JSONValue: TypeAlias = (
    str | int | float | bool | None | Sequence["JSONValue"] | Mapping[str, "JSONValue"]
)
Evidence: TypeAlias = Mapping[str, JSONValue]


class Status(enum.StrEnum):
    """The outcome of one check for one subject."""

    PASS = "pass"
    FAIL = "fail"
    WARN = "warn"  # a weakness beyond the letter of the checklist
    SKIP = "skip"  # not applicable, or the facts could not be gathered
    ERROR = "error"  # the tool could not decide because something broke


class Severity(enum.StrEnum):
    """How bad a failing finding is, from `critical` down to `info`."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        """Return a number that grows with the severity (`info` is 0)."""
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {
    Severity.INFO: 0,
    Severity.LOW: 1,
    Severity.MEDIUM: 2,
    Severity.HIGH: 3,
    Severity.CRITICAL: 4,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Waiver:
    """An operator's acceptance of a failing finding, until it expires."""

    justification: str
    expires: str  # ISO 8601, UTC
    source: str  # the waiver file and line
    is_expired: bool = False

    @property
    def is_active(self) -> bool:
        """Return whether the waiver still applies."""
        return not self.is_expired


# Evidence keys that name what a finding is about, beyond its subject.
_IDENTIFYING = ("account", "other_app", "file", "url", "address", "port", "database", "key")


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    """The outcome of one check for one subject on one host."""

    check: str
    section: str
    title: str
    status: Status
    severity: Severity
    subject: str
    message: str
    host: str
    evidence: Evidence = field(default_factory=dict)
    remediation: str = ""
    waiver: Waiver | None = None
    change: str = ""  # against a baseline: new | regressed | unchanged; empty without one

    @property
    def is_waived(self) -> bool:
        """Return whether an unexpired waiver accepts this finding."""
        return self.waiver is not None and self.waiver.is_active

    @property
    def fingerprint(self) -> str:
        """Return an id that stays the same for this check, host and subject across runs.

        Messages are left out: they carry counts and values that change while the problem
        stays the same one. Evidence that tells two findings about one subject apart (which
        account, which file) is kept in.
        """
        identity = [self.check, self.host, self.subject]
        identity += [f"{key}={self.evidence[key]}" for key in _IDENTIFYING if key in self.evidence]
        digest = hashlib.sha256("\0".join(identity).encode())
        return digest.hexdigest()[:32]

    @property
    def sort_key(self) -> tuple[int, str, str, str, str]:
        """Return a key that orders findings by section, then check, host and subject."""
        return (section_order(self.section), self.check, self.host, self.subject, self.message)


@dataclass(frozen=True, slots=True, kw_only=True)
class FixedProblem:
    """A failing or warning finding of a baseline that a later run no longer reports."""

    check: str
    subject: str
    host: str
    fingerprint: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Report:
    """Everything one run concluded, ready for a reporter."""

    tool_version: str
    generated: str
    hosts: tuple[str, ...]
    findings: tuple[Finding, ...]
    baseline_path: str = ""  # the earlier report this run was compared with, if any
    fixed: tuple[FixedProblem, ...] = ()  # problems the baseline had and this run has not

    @property
    def summary(self) -> dict[str, int]:
        """Return the number of findings per status, every status present."""
        counts = Counter(finding.status for finding in self.findings)
        summary = {status.value: counts.get(status, 0) for status in Status}
        summary["waived"] = sum(1 for finding in self.findings if finding.is_waived)
        return summary

    def failures_at_or_above(self, threshold: Severity) -> tuple[Finding, ...]:
        """Return the failing findings whose severity reaches `threshold`."""
        # Compared with a baseline, only what is new or regressed fails the run.
        return tuple(
            finding
            for finding in self.findings
            if finding.status is Status.FAIL
            and finding.severity.rank >= threshold.rank
            and not finding.is_waived
            and finding.change != "unchanged"
        )


def section_order(section: str) -> int:
    """Return the number a checklist section sorts by (99 for one without a number)."""
    head = section.split(".", 1)[0]
    return int(head) if head.isdigit() else 99
