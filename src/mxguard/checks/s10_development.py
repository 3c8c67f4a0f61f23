"""§10 — no development tooling against production (what the m2ee config shows)."""

from __future__ import annotations

from collections.abc import Iterator

from mxguard.checks.common import app_subject
from mxguard.checks.registry import Outcome, check, failed, passed, skipped
from mxguard.facts import Snapshot
from mxguard.model import Severity


@check(
    id="dtap-mode-not-production",
    section="10",
    title="The runtime is configured for a mode other than production",
    severity=Severity.HIGH,
    rationale=(
        "Outside production mode the runtime relaxes its protections, for example it accepts "
        "and may reset the admin user's development password."
    ),
    remediation="Remove DTAPMode from the mxruntime section, or set it to P.",
)
def dtap_mode_not_production(snapshot: Snapshot) -> Iterator[Outcome]:
    """Fail an installation whose config sets `DTAPMode` to anything but `P`."""
    for installation in snapshot.installations:
        subject = app_subject(installation)
        settings = installation.settings
        source = settings.dtap_mode_source
        if settings.dtap_mode is None:
            if installation.config_problem:
                yield skipped(
                    subject, f"the m2ee config could not be read: {installation.config_problem}"
                )
            else:
                yield passed(
                    subject, "DTAPMode is not set; m2ee starts the runtime in production mode (P)"
                )
        elif settings.dtap_mode.strip().upper() != "P":
            yield failed(
                subject,
                f"DTAPMode is {settings.dtap_mode!r}",
                file=source.file,
                line=source.line,
                value=settings.dtap_mode,
            )
        else:
            yield passed(subject, "DTAPMode is P", file=source.file, line=source.line)
