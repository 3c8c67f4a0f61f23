"""The check catalog: how a check is declared, and the outcomes it returns.

A check is a pure function from a facts `Snapshot` to outcomes, declared with `@check`
together with its catalog entry. The engine turns outcomes into findings; a check never
builds a `Finding` itself and never does I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import cast

from mxguard.facts import Snapshot
from mxguard.model import Evidence, Severity, Status, section_order


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """What a check concluded about one subject."""

    status: Status
    subject: str
    message: str
    evidence: Evidence = field(default_factory=dict)
    severity: Severity | None = None  # overrides the check's severity for this subject


CheckFunction = Callable[[Snapshot], Iterable[Outcome]]


@dataclass(frozen=True, slots=True, kw_only=True)
class Check:
    """A catalog entry: what is checked, why, how to fix it, and the function that decides."""

    id: str
    section: str
    title: str
    severity: Severity
    rationale: str
    remediation: str
    references: tuple[str, ...]
    evaluate: CheckFunction


_CATALOG: dict[str, Check] = {}

CHECKLIST_URL = (
    "https://docs.mendix.com/developerportal/deploy/"
    "security-checklist-for-your-on-premises-installation/"
)


def check(
    *,
    id: str,  # noqa: A002 - the catalog's own word for it
    section: str,
    title: str,
    severity: Severity,
    rationale: str,
    remediation: str,
    references: Iterable[str] = (),
) -> Callable[[CheckFunction], CheckFunction]:
    """Register the decorated function as the check `id` in the catalog."""

    def register(function: CheckFunction) -> CheckFunction:
        if id in _CATALOG:
            raise ValueError(f"check id {id!r} is registered twice")
        _CATALOG[id] = Check(
            id=id,
            section=section,
            title=title,
            severity=severity,
            rationale=rationale,
            remediation=remediation,
            references=(f"{CHECKLIST_URL}#{_anchor(section)}", *references),
            evaluate=function,
        )
        return function

    return register


def catalog() -> tuple[Check, ...]:
    """Return every registered check, ordered by section and id."""
    from mxguard import checks  # noqa: F401 - importing the package registers every check

    return tuple(sorted(_CATALOG.values(), key=lambda c: (section_order(c.section), c.id)))


def passed(subject: str, message: str, **evidence: object) -> Outcome:
    """Return a `pass` outcome."""
    return Outcome(status=Status.PASS, subject=subject, message=message, evidence=_ev(evidence))


def failed(subject: str, message: str, **evidence: object) -> Outcome:
    """Return a `fail` outcome; `dataclasses.replace` gives it a severity of its own."""
    return Outcome(status=Status.FAIL, subject=subject, message=message, evidence=_ev(evidence))


def warned(subject: str, message: str, **evidence: object) -> Outcome:
    """Return a `warn` outcome."""
    return Outcome(status=Status.WARN, subject=subject, message=message, evidence=_ev(evidence))


def skipped(subject: str, message: str, **evidence: object) -> Outcome:
    """Return a `skip` outcome; `message` says why the check could not apply."""
    return Outcome(status=Status.SKIP, subject=subject, message=message, evidence=_ev(evidence))


def errored(subject: str, message: str, **evidence: object) -> Outcome:
    """Return an `error` outcome; `message` names what broke."""
    return Outcome(status=Status.ERROR, subject=subject, message=message, evidence=_ev(evidence))


def _ev(evidence: dict[str, object]) -> Evidence:
    # Evidence is JSON; drop empty values so that reports stay short.
    return cast(Evidence, {key: value for key, value in evidence.items() if value is not None})


def _anchor(section: str) -> str:
    return {
        "2": "2-prerequisites",
        "3": "3-using-an-unprivileged-dedicated-user-account-for-every-application",
        "4": "4-configuring-file-system-access",
        "5": "5-using-a-http-reverse-proxy-with-ssl-support",
        "6": "6-configuring-your-firewall",
        "7": "7-letting-the-http-reverse-proxy-serve-static-content",
        "8": "8-securing-access-to-the-admin-port-for-m2ee-tools-and-windows-service-console-"
        "access",
        "9": "9-setting-security-headers",
        "10": "10-do-not-connect-to-a-production-database-using-studio-pro",
    }.get(section, "")
