"""Waivers: an accepted failing finding, with a justification and a date it runs out.

A waiver file is YAML:

```yaml
waivers:
  - check: admin-port-listens-beyond-loopback
    subject: "app:shop"          # a glob; every subject when left out
    host: "web-*"                # a glob; every host when left out
    justification: the ops host reaches the admin port over the VPN; nftables limits it
    expires: 2027-03-31          # through the end of that day, UTC
```

`expires` is a date (valid through the end of that day in UTC) or a date and time with an
explicit offset (`2027-03-31T18:00:00+01:00`); a time without an offset is refused, so
that no reader has to guess the zone. An expired waiver no longer applies: the finding
counts again and says which waiver ran out.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta

from mxguard.checks.registry import catalog
from mxguard.discovery.safeyaml import LineDict, load_file
from mxguard.errors import ConfigError, UsageError
from mxguard.model import Finding, Status, Waiver

_CHECK_ID = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
_KEYS = frozenset({"check", "subject", "host", "justification", "expires"})


@dataclass(frozen=True, slots=True, kw_only=True)
class WaiverRule:
    """One entry of a waiver file."""

    check: str
    subject: str
    host: str
    justification: str
    expires: datetime  # the first moment the waiver no longer applies, in UTC
    source: str  # file:line

    def matches(self, finding: Finding) -> bool:
        """Return whether this rule is about `finding`."""
        return (
            finding.check == self.check
            and fnmatch.fnmatchcase(finding.subject, self.subject)
            and fnmatch.fnmatchcase(finding.host, self.host)
        )


def load(path: str) -> list[WaiverRule]:
    """Return the waivers in `path`; a malformed file is a `UsageError` naming file and line."""
    try:
        document = load_file(path)
    except OSError as exc:
        raise UsageError(f"--waivers {path}: {exc.strerror}") from exc
    except ConfigError as exc:
        raise UsageError(f"--waivers {exc}") from exc
    entries = document.get("waivers") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise UsageError(f"--waivers {path}: expected a top-level 'waivers:' list")
    lines = document.lines if isinstance(document, LineDict) else {}
    return [
        _rule(entry, f"{path}:{lines.get('waivers', 0) + index + 1}")
        for index, entry in enumerate(entries)
    ]


def _rule(entry: object, where: str) -> WaiverRule:
    if not isinstance(entry, dict):
        raise UsageError(f"--waivers {where}: each waiver is a mapping")
    if isinstance(entry, LineDict) and entry.lines:
        where = f"{where.rsplit(':', 1)[0]}:{min(entry.lines.values())}"
    # A misspelt key must not widen a waiver silently (`subjcet:` would waive every subject).
    unknown = sorted(str(key) for key in entry if key not in _KEYS)
    if unknown:
        raise UsageError(f"--waivers {where}: unknown key {', '.join(unknown)}")
    check = entry.get("check")
    justification = entry.get("justification")
    if not isinstance(check, str) or not _CHECK_ID.match(check):
        raise UsageError(f"--waivers {where}: 'check' must be a check id")
    if check not in {known.id for known in catalog()}:
        raise UsageError(f"--waivers {where}: no check is called {check!r} (see mxguard checks)")
    if not isinstance(justification, str) or len(justification.strip()) < 10:
        raise UsageError(f"--waivers {where}: a 'justification' of a few words is required")
    return WaiverRule(
        check=check,
        subject=str(entry.get("subject", "*")),
        host=str(entry.get("host", "*")),
        justification=justification.strip(),
        expires=_expiry(entry.get("expires"), where),
        source=where,
    )


def _expiry(value: object, where: str) -> datetime:
    # YAML reads a bare date as `date` and a timestamp as `datetime`; text is parsed here.
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
        except ValueError as exc:
            raise UsageError(f"--waivers {where}: 'expires' {value!r} is not a date") from exc
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise UsageError(
                f"--waivers {where}: 'expires' has a time but no UTC offset; write "
                "it as 2027-03-31T18:00:00+00:00, or give a date alone"
            )
        return value.astimezone(UTC)
    if isinstance(value, date):
        return datetime.combine(value + timedelta(days=1), time(0), tzinfo=UTC)
    raise UsageError(f"--waivers {where}: 'expires' is required (a date such as 2027-03-31)")


def apply(
    findings: Sequence[Finding], rules: Sequence[WaiverRule], *, now: datetime
) -> list[Finding]:
    """Return `findings` with the waivers that match them attached (expired ones included)."""
    result = []
    for finding in findings:
        rule = next(
            (
                r
                for r in rules
                if finding.status in (Status.FAIL, Status.WARN) and r.matches(finding)
            ),
            None,
        )
        if rule is None:
            result.append(finding)
            continue
        waiver = Waiver(
            justification=rule.justification,
            expires=rule.expires.isoformat().replace("+00:00", "Z"),
            source=rule.source,
            is_expired=now >= rule.expires,
        )
        result.append(replace(finding, waiver=waiver))
    return result
