"""§2 — the runtime carries the latest security patches (its version against advisories)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from mxguard.advisories import Match, affecting, bundled, bundled_date, merge
from mxguard.checks.common import app_subject
from mxguard.checks.registry import Outcome, check, failed, passed, skipped
from mxguard.facts import Snapshot
from mxguard.model import Severity

MAX_LISTED = 20


def _severity(cvss: float | None) -> Severity:
    if cvss is None:
        return Severity.MEDIUM
    if cvss >= 9.0:
        return Severity.CRITICAL
    if cvss >= 7.0:
        return Severity.HIGH
    if cvss >= 4.0:
        return Severity.MEDIUM
    return Severity.LOW


def _describe(match: Match) -> str:
    advisory, affected = match.advisory, match.range
    score = f"CVSS {advisory.cvss3}" if advisory.cvss3 is not None else "no CVSS"
    fix = f"fixed in {affected.fixed}" if affected.fixed else f"no fix named for {affected.line}"
    condition = f"; {affected.condition}" if affected.condition else ""
    return f"{advisory.id} ({score}, {fix}{condition})"


@check(
    id="runtime-version-has-known-vulnerabilities",
    section="2",
    title="The runtime version is affected by published security advisories",
    severity=Severity.HIGH,
    rationale=(
        "Mendix publishes fixes per release line; a runtime below the fixed version of its "
        "line keeps the flaw, whatever the rest of the setup does."
    ),
    remediation=(
        "Upgrade the app to the fixed version of its release line (or later), rebuild and "
        "redeploy it. Newer advisories than mxguard's own data can be given as CSAF files "
        "with --advisories."
    ),
    references=("https://docs.mendix.com/releasenotes/security-advisories/",),
)
def runtime_version_has_known_vulnerabilities(snapshot: Snapshot) -> Iterator[Outcome]:
    """Match each installation's runtime version with the bundled and given advisories."""
    known = merge(bundled(), snapshot.advisories)
    extra = len(snapshot.advisories)
    scope = f"{len(known)} runtime advisories (data of {bundled_date()}" + (
        f", {extra} from CSAF files)" if extra else "; add newer ones as CSAF with --advisories)"
    )
    for installation in snapshot.installations:
        subject = app_subject(installation)
        version = installation.runtime_version
        if not version:
            yield skipped(
                subject,
                "the runtime version is unknown: no runtime process and no RuntimeVersion in "
                "model/metadata.json",
            )
            continue
        evidence = {"runtime_version": version, "source": installation.runtime_version_source}
        matches = affecting(version, known)
        if not matches:
            yield passed(subject, f"Mendix {version}: none of {scope} affects it", **evidence)
            continue
        worst = max((m.advisory.cvss3 or 0.0) for m in matches)
        outcome = failed(
            subject,
            f"Mendix {version} is affected by {len(matches)} "
            f"{'advisory' if len(matches) == 1 else 'advisories'}: "
            + ", ".join(m.advisory.id for m in matches[:5])
            + (" …" if len(matches) > 5 else ""),
            advisories=[_describe(m) for m in matches[:MAX_LISTED]],
            count=len(matches),
            **evidence,
        )
        yield replace(outcome, severity=_severity(worst))
