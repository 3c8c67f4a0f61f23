"""Facts derived from passwords, which are then forgotten."""

from __future__ import annotations

import pytest

from mxguard.collect.passwords import describe_password, estimate_entropy_bits
from mxguard.facts import Source

SOURCE = Source(file="m2ee.yaml", line=3)


def test_yaml_number_one_is_the_default_password_one() -> None:
    facts = describe_password(1, source=SOURCE)
    assert facts.is_known_default and facts.length == 1


@pytest.mark.parametrize("text", ["aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "abcabcabcabcabcabcabcabcabc"])
def test_repetition_scores_low_however_long(text: str) -> None:
    assert estimate_entropy_bits(text) < 64


def test_a_long_random_string_scores_high() -> None:
    assert estimate_entropy_bits("q7Vx2LmP9sRt4KwZ8bNc3HjF6dGy") > 100


def test_reuse_and_the_app_name_are_noticed() -> None:
    facts = describe_password("Shop", source=SOURCE, app_name="shop", database_password="Shop")
    assert facts.equals_app_name and facts.equals_database_password


def test_common_passwords_are_recognised_case_insensitively() -> None:
    assert describe_password("Qwerty123", source=SOURCE).is_common


def test_an_unset_password_is_said_to_be_unset() -> None:
    assert not describe_password(None, source=SOURCE).is_set


def test_the_facts_hold_nothing_of_the_password() -> None:
    facts = describe_password("zebra-Correct-42-horse", source=SOURCE)
    assert "zebra" not in repr(facts)
