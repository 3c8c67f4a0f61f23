"""Security advisories for the Mendix Runtime: the bundled set, CSAF 2.0 imports, and matching.

Advisories name affected versions per release line: a major line ("9") and, for
long-supported minor lines, a minor line ("9.12") that overrides the major line for the
versions inside it. A range without a fixed version affects every version of its line from
the first affected one on.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from mxguard.errors import ConfigError

logger = logging.getLogger(__name__)

MAX_CSAF_BYTES = 16 * 1024 * 1024
RUNTIME = "Mendix Runtime"
_VERSION = re.compile(r"(\d+)\.(\d+)(?:\.(\d+))?")
# "Mendix Applications using Mendix 9 (V9.12)", "Mendix Runtime V10.6", "Mendix Runtime V10"
_RUNTIME_PRODUCT = re.compile(
    r"Mendix (?:Applications using Mendix|Runtime)\s+V?(?P<major>\d+)(?:\.(?P<minor>\d+))?"
    r"(?:\s*\(V?(?P<line>\d+\.\d+)\))?",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class AffectedRange:
    """The affected versions of one release line."""

    line: str  # "9" or "9.12"
    introduced: str
    fixed: str | None  # None: no fixed version is named
    condition: str = ""  # when the advisory applies only under a condition, in words


@dataclass(frozen=True, slots=True, kw_only=True)
class Advisory:
    """One advisory for the Mendix Runtime."""

    id: str  # the CVE id, or the advisory's own id when it has no CVE
    summary: str
    cvss3: float | None
    ranges: tuple[AffectedRange, ...]
    source: str  # "bundled" or the CSAF file it came from
    published: str = ""
    ssa: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Match:
    """An advisory that affects a version, with the range that decided it."""

    advisory: Advisory
    range: AffectedRange


def version_key(text: str | None) -> tuple[int, int, int] | None:
    """Return major, minor and patch of a version such as `10.24.3.78414` or `V9.12`."""
    if not text:
        return None
    match = _VERSION.search(text)
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)


def affecting(version: str, advisories: Iterable[Advisory]) -> list[Match]:
    """Return the advisories that affect runtime `version`, most severe first."""
    key = version_key(version)
    if key is None:
        return []
    found = []
    for advisory in advisories:
        chosen = _range_for(key, advisory.ranges)
        if chosen is not None and _is_inside(key, chosen):
            found.append(Match(advisory=advisory, range=chosen))
    return sorted(found, key=lambda m: (-(m.advisory.cvss3 or 0.0), m.advisory.id))


def _range_for(key: tuple[int, int, int], ranges: Sequence[AffectedRange]) -> AffectedRange | None:
    # A minor line speaks for its own versions; the major line for the rest.
    minor = next((r for r in ranges if r.line == f"{key[0]}.{key[1]}"), None)
    return minor or next((r for r in ranges if r.line == str(key[0])), None)


def _is_inside(key: tuple[int, int, int], affected: AffectedRange) -> bool:
    start = version_key(affected.introduced) or (key[0], 0, 0)
    if key < start:
        return False
    end = version_key(affected.fixed)
    return end is None or key < end


def merge(*sets: Iterable[Advisory]) -> tuple[Advisory, ...]:
    """Return the advisories of all `sets`; a later set's advisory replaces an earlier one's."""
    by_id: dict[str, Advisory] = {}
    for advisories in sets:
        for advisory in advisories:
            by_id[advisory.id] = advisory
    return tuple(by_id.values())


@cache
def bundled() -> tuple[Advisory, ...]:
    """Return the runtime advisories shipped with mxguard."""
    text = resources.files("mxguard.data").joinpath("mendix-advisories.json").read_text("utf-8")
    document = json.loads(text)
    advisories = []
    for entry in document["advisories"]:
        if entry.get("product") != RUNTIME:
            continue
        ranges = tuple(
            AffectedRange(line=r["line"], introduced=r["introduced"], fixed=r.get("fixed"))
            for r in entry["affected"]
        )
        advisories.append(
            Advisory(
                id=entry["cve"],
                summary=entry.get("summary", ""),
                cvss3=entry.get("cvss3"),
                ranges=ranges,
                source="bundled",
                published=entry.get("published", ""),
                ssa=entry.get("ssa", ""),
            )
        )
    return tuple(advisories)


def bundled_date() -> str:
    """Return the date the bundled advisory data was built."""
    text = resources.files("mxguard.data").joinpath("mendix-advisories.json").read_text("utf-8")
    return str(json.loads(text).get("generated", "unknown"))


def load_csaf(path: str) -> list[Advisory]:
    """Return the Mendix Runtime advisories in the CSAF 2.0 document `path`.

    Raises `ConfigError` naming the file when it cannot be read or is not CSAF.
    """
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_CSAF_BYTES + 1)
    except OSError as exc:
        raise ConfigError(exc.strerror or str(exc), path=path) from exc
    if len(raw) > MAX_CSAF_BYTES:
        raise ConfigError(f"larger than {MAX_CSAF_BYTES} bytes", path=path)
    try:
        document = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ConfigError(f"not valid JSON: {exc}", path=path) from exc
    if not isinstance(document, dict) or "product_tree" not in document:
        raise ConfigError("not a CSAF document (no product_tree)", path=path)
    try:
        return _advisories_of(document, path)
    except (KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(f"unexpected CSAF structure: {exc!r}", path=path) from exc


def _advisories_of(document: dict[str, Any], path: str) -> list[Advisory]:
    products = dict(_runtime_products(document["product_tree"].get("branches", [])))
    tracking = document.get("document", {}).get("tracking", {})
    advisories = []
    for vulnerability in document.get("vulnerabilities", []):
        status = vulnerability.get("product_status", {})
        affected_ids = [*status.get("known_affected", []), *status.get("first_affected", [])]
        ranges = tuple(products[pid] for pid in affected_ids if pid in products)
        if not ranges:
            continue
        advisories.append(
            Advisory(
                id=vulnerability.get("cve") or str(tracking.get("id", path)),
                summary=_summary(vulnerability),
                cvss3=_score(vulnerability),
                ranges=ranges,
                source=path,
                published=str(tracking.get("initial_release_date", ""))[:10],
                ssa=str(tracking.get("id", "")),
            )
        )
    return advisories


def _runtime_products(branches: list[Any], name: str = "") -> Iterable[tuple[str, AffectedRange]]:
    for branch in branches:
        category = branch.get("category")
        here = branch.get("name", "") if category == "product_name" else name
        if category == "product_version_range" and "product" in branch:
            affected = _range(name, str(branch.get("name", "")))
            if affected is not None:
                yield branch["product"]["product_id"], affected
        yield from _runtime_products(branch.get("branches", []), here)


def _range(product: str, text: str) -> AffectedRange | None:
    match = _RUNTIME_PRODUCT.search(product)
    if match is None:
        return None  # Studio Pro, modules and other products
    line = match.group("line") or (
        f"{match.group('major')}.{match.group('minor')}"
        if match.group("minor")
        else match.group("major")
    )
    introduced = f"{line}.0" if "." in line else f"{line}.0.0"
    bound = re.search(r"<\s*V?(\d+\.\d+(?:\.\d+)?)", text)
    fixed = bound.group(1) if bound else None
    condition = ""
    if "_only_if_" in text or " only if " in text:
        condition = text.split("only_if_" if "_only_if_" in text else "only if ", 1)[1]
        condition = "only if " + condition.replace("_", " ").strip()
    if bound is None and "all versions" not in text.lower():
        logger.warning("CSAF range %r of %s: no upper bound understood", text, product)
    return AffectedRange(line=line, introduced=introduced, fixed=fixed, condition=condition)


def _summary(vulnerability: dict[str, Any]) -> str:
    for note in vulnerability.get("notes", []):
        if note.get("category") == "summary":
            return str(note.get("text", ""))
    return str(vulnerability.get("title", ""))


def _score(vulnerability: dict[str, Any]) -> float | None:
    for score in vulnerability.get("scores", []):
        base = score.get("cvss_v3", {}).get("baseScore")
        if isinstance(base, int | float):
            return float(base)
    return None
