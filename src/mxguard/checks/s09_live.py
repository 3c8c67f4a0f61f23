"""§9 over the network — the security headers users' browsers actually receive."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from mxguard.checks.common import csp_status
from mxguard.checks.live_common import site_subject, sites, with_connection_evidence
from mxguard.checks.registry import Outcome, check, failed, passed, skipped, warned
from mxguard.csp import CspIssue, evaluate_csp
from mxguard.facts import Snapshot
from mxguard.live.facts import Response, SiteProbe
from mxguard.model import Severity, Status

JUDGED_STATIC = ("/", "/index.html")
# A product name followed by a version number: nginx/1.22.1, Apache/2.4.57 (Debian), Jetty(9.4).
_VERSION = re.compile(r"[A-Za-z][\w.-]*[/( ]v?\d+(?:\.\d+)+")


def _judged(site: SiteProbe) -> list[Response]:
    """Return the static pages and the dynamic endpoint that answered, to judge headers on."""
    judged = [
        p.response
        for p in site.pages
        if p.path in JUDGED_STATIC and p.response.status and p.response.status < 400
    ]
    if site.session is not None:
        judged.extend(
            r
            for r in site.session.responses
            if "/xas/" in r.url and r.status and r.status < 400 and not r.error
        )
    return judged


def _per_site(
    snapshot: Snapshot,
    judge: Callable[[Response], str | None],
    *,
    praise: str,
    make: Callable[..., Outcome] = failed,
) -> Iterator[Outcome]:
    """Apply `judge` (a problem in words, or None) to each judged response of each site."""
    for item in sites(snapshot):
        if isinstance(item, Outcome):
            yield item
            continue
        subject = site_subject(item)
        responses = _judged(item)
        if not responses:
            yield skipped(subject, "no page or /xas/ answer to judge", url=item.probed_url)
            continue
        problems = {r.url: p for r in responses if (p := judge(r)) is not None}
        evidence = {"urls": [r.url for r in responses], "problems": problems or None}
        if problems:
            shown = "; ".join(f"{url}: {problem}" for url, problem in problems.items())
            yield make(subject, shown, url=next(iter(problems)), **evidence)
        else:
            yield passed(subject, praise, url=item.probed_url, **evidence)


@check(
    id="live-csp-missing",
    section="9",
    title="No enforced Content-Security-Policy header",
    severity=Severity.HIGH,
    rationale=(
        "The checklist puts Content-Security-Policy first: it stops injected scripts from "
        "running when an XSS flaw slips through."
    ),
    remediation=(
        "add_header Content-Security-Policy \"default-src 'none'; img-src 'self'; script-src "
        "'self'; style-src 'self'; connect-src 'self'; font-src 'self'; base-uri 'self'; "
        "form-action 'self'; frame-ancestors 'none'; object-src 'none'\" always;"
    ),
)
@with_connection_evidence
def csp_header_missing(snapshot: Snapshot) -> Iterator[Outcome]:
    """Fail a page or `/xas/` answer that carries no enforced CSP."""

    def judge(response: Response) -> str | None:
        if response.header_values("Content-Security-Policy"):
            return None
        if response.header("Content-Security-Policy-Report-Only") is not None:
            return "only Content-Security-Policy-Report-Only, which enforces nothing"
        return "no Content-Security-Policy"

    return _per_site(snapshot, judge, praise="every answer carries a CSP")


@check(
    id="live-csp-weak",
    section="9",
    title="The Content-Security-Policy leaves scripts or framing open",
    severity=Severity.MEDIUM,
    rationale=(
        "A policy with 'unsafe-inline', wildcards or missing object-src/base-uri does not "
        "stop the attacks it exists for."
    ),
    remediation="Tighten the policy as the finding says; keep 'unsafe-inline' out of script-src.",
)
@with_connection_evidence
def csp_weak(snapshot: Snapshot) -> Iterator[Outcome]:
    """Judge each enforced CSP with the CSP evaluator: fail on high issues, warn on medium."""
    for item in sites(snapshot):
        if isinstance(item, Outcome):
            yield item
            continue
        subject = site_subject(item)
        policies = {
            r.url: ", ".join(v)
            for r in _judged(item)
            if (v := r.header_values("Content-Security-Policy"))
        }
        if not policies:
            yield skipped(subject, "no enforced CSP to judge (see live-csp-missing)", url=item.url)
            continue
        worst: list[tuple[str, CspIssue]] = []
        for url, value in policies.items():
            worst.extend((url, issue) for issue in evaluate_csp(value))
        evidence = {
            "url": next(iter(policies)),
            "policy": next(iter(policies.values()))[:2000],
            "issues": sorted({f"{i.code} ({i.severity.value})" for _, i in worst}) or None,
        }
        status = csp_status([issue for _, issue in worst])
        if status is Status.PASS:
            yield passed(subject, "the CSP has no known weakness", **evidence)
            continue
        shown = "; ".join(dict.fromkeys(f"{i.code}: {i.message}" for _, i in worst))
        make = failed if status is Status.FAIL else warned
        yield make(subject, f"{worst[0][0]}: {shown}", **evidence)


@check(
    id="live-nosniff-missing",
    section="9",
    title="X-Content-Type-Options: nosniff is missing",
    severity=Severity.MEDIUM,
    rationale="Without nosniff, browsers may run an uploaded file as script or style.",
    remediation='add_header X-Content-Type-Options "nosniff" always;',
)
@with_connection_evidence
def nosniff_header_missing(snapshot: Snapshot) -> Iterator[Outcome]:
    """Fail answers without `X-Content-Type-Options: nosniff`."""

    def judge(response: Response) -> str | None:
        value = response.header("X-Content-Type-Options")
        if value is None:
            return "no X-Content-Type-Options"
        return None if value.strip().lower() == "nosniff" else f"X-Content-Type-Options: {value}"

    return _per_site(snapshot, judge, praise="every answer sends nosniff")


@check(
    id="live-framing-not-denied",
    section="9",
    title="Other sites may frame the application (clickjacking)",
    severity=Severity.MEDIUM,
    rationale="A page that can be framed by any site can be overlaid to trick clicks.",
    remediation=(
        "Send CSP frame-ancestors 'self' (or 'none'), and X-Frame-Options SAMEORIGIN for old "
        "browsers."
    ),
)
@with_connection_evidence
def framing_not_restricted(snapshot: Snapshot) -> Iterator[Outcome]:
    """Fail answers with neither `X-Frame-Options` nor CSP `frame-ancestors`."""

    def judge(response: Response) -> str | None:
        policies = " ".join(response.header_values("Content-Security-Policy")).lower()
        if "frame-ancestors" in policies:
            return None
        value = (response.header("X-Frame-Options") or "").strip().upper()
        if value in ("DENY", "SAMEORIGIN"):
            return None
        return "neither frame-ancestors nor X-Frame-Options DENY/SAMEORIGIN"

    return _per_site(snapshot, judge, praise="framing is restricted everywhere")


@check(
    id="live-referrer-policy-missing",
    section="9",
    title="No Referrer-Policy header",
    severity=Severity.LOW,
    rationale="Without a policy, full URLs (with ids and tokens in them) leak to other sites.",
    remediation='add_header Referrer-Policy "strict-origin-when-cross-origin" always;',
)
@with_connection_evidence
def referrer_policy_missing(snapshot: Snapshot) -> Iterator[Outcome]:
    """Warn about answers without `Referrer-Policy` or with `unsafe-url`."""

    def judge(response: Response) -> str | None:
        value = response.header("Referrer-Policy")
        if value is None:
            return "no Referrer-Policy"
        return "Referrer-Policy: unsafe-url" if "unsafe-url" in value.lower() else None

    return _per_site(snapshot, judge, praise="a Referrer-Policy everywhere", make=warned)


@check(
    id="server-header-leaks-version",
    section="9",
    title="The Server header tells the software version",
    severity=Severity.LOW,
    rationale="A version in every answer saves an attacker the work of finding what to exploit.",
    remediation="Hide it (nginx: server_tokens off; Apache: ServerTokens Prod).",
)
@with_connection_evidence
def server_header_leaks_version(snapshot: Snapshot) -> Iterator[Outcome]:
    """Warn when a `Server` (or `X-Powered-By`) header carries a version number."""

    def judge(response: Response) -> str | None:
        for name in ("Server", "X-Powered-By"):
            value = response.header(name)
            if value and _VERSION.search(value):
                return f"{name}: {value[:120]}"
        return None

    return _per_site(snapshot, judge, praise="no version in Server headers", make=warned)
