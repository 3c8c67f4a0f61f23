"""Recognising a stored password hash by its shape and testing it against known defaults.

Mendix hashes user passwords with BCrypt by default and offers SSHA256, SHA256 and MD5 as
legacy choices (`HashAlgorithm`). Exactly how the legacy values are laid out in the column
is not documented, so each format is recognised by its shape and every plausible layout is
tried. A hash that fits no known shape is reported as unknown, with a description of its
shape that reveals nothing of the value.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import bcrypt

# What Studio Pro sets in development mode; the rest are defaults seen in guides and demos.
DEVELOPMENT_DEFAULT = "1"
WELL_KNOWN_DEFAULTS = ("admin", "password", "MxAdmin", "mxadmin", "Admin1", "mendix")

# A BCrypt cost above this takes seconds per guess; testing it would stall the audit.
MAX_BCRYPT_COST = 14

_BCRYPT = re.compile(
    r"^(?P<prefix>.{0,24}?)(?P<hash>\$2[abxy]?\$(?P<cost>\d{2})\$[./A-Za-z0-9]{53})$", re.DOTALL
)
_LABEL = re.compile(r"^(?:\{(?P<brace>[A-Za-z0-9_-]{1,16})\}|(?P<word>[A-Za-z0-9_-]{1,16}):)")
_MARKER = re.compile(r"^\$(?P<id>[A-Za-z0-9_-]{1,16})\$")
_HEX = re.compile(r"^[0-9a-fA-F]+$")
_BASE64 = re.compile(r"^[A-Za-z0-9+/]+={0,2}$")


@dataclass(frozen=True, slots=True, kw_only=True)
class Verdict:
    """What testing one stored hash concluded; holds no part of the hash."""

    hash_format: str  # bcrypt | ssha256 | sha256 | md5 | empty | unknown
    hash_shape: str = ""
    verdict: str = "unchecked"  # default | not-default | unchecked
    default_kind: str = ""  # development | well-known
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class _Shape:
    hash_format: str
    test: Callable[[str], bool] | None = None
    shape: str = ""
    reason: str = ""


def candidates(account: str) -> tuple[str, ...]:
    """Return the passwords to try for `account`: Studio Pro's `1` first, then defaults."""
    return tuple(dict.fromkeys((DEVELOPMENT_DEFAULT, *WELL_KNOWN_DEFAULTS, account)))


def judge(stored: str | bytes | None, account: str, *, deadline: float) -> Verdict:
    """Return the verdict on the hash `stored` of `account`, giving up at `deadline`.

    `deadline` is a `time.monotonic()` value; candidates left untried when it passes make
    the verdict `unchecked`, never `not-default`.
    """
    shape = recognise(stored)
    if shape.test is None:
        return Verdict(hash_format=shape.hash_format, hash_shape=shape.shape, reason=shape.reason)
    for candidate in candidates(account):
        if time.monotonic() > deadline:
            return Verdict(
                hash_format=shape.hash_format,
                hash_shape=shape.shape,
                reason="the time allowed for testing hashes ran out",
            )
        if shape.test(candidate):
            kind = "development" if candidate == DEVELOPMENT_DEFAULT else "well-known"
            return Verdict(hash_format=shape.hash_format, verdict="default", default_kind=kind)
    return Verdict(hash_format=shape.hash_format, verdict="not-default")


def recognise(stored: str | bytes | None) -> _Shape:
    """Return the format of a stored hash and a function testing a password against it."""
    if isinstance(stored, bytes | bytearray | memoryview):
        try:
            stored = bytes(stored).decode("ascii")
        except UnicodeDecodeError:
            return _Shape(hash_format="unknown", shape=f"{len(stored)} bytes, not text")
    if stored is None or not stored.strip():
        return _Shape(hash_format="empty", reason="no password hash is stored")
    text = stored.strip()

    found = _BCRYPT.match(text)
    if found:
        return _bcrypt(found)
    body, label = _strip_label(text)
    if _HEX.match(body) and len(body) in (32, 64) and label in ("", "MD5", "SHA256"):
        algorithm = "md5" if len(body) == 32 else "sha256"
        digest = bytes.fromhex(body)
        return _Shape(hash_format=algorithm, test=lambda p: _equal(_digest(algorithm, p), digest))
    raw = _base64(body)
    if raw is not None and label in ("", "MD5", "SHA256", "SSHA256", "SSHA-256"):
        if len(raw) == 16 and label in ("", "MD5"):
            return _Shape(hash_format="md5", test=lambda p: _equal(_digest("md5", p), raw))
        if len(raw) == 32 and label in ("", "SHA256"):
            return _Shape(hash_format="sha256", test=lambda p: _equal(_digest("sha256", p), raw))
        if 32 < len(raw) <= 32 + 64:
            return _Shape(hash_format="ssha256", test=lambda p: _salted_sha256(p, raw))
    return _Shape(hash_format="unknown", shape=describe(text), reason="the format is not known")


def describe(text: str) -> str:
    """Return how a hash looks (length, alphabet, a leading marker) without its content."""
    body, label = _strip_label(text)
    marker = _MARKER.match(text)
    if label:
        lead = f"labelled {{{label}}}"
    elif marker:
        lead = f"starting with ${marker.group('id')}$"
    else:
        lead = "with no format marker"
    if _HEX.match(body):
        alphabet = "hexadecimal"
    elif _BASE64.match(body):
        alphabet = "base64 characters"
    else:
        alphabet = "mixed characters"
    return f"{len(text)} characters of {alphabet}, {lead}"


def _bcrypt(found: re.Match[str]) -> _Shape:
    cost = int(found.group("cost"))
    prefix = " after a prefix" if found.group("prefix") else ""
    if cost > MAX_BCRYPT_COST:
        return _Shape(
            hash_format="bcrypt",
            shape=f"bcrypt cost {cost}{prefix}",
            reason=f"cost {cost} is too slow to test (at most {MAX_BCRYPT_COST} is tested)",
        )
    stored = found.group("hash").encode("ascii")

    def test(password: str) -> bool:
        try:
            return bcrypt.checkpw(password.encode("utf-8"), stored)
        except ValueError:
            return False

    return _Shape(hash_format="bcrypt", test=test, shape=f"bcrypt cost {cost}{prefix}")


def _strip_label(text: str) -> tuple[str, str]:
    found = _LABEL.match(text)
    if not found:
        return text, ""
    label = (found.group("brace") or found.group("word") or "").upper()
    return text[found.end() :], label


def _base64(text: str) -> bytes | None:
    if not _BASE64.match(text) or len(text) % 4:
        return None
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def _digest(algorithm: str, password: str) -> bytes:
    return hashlib.new(algorithm, password.encode("utf-8")).digest()


def _salted_sha256(password: str, raw: bytes) -> bool:
    # The digest may come before or after the salt, and the salt before or after the password.
    secret = password.encode("utf-8")
    layouts: Sequence[tuple[bytes, bytes]] = ((raw[:32], raw[32:]), (raw[-32:], raw[:-32]))
    for digest, salt in layouts:
        for message in (secret + salt, salt + secret):
            if _equal(hashlib.sha256(message).digest(), digest):
                return True
    return False


def _equal(left: bytes, right: bytes) -> bool:
    return hmac.compare_digest(left, right)
