"""How CSP weaknesses count: scripts from anywhere fail; weaknesses beyond the checklist warn."""

from __future__ import annotations

from mxguard.checks.common import csp_status
from mxguard.csp import evaluate_csp
from mxguard.model import Status

CHECKLIST_POLICY = (
    "default-src 'none'; img-src 'self'; script-src 'self' https://shop.example.com; "
    "style-src 'self'"
)


def test_the_policy_the_checklist_recommends_warns_but_does_not_fail() -> None:
    issues = evaluate_csp(CHECKLIST_POLICY)
    assert {i.code for i in issues} == {"base-uri-missing", "frame-ancestors-missing"}
    assert csp_status(issues) is Status.WARN


def test_inline_scripts_fail() -> None:
    assert csp_status(evaluate_csp("default-src 'self' 'unsafe-inline'")) is Status.FAIL


def test_a_complete_policy_passes() -> None:
    policy = CHECKLIST_POLICY + "; object-src 'none'; base-uri 'self'; frame-ancestors 'none'"
    assert csp_status(evaluate_csp(policy)) is Status.PASS
