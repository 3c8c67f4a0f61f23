"""Deriving facts from a password so that the password itself can be forgotten."""

from __future__ import annotations

import math
from collections import Counter
from functools import cache
from importlib import resources
from typing import Any

from mxguard.facts import PasswordFacts, Source

# The literal values m2ee itself refuses, and the defaults found in guides and templates.
KNOWN_DEFAULTS = frozenset(
    {
        "1",
        "password",
        "admin",
        "mendix",
        "m2ee",
        "changeit",
        "changeme",
        "secret",
        "monitoring",
        "mxadmin",
        "default",
        "test",
        "root",
    }
)


def describe_password(
    value: Any,
    *,
    source: Source,
    app_name: str | None = None,
    database_password: Any = None,
) -> PasswordFacts:
    """Return the derived facts of the password `value`; None means it is not set."""
    if value is None:
        return PasswordFacts(source=source, is_set=False)

    # YAML reads `admin_pass: 1` as the number 1; the runtime receives the text "1".
    text = _as_text(value)
    lowered = text.lower()
    return PasswordFacts(
        source=source,
        is_set=True,
        length=len(text),
        character_classes=_character_classes(text),
        entropy_bits=round(estimate_entropy_bits(text), 1),
        is_known_default=lowered in KNOWN_DEFAULTS,
        is_common=lowered in _common_passwords(),
        equals_app_name=bool(app_name) and lowered == str(app_name).lower(),
        equals_database_password=database_password is not None
        and text == _as_text(database_password),
    )


def estimate_entropy_bits(text: str) -> float:
    """Return a conservative estimate of the bits of randomness in `text`.

    Each character counts for the smaller of the size of its alphabet (by the character
    classes used) and the text's own per-character Shannon entropy, so that repetition
    ("aaaa…") and short cycles ("abcabc…") score low however long they are.
    """
    if not text:
        return 0.0
    alphabet = sum(
        size
        for present, size in (
            (any(c.islower() for c in text), 26),
            (any(c.isupper() for c in text), 26),
            (any(c.isdigit() for c in text), 10),
            (any(not c.isalnum() for c in text), 33),
        )
        if present
    )
    counts = Counter(text)
    shannon = -sum((n / len(text)) * math.log2(n / len(text)) for n in counts.values())
    return max(0.0, len(text) * min(math.log2(alphabet), shannon))


def _character_classes(text: str) -> int:
    return sum(
        (
            any(c.islower() for c in text),
            any(c.isupper() for c in text),
            any(c.isdigit() for c in text),
            any(not c.isalnum() for c in text),
        )
    )


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@cache
def _common_passwords() -> frozenset[str]:
    listing = resources.files("mxguard.data").joinpath("common-passwords.txt").read_text("utf-8")
    return frozenset(
        line.strip().lower() for line in listing.splitlines() if line and not line.startswith("#")
    )
