"""The audit pipeline: collect facts, evaluate the checks over them, build the report.

Checks run inside an attempt: one that raises becomes an `error` finding naming the
exception, and the run goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from mxguard import __version__
from mxguard.checks.registry import Check, Outcome, catalog
from mxguard.collect.host import HostOptions, collect_host
from mxguard.collect.proxy import ProxyOptions, collect_proxy
from mxguard.facts import Snapshot
from mxguard.model import Finding, Report, Status

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditOptions:
    """What to look at in one run; each collector reads the options that concern it."""

    root: str = "/"
    configs: tuple[str, ...] = ()
    hostname: str | None = None
    proxy_configs: tuple[str, ...] = ()
    ca_bundle: str | None = None


def collect(options: AuditOptions) -> Snapshot:
    """Gather the facts of one host, read-only: the host first, then what builds on it."""
    snapshot = collect_host(
        HostOptions(root=options.root, configs=options.configs, hostname=options.hostname)
    )
    # Further collectors (proxy, live, database) add their part with `dataclasses.replace`.
    proxy = collect_proxy(
        ProxyOptions(root=options.root, configs=options.proxy_configs, ca_bundle=options.ca_bundle),
        snapshot.accounts,
    )
    snapshot = replace(snapshot, proxy=proxy)
    return snapshot


def evaluate(snapshots: Sequence[Snapshot], *, checks: Iterable[Check] | None = None) -> Report:
    """Run every check over every snapshot and return the report."""
    selected = tuple(checks) if checks is not None else catalog()
    findings: list[Finding] = []
    for snapshot in snapshots:
        for check in selected:
            findings.extend(_attempt(check, snapshot))
    return Report(
        tool_version=__version__,
        generated=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        hosts=tuple(dict.fromkeys(s.host for s in snapshots)),
        findings=tuple(sorted(findings, key=lambda f: f.sort_key)),
    )


def _attempt(check: Check, snapshot: Snapshot) -> list[Finding]:
    try:
        outcomes = list(check.evaluate(snapshot))
    except Exception as exc:  # noqa: BLE001 - a broken check must not sink the run
        logger.debug("check %s raised", check.id, exc_info=True)
        outcomes = [
            Outcome(
                status=Status.ERROR,
                subject=f"host:{snapshot.host}",
                message=f"the check failed: {type(exc).__name__}: {exc}",
            )
        ]
    return [_finding(check, snapshot, outcome) for outcome in outcomes]


def _finding(check: Check, snapshot: Snapshot, outcome: Outcome) -> Finding:
    return Finding(
        check=check.id,
        section=check.section,
        title=check.title,
        status=outcome.status,
        severity=outcome.severity or check.severity,
        subject=outcome.subject,
        message=outcome.message,
        host=snapshot.host,
        evidence=outcome.evidence,
        remediation=check.remediation if outcome.status in (Status.FAIL, Status.WARN) else "",
    )
