"""Recognising stored password hashes by shape and testing them against the defaults."""

from __future__ import annotations

import base64
import hashlib
import time

import bcrypt
import pytest

from mxguard.collect import hashes

FAR = float("inf")


def _bcrypt(password: str, prefix: bytes = b"2b") -> str:
    made = bcrypt.hashpw(password.encode(), bcrypt.gensalt(4, prefix=prefix)).decode()
    return made


@pytest.mark.parametrize("prefix", [b"2a", b"2b"])
@pytest.mark.parametrize("label", ["", "{BCRYPT}", "BCRYPT:"])
def test_bcrypt_with_or_without_a_label_is_tested(prefix: bytes, label: str) -> None:
    weak = hashes.judge(label + _bcrypt("1", prefix), "MxAdmin", deadline=FAR)
    assert (weak.hash_format, weak.verdict, weak.default_kind) == (
        "bcrypt",
        "default",
        "development",
    )

    strong = hashes.judge(label + _bcrypt("cX9-long-and-random"), "MxAdmin", deadline=FAR)
    assert (strong.hash_format, strong.verdict) == ("bcrypt", "not-default")


def test_2y_bcrypt_as_php_writes_it_is_tested() -> None:
    made = _bcrypt("admin").replace("$2b$", "$2y$", 1)
    verdict = hashes.judge(made, "someone", deadline=FAR)
    assert (verdict.verdict, verdict.default_kind) == ("default", "well-known")


def test_the_account_name_as_password_is_a_default() -> None:
    verdict = hashes.judge(_bcrypt("ops-admin-7"), "ops-admin-7", deadline=FAR)
    assert verdict.verdict == "default" and verdict.default_kind == "well-known"


@pytest.mark.parametrize(
    ("stored", "algorithm"),
    [
        (hashlib.sha256(b"1").hexdigest(), "sha256"),
        (hashlib.sha256(b"1").hexdigest().upper(), "sha256"),
        ("{SHA256}" + hashlib.sha256(b"1").hexdigest(), "sha256"),
        (base64.b64encode(hashlib.sha256(b"1").digest()).decode(), "sha256"),
        (hashlib.md5(b"1").hexdigest(), "md5"),  # noqa: S324 - the legacy format under test
        (base64.b64encode(hashlib.md5(b"1").digest()).decode(), "md5"),  # noqa: S324
    ],
)
def test_legacy_digests_are_recognised_and_tested(stored: str, algorithm: str) -> None:
    verdict = hashes.judge(stored, "MxAdmin", deadline=FAR)
    assert (verdict.hash_format, verdict.verdict) == (algorithm, "default")


@pytest.mark.parametrize("salt_first", [False, True])
@pytest.mark.parametrize("digest_first", [False, True])
def test_salted_sha256_in_every_layout_is_tested(salt_first: bool, digest_first: bool) -> None:
    salt = b"\x01\x02\x03\x04\x05\x06\x07\x08"
    message = salt + b"1" if salt_first else b"1" + salt
    digest = hashlib.sha256(message).digest()
    raw = digest + salt if digest_first else salt + digest
    verdict = hashes.judge("{SSHA256}" + base64.b64encode(raw).decode(), "MxAdmin", deadline=FAR)
    assert (verdict.hash_format, verdict.verdict) == ("ssha256", "default")


@pytest.mark.parametrize(
    ("stored", "shape_part"),
    [
        ("$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$" + "A" * 43, "$argon2id$"),
        ("{PBKDF2}" + "Zm9vYmFy" * 6, "{PBKDF2}"),
        ("plain text password", "no format marker"),
        ("ab" * 20, "hexadecimal"),
    ],
)
def test_an_unknown_format_is_unchecked_and_its_shape_hides_the_value(
    stored: str, shape_part: str
) -> None:
    verdict = hashes.judge(stored, "MxAdmin", deadline=FAR)
    assert (verdict.hash_format, verdict.verdict) == ("unknown", "unchecked")
    assert shape_part in verdict.hash_shape and "not known" in verdict.reason
    assert stored not in verdict.hash_shape


def test_binary_and_empty_values_are_not_guessed() -> None:
    assert hashes.judge(b"\xff\xfe\x00", "a", deadline=FAR).hash_format == "unknown"
    assert hashes.judge(None, "a", deadline=FAR).hash_format == "empty"
    assert hashes.judge("  ", "a", deadline=FAR).verdict == "unchecked"


def test_a_hostile_bcrypt_cost_is_not_tested() -> None:
    stored = "$2b$31$" + "a" * 53
    started = time.monotonic()
    verdict = hashes.judge(stored, "MxAdmin", deadline=FAR)
    assert time.monotonic() - started < 1
    assert verdict.verdict == "unchecked" and "cost 31" in verdict.reason


def test_a_passed_deadline_leaves_the_verdict_unchecked_not_passed() -> None:
    verdict = hashes.judge(_bcrypt("strong-and-long-9"), "MxAdmin", deadline=0.0)
    assert verdict.verdict == "unchecked" and "time" in verdict.reason
