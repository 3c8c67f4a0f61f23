"""The audit pipeline: collect facts, evaluate the checks over them, build the report.

Checks run inside an attempt: one that raises becomes an `error` finding naming the
exception, and the run goes on.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from mxguard import __version__
from mxguard.advisories import load_csaf
from mxguard.checks.registry import Check, Outcome, catalog
from mxguard.collect.database import DatabaseOptions, collect_database
from mxguard.collect.host import HostOptions, collect_host
from mxguard.collect.live import LiveOptions, collect_live, proxy_site_targets
from mxguard.collect.proxy import ProxyOptions, collect_proxy
from mxguard.errors import ConfigError
from mxguard.facts import ConfigFile, Installation, Mode, Problem, Snapshot, Visibility
from mxguard.live.client import Limits
from mxguard.model import Finding, Report, Status
from mxguard.waivers import WaiverRule
from mxguard.waivers import apply as apply_waivers

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditOptions:
    """What to look at in one run; each collector reads the options that concern it."""

    root: str = "/"
    configs: tuple[str, ...] = ()
    hostname: str | None = None
    proxy_configs: tuple[str, ...] = ()
    urls: tuple[str, ...] = ()
    ca_bundle: str | None = None
    from_outside: str | None = None  # probe only the network, of this other host
    try_default_admin_passwords: bool = False
    probe_limits: Limits = Limits()
    show_progress: bool | None = None
    # `--database-url [APP=]URL` values; they may hold a password, so they are never shown.
    database_urls: tuple[str, ...] = field(default=(), repr=False)
    database_timeout: float = 5.0
    advisories: tuple[str, ...] = ()  # CSAF files with advisories newer than the bundled ones


def collect(options: AuditOptions) -> Snapshot:
    """Gather the facts of one host, read-only: the host first, then what builds on it."""
    if options.from_outside:
        return _collect_from_outside(options)
    snapshot = collect_host(
        HostOptions(root=options.root, configs=options.configs, hostname=options.hostname)
    )
    # Further collectors (proxy, live, database) add their part with `dataclasses.replace`.
    proxy = collect_proxy(
        ProxyOptions(root=options.root, configs=options.proxy_configs, ca_bundle=options.ca_bundle),
        snapshot.accounts,
    )
    snapshot = replace(snapshot, proxy=proxy)
    if snapshot.mode is Mode.LIVE:
        # The proxy's TLS sites that serve an app are probed too, over loopback.
        proxy_sites, unprobed = proxy_site_targets(
            snapshot.proxy,
            snapshot.installations,
            snapshot.sockets,
            are_sockets_known=snapshot.sockets_visibility.is_visible,
        )
        live = collect_live(
            _live_options(options), snapshot.installations, snapshot.sockets, proxy_sites
        )
        snapshot = replace(snapshot, live=live, problems=(*snapshot.problems, *unprobed))
    database, problems = collect_database(
        snapshot, DatabaseOptions(urls=options.database_urls, timeout=options.database_timeout)
    )
    snapshot = replace(snapshot, database=database, problems=(*snapshot.problems, *problems))
    return with_advisories(snapshot, options.advisories)


def with_advisories(snapshot: Snapshot, paths: Sequence[str]) -> Snapshot:
    """Return `snapshot` with the advisories of the CSAF files `paths` added to it.

    A file that cannot be read becomes a problem in the snapshot; the others still count.
    """
    found = list(snapshot.advisories)
    problems = list(snapshot.problems)
    for path in paths:
        try:
            found.extend(load_csaf(path))
        except ConfigError as exc:
            problems.append(
                Problem(subject=f"file:{path}", message=f"advisories: {exc}", file=path)
            )
    return replace(snapshot, advisories=tuple(found), problems=tuple(problems))


def _live_options(options: AuditOptions) -> LiveOptions:
    return LiveOptions(
        urls=options.urls,
        ca_bundle=options.ca_bundle,
        from_outside=options.from_outside,
        try_default_admin_passwords=options.try_default_admin_passwords,
        limits=options.probe_limits,
        show_progress=options.show_progress,
    )


def _collect_from_outside(options: AuditOptions) -> Snapshot:
    # Only the network is observed; the named configs say which ports to try.
    from mxguard.collect.host import installation_settings

    host = options.from_outside or ""
    problems: list[Problem] = []
    installations: list[Installation] = []
    for path in options.configs:
        name, settings, problem = installation_settings(os.path.abspath(path))
        if problem:
            problems.append(Problem(subject=f"config:{path}", message=problem, file=path))
        config = ConfigFile(path=os.path.abspath(path))
        installations.append(
            Installation(name=name, app_base="", settings=settings, config_files=(config,))
        )
    live = collect_live(_live_options(options), installations)
    why = f"probed from outside: only the network of {host} was observed"
    return Snapshot(
        tool_version=__version__,
        host=host,
        collected_at=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        mode=Mode.LIVE,
        root="",
        processes_visibility=Visibility(is_visible=False, reason=why),
        sockets_visibility=Visibility(is_visible=False, reason=why),
        shadow_visibility=Visibility(is_visible=False, reason=why),
        problems=tuple(problems),
        live=live,
    )


def evaluate(
    snapshots: Sequence[Snapshot],
    *,
    checks: Iterable[Check] | None = None,
    waivers: Sequence[WaiverRule] = (),
    now: datetime | None = None,
) -> Report:
    """Run every check over every snapshot, apply the waivers, and return the report."""
    selected = tuple(checks) if checks is not None else catalog()
    moment = now or datetime.now(UTC)
    findings: list[Finding] = []
    for snapshot in snapshots:
        for check in selected:
            findings.extend(_attempt(check, snapshot))
    findings = apply_waivers(findings, waivers, now=moment)
    return Report(
        tool_version=__version__,
        generated=moment.isoformat(timespec="seconds").replace("+00:00", "Z"),
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
