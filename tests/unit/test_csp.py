"""The CSP evaluator: parsing as browsers do, and each weakness with its stable code."""

from __future__ import annotations

import dataclasses

import pytest

from mxguard.csp import CspIssue, evaluate_csp, parse_csp
from mxguard.model import Severity

STRONG = (
    "default-src 'none'; script-src 'self'; img-src 'self'; style-src 'self'; "
    "object-src 'none'; base-uri 'self'; frame-ancestors 'none'"
)


def codes(value: str, **kwargs: bool) -> set[str]:
    return {issue.code for issue in evaluate_csp(value, **kwargs)}


# Parsing


def test_parse_splits_directives_and_lowercases_names() -> None:
    policy = parse_csp("Script-Src 'self' https://cdn.example.com ;  ; img-src *")
    assert [d.name for d in policy.directives] == ["script-src", "img-src"]
    assert policy.get("script-src") is not None
    assert policy.get("script-src").sources == ("'self'", "https://cdn.example.com")  # type: ignore[union-attr]


def test_parse_keeps_the_first_of_a_repeated_directive() -> None:
    policy = parse_csp("script-src 'self'; script-src *")
    assert policy.get("script-src").sources == ("'self'",)  # type: ignore[union-attr]
    assert policy.duplicates == ("script-src",)
    assert "duplicate-directive" in codes("script-src 'self'; script-src *")


def test_parse_follows_the_default_src_fallback() -> None:
    policy = parse_csp("default-src 'self'; img-src *")
    assert policy.effective("script-src").name == "default-src"  # type: ignore[union-attr]
    assert policy.effective("base-uri") is None
    assert policy.effective("frame-ancestors") is None


def test_parse_splits_several_policies_on_commas() -> None:
    policy = parse_csp("script-src *, script-src 'self'")
    assert len(policy.policies) == 2


def test_parse_survives_hostile_input() -> None:
    assert parse_csp("").directives == ()
    assert parse_csp(";;;,,,").directives == ()
    assert parse_csp("\x00\xff é; script-src 'self'").get("script-src") is not None
    assert len(parse_csp("img-src a; " * 10_000).directives) == 1


def test_issue_is_frozen_and_keyword_only() -> None:
    issue = evaluate_csp("")[0]
    assert isinstance(issue, CspIssue)
    assert isinstance(issue.severity, Severity)
    with pytest.raises(dataclasses.FrozenInstanceError):
        issue.code = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        CspIssue("a", Severity.LOW, "b", "c")  # type: ignore[misc]


# A good policy passes


def test_the_strong_policy_has_no_issue() -> None:
    assert evaluate_csp(STRONG) == ()


def test_a_nonce_based_strict_dynamic_policy_has_no_issue() -> None:
    value = (
        "script-src 'nonce-R4nd0mV4lu3xyz' 'strict-dynamic' 'unsafe-inline' https: http:; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'self'"
    )
    assert evaluate_csp(value) == ()


# Script weaknesses


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("script-src 'self' 'unsafe-inline'", "script-src-unsafe-inline"),
        ("default-src 'self' 'unsafe-inline'", "script-src-unsafe-inline"),
        ("script-src 'self' 'unsafe-eval'", "script-src-unsafe-eval"),
        ("script-src 'self' 'unsafe-hashes' 'sha256-abc='", "script-src-unsafe-hashes"),
        ("script-src *", "script-src-wildcard"),
        ("script-src https:", "script-src-scheme-source"),
        ("script-src data:", "script-src-scheme-source"),
        ("img-src 'self'", "script-src-missing"),
        ("script-src 'self' http://cdn.example.com", "http-source"),
        ("script-src 'strict-dynamic' 'self'", "script-src-strict-dynamic-without-nonce"),
    ],
)
def test_script_weakness_is_reported(value: str, code: str) -> None:
    assert code in codes(value)


def test_unsafe_inline_is_ignored_when_a_nonce_or_hash_is_present() -> None:
    assert "script-src-unsafe-inline" not in codes("script-src 'unsafe-inline' 'nonce-abcdefgh12'")
    assert "script-src-unsafe-inline" not in codes(
        "script-src 'unsafe-inline' 'sha256-YWJjZGVmZ2hpamtsbW5vcA=='"
    )


def test_strict_dynamic_ignores_host_and_scheme_sources() -> None:
    assert "script-src-wildcard" not in codes("script-src 'strict-dynamic' 'nonce-abcdefgh12' *")
    assert "script-src-wildcard" in codes("script-src 'nonce-abcdefgh12' *")


def test_script_src_overrides_a_weak_default_src() -> None:
    assert "script-src-unsafe-inline" not in codes("default-src 'unsafe-inline'; script-src 'self'")


def test_script_src_none_is_strong() -> None:
    assert not {c for c in codes("script-src 'none'") if c.startswith("script-src")}


def test_a_short_nonce_is_reported() -> None:
    assert "nonce-too-short" in codes("script-src 'nonce-abc'")
    assert "nonce-too-short" not in codes("script-src 'nonce-abcdefgh'")


# Other directives


def test_object_src_missing_and_permissive() -> None:
    assert "object-src-missing" in codes("script-src 'self'")
    assert "object-src-missing" not in codes("default-src 'self'")
    assert "object-src-permissive" in codes("default-src *")
    assert "object-src-permissive" not in codes("default-src *; object-src 'none'")


def test_base_uri_does_not_fall_back_to_default_src() -> None:
    assert "base-uri-missing" in codes("default-src 'none'")
    assert "base-uri-missing" not in codes("default-src 'none'; base-uri 'none'")


def test_framing() -> None:
    assert "frame-ancestors-missing" in codes("default-src 'none'")
    assert "frame-ancestors-permissive" in codes("default-src 'none'; frame-ancestors *")
    assert "frame-ancestors-permissive" in codes("default-src 'none'; frame-ancestors https:")
    assert not {c for c in codes(STRONG) if c.startswith("frame-ancestors")}


# Mistakes of form


def test_unknown_directive() -> None:
    found = evaluate_csp(STRONG + "; scirpt-src 'self'")
    assert [i.directive for i in found if i.code == "unknown-directive"] == ["scirpt-src"]


def test_missing_semicolon_is_detected() -> None:
    assert "missing-semicolon" in codes("script-src 'self' object-src 'none'")


def test_keywords_without_quotes() -> None:
    assert "keyword-missing-quotes" in codes("script-src self")
    assert "keyword-missing-quotes" in codes("object-src none")


def test_unknown_quoted_keyword() -> None:
    assert "unknown-keyword" in codes("script-src 'selff'")
    assert "unknown-keyword" not in codes("script-src 'wasm-unsafe-eval'")


def test_directives_without_a_source_list_have_keywords_of_their_own() -> None:
    # Trusted Types and WebRTC take their own quoted keywords, not source expressions
    assert codes(STRONG + "; require-trusted-types-for 'script'; trusted-types app 'none'") == set()
    assert codes(STRONG + "; webrtc 'block'") == set()
    # and a source keyword there is as unknown as a misspelt one
    assert "unknown-keyword" in codes(STRONG + "; require-trusted-types-for 'self'")


def test_deprecated_directive() -> None:
    assert "deprecated-directive" in codes(STRONG + "; block-all-mixed-content")


# Report-only and several policies


def test_report_only_enforces_nothing() -> None:
    found = evaluate_csp(STRONG, report_only=True)
    assert [i.code for i in found] == ["report-only"]
    assert found[0].severity is Severity.HIGH


def test_a_weakness_counts_only_when_every_policy_has_it() -> None:
    # The second policy forbids inline scripts, so together they do too.
    assert "script-src-unsafe-inline" not in codes(
        "script-src 'unsafe-inline' 'self', script-src 'self'"
    )
    assert "script-src-unsafe-inline" in codes(
        "script-src 'unsafe-inline', default-src 'unsafe-inline'"
    )


def test_empty_policy() -> None:
    assert codes("") == {"empty-policy"}


def test_issues_are_ordered_worst_first() -> None:
    found = evaluate_csp("script-src * 'unsafe-eval'; foo-src x")
    ranks = [i.severity.rank for i in found]
    assert ranks == sorted(ranks, reverse=True)


def test_checklist_recommended_policy_lacks_only_the_hardening_extras() -> None:
    recommended = "default-src 'none'; img-src 'self'; script-src 'self'; style-src 'self'"
    assert codes(recommended) == {"base-uri-missing", "frame-ancestors-missing"}
