"""Reading m2ee YAML that may be malformed or hostile."""

from __future__ import annotations

from pathlib import Path

import pytest

from mxguard.discovery.safeyaml import MAX_BYTES, load_file, loads
from mxguard.errors import ConfigError, UnsafeConfigError

BOMB = b"a: &a [x, x, x, x, x, x, x, x, x]\n" + b"".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n".encode()
    for i in range(8)
)


def test_keys_keep_their_lines() -> None:
    document = loads(b"m2ee:\n  app_name: shop\n\n  admin_port: 9000\n", path="m2ee.yaml")
    assert document["m2ee"]["admin_port"] == 9000
    assert document["m2ee"].lines == {"app_name": 2, "admin_port": 4}


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (BOMB, "alias bomb"),
        (b"[" * 1000, "nested deeper"),
        (b"x: !!python/object/apply:os.system ['true']\n", "could not determine a constructor"),
        (b"x: !custom 1\n", "could not determine a constructor"),
        (b"m2ee:\n  admin_port: [9000\n", "invalid YAML"),
        (b"m2ee:\n  admin_pass: \xff\xfe\n", "not valid UTF-8"),
        (b"{[1]: 2}\n", "cannot be hashed"),
        (b"a: 1\n---\nb: 2\n", "invalid YAML"),
    ],
    ids=[
        "alias-bomb",
        "deep",
        "python-tag",
        "unknown-tag",
        "truncated",
        "non-utf8",
        "bad-key",
        "two",
    ],
)
def test_hostile_or_broken_yaml_is_refused_with_the_file_named(raw: bytes, problem: str) -> None:
    with pytest.raises(ConfigError) as raised:
        loads(raw, path="/srv/app/.m2ee/m2ee.yaml")
    assert problem in str(raised.value)
    assert str(raised.value).startswith("/srv/app/.m2ee/m2ee.yaml")


def test_the_line_of_a_broken_document_is_reported() -> None:
    with pytest.raises(ConfigError) as raised:
        loads(b"m2ee:\n  app_name: shop\n  admin_pass: \xff\n", path="f")
    assert raised.value.line == 3


def test_an_oversized_file_is_refused_before_parsing(tmp_path: Path) -> None:
    big = tmp_path / "m2ee.yaml"
    big.write_bytes(b"# padding\n" * (MAX_BYTES // 10 + 1))
    with pytest.raises(UnsafeConfigError, match="larger than"):
        load_file(str(big))


def test_a_few_aliases_are_fine() -> None:
    assert loads(b"base: &b {port: 1}\nother: *b\n", path="f")["other"] == {"port": 1}
