"""Helpers shared by the checks: subjects, address classes, versions, path indexes."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator, Sequence

from mxguard.csp import CspIssue
from mxguard.facts import Installation, ListenSetting, PathFacts, Snapshot
from mxguard.model import Severity, Status

ADMIN_GROUPS = frozenset({"root", "sudo", "wheel", "adm", "admin", "staff", "docker", "lxd"})
PROXY_ACCOUNTS = frozenset({"www-data", "nginx", "apache", "httpd", "nobody", "_www", "www"})
WILDCARDS = frozenset({"*", "0.0.0.0", "::", "[::]", "0:0:0:0:0:0:0:0"})


def app_subject(installation: Installation) -> str:
    """Return the subject of findings about an installation as a whole."""
    return f"app:{installation.name}"


def is_loopback(address: str) -> bool:
    """Return whether `address` (an IP, `localhost` or a wildcard) is local to the host."""
    text = address.strip().strip("[]")
    if text.lower() == "localhost":
        return True
    try:
        parsed = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped:
        return parsed.ipv4_mapped.is_loopback
    return parsed.is_loopback


def is_wildcard(address: str) -> bool:
    """Return whether `address` means every address of the host."""
    return address.strip() in WILDCARDS


def exposed_addresses(setting: ListenSetting) -> tuple[str, ...]:
    """Return the configured addresses that are not loopback."""
    return tuple(a for a in setting.addresses if not is_loopback(a))


def parse_version(text: str | None) -> tuple[int, ...] | None:
    """Return a version string as a tuple of numbers, or None when it has none."""
    if not text:
        return None
    numbers = re.findall(r"\d+", text)
    return tuple(int(n) for n in numbers[:4]) if numbers else None


def path_index(installation: Installation) -> dict[str, PathFacts]:
    """Return every examined path of an installation by its path."""
    index = {facts.path: facts for facts in installation.ancestors}
    for tree in installation.trees:
        index.update((entry.path, entry) for entry in tree.entries)
    for config in installation.config_files:
        if config.facts is not None:
            index[config.facts.path] = config.facts
    return index


def other_installations(snapshot: Snapshot, installation: Installation) -> Iterator[Installation]:
    """Yield the installations of the snapshot other than `installation`."""
    for other in snapshot.installations:
        if other is not installation:
            yield other


def mode_text(mode: int) -> str:
    """Return permission bits as four octal digits."""
    return f"{mode:04o}"


def plural(count: int, noun: str) -> str:
    """Return `count` with `noun`, adding an s unless the count is one."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def csp_status(issues: Sequence[CspIssue]) -> Status:
    """Return how a policy's issues count: a high one fails, any other only warns.

    The checklist asks for a CSP and recommends one that itself lacks `base-uri` and
    `frame-ancestors`; weaknesses short of scripts from anywhere are beyond its letter.
    """
    if any(issue.severity.rank >= Severity.HIGH.rank for issue in issues):
        return Status.FAIL
    return Status.WARN if issues else Status.PASS
