"""§9 — security headers on the routes that serve HTML, as the proxy really adds them.

The headers judged are each route's effective response headers (after nginx's
inheritance, Apache's merging, IIS's custom headers and outbound rules), including the
`if` blocks that replace them. A header added without `always` is missing from error
pages; `security-headers-not-always` says so.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace

from mxguard.checks.common import csp_status
from mxguard.checks.proxyview import (
    HTML_PATHS,
    evidence,
    header_values,
    no_proxy_reason,
    route_subject,
    selected,
    site_views,
    variants,
)
from mxguard.checks.registry import Outcome, check, failed, passed, skipped, warned
from mxguard.csp import evaluate_csp, parse_csp
from mxguard.facts import Snapshot
from mxguard.model import Severity, Status
from mxguard.proxy.apps import SiteView
from mxguard.proxy.model import Header, Route, Site

MIN_HSTS_SECONDS = 15_552_000  # 180 days
SECURITY_HEADERS = (
    "content-security-policy",
    "strict-transport-security",
    "x-content-type-options",
    "x-frame-options",
    "referrer-policy",
)


def _html_routes(snapshot: Snapshot) -> Iterator[tuple[SiteView, Route]]:
    """Yield each route (and its `if` variants) that serves HTML on a site serving the app."""
    for view in site_views(snapshot):
        site = view.site
        if site.listens and not site.is_tls:
            continue  # a plain-HTTP site is to redirect only (§5)
        seen: set[int] = set()
        for path in HTML_PATHS:
            route = selected(site, path)
            if route is None or route.index in seen or route.kind in ("redirect", "deny"):
                continue
            seen.add(route.index)
            yield from ((view, variant) for variant in variants(site, route))


def _each(snapshot: Snapshot) -> Iterator[tuple[SiteView, Route]] | None:
    if no_proxy_reason(snapshot):
        return None
    return _html_routes(snapshot)


def _skip(snapshot: Snapshot) -> Outcome:
    return skipped(f"host:{snapshot.host}", no_proxy_reason(snapshot) or "")


def _first(headers: tuple[Header, ...], name: str) -> Header | None:
    found = header_values(headers, name)
    return found[0] if found else None


def _only(route: Route, server: str) -> str:
    """Return a note naming the headers a route does add, when it adds some."""
    if not route.response_headers:
        return ""
    own = ", ".join(f"{h.name} (line {h.origin.line})" for h in route.response_headers[:4])
    why = ", which replaces any inherited list" if server == "nginx" else ""
    return f"; it adds only {own}{why}"


def _where(route: Route, header: Header | None, **extra: object) -> dict[str, object]:
    if header is None:
        return evidence(route, **extra)
    return {"file": header.origin.file, "line": header.origin.line, **extra}


@check(
    id="csp-missing",
    section="9",
    title="An HTML route sends no Content-Security-Policy",
    severity=Severity.MEDIUM,
    rationale="A CSP limits what an injected script can do; on premises nobody adds it for you.",
    remediation="Add Content-Security-Policy, starting from default-src 'none'; img-src "
    "'self'; script-src 'self'; style-src 'self'; object-src 'none'; base-uri 'self'; "
    "frame-ancestors 'none' (add `always` in nginx).",
)
def csp_missing(snapshot: Snapshot) -> Iterator[Outcome]:
    """Fail HTML routes that send no enforcing policy."""
    routes = _each(snapshot)
    if routes is None:
        yield _skip(snapshot)
        return
    for view, route in routes:
        subject = route_subject(view.site, route)
        enforced = _first(route.response_headers, "content-security-policy")
        report_only = _first(route.response_headers, "content-security-policy-report-only")
        if enforced is not None:
            yield passed(subject, "sends Content-Security-Policy", **_where(route, enforced))
        elif report_only is not None:
            yield failed(
                subject,
                "sends only Content-Security-Policy-Report-Only, which enforces nothing",
                **_where(route, report_only),
            )
        else:
            yield failed(
                subject,
                "sends no Content-Security-Policy" + _only(route, view.config.server),
                **evidence(route),
            )


@check(
    id="csp-weak",
    section="9",
    title="An HTML route's Content-Security-Policy is weak",
    severity=Severity.MEDIUM,
    rationale="A policy that allows inline scripts, eval, any host or any scheme stops little.",
    remediation="Remove 'unsafe-inline', 'unsafe-eval', '*' and scheme sources from "
    "script-src/default-src; set object-src 'none', base-uri and frame-ancestors.",
)
def csp_weak(snapshot: Snapshot) -> Iterator[Outcome]:
    """Judge each HTML route's policy with mxguard's CSP evaluator."""
    routes = _each(snapshot)
    if routes is None:
        yield _skip(snapshot)
        return
    for view, route in routes:
        subject = route_subject(view.site, route)
        enforced = header_values(route.response_headers, "content-security-policy")
        if not enforced:
            continue  # judged by csp-missing
        value = ", ".join(h.value for h in enforced)
        issues = evaluate_csp(value)
        ev = _where(route, enforced[0], issues=[i.code for i in issues])
        status = csp_status(issues)
        if status is Status.FAIL:
            high = [i for i in issues if i.severity.rank >= Severity.HIGH.rank]
            outcome = failed(subject, "; ".join(i.message for i in high), **ev)
            yield replace(outcome, severity=Severity.HIGH)
        elif status is Status.WARN:
            yield warned(subject, "; ".join(i.message for i in issues), **ev)
        else:
            yield passed(subject, "the policy has no known weakness", **ev)


@check(
    id="hsts-missing-or-short",
    section="9",
    title="A TLS site's HTML route lacks Strict-Transport-Security of at least six months",
    severity=Severity.MEDIUM,
    rationale="HSTS makes browsers refuse plain HTTP to the site, so cookies never leak over it.",
    remediation='Add Strict-Transport-Security "max-age=31536000" (always) on the TLS site.',
)
def hsts_missing_or_short(snapshot: Snapshot) -> Iterator[Outcome]:
    """Judge HSTS and its max-age."""
    routes = _each(snapshot)
    if routes is None:
        yield _skip(snapshot)
        return
    for view, route in routes:
        subject = route_subject(view.site, route)
        header = _first(route.response_headers, "strict-transport-security")
        if header is None:
            yield failed(
                subject,
                "sends no Strict-Transport-Security" + _only(route, view.config.server),
                **evidence(route),
            )
            continue
        match = re.search(r"max-age\s*=\s*\"?(\d+)", header.value, re.IGNORECASE)
        age = int(match.group(1)) if match else 0
        ev = _where(route, header, value=header.value)
        if age < MIN_HSTS_SECONDS:
            yield failed(subject, f"max-age is {age}, below {MIN_HSTS_SECONDS} (180 days)", **ev)
        else:
            yield passed(subject, f"max-age is {age}", **ev)


@check(
    id="nosniff-missing",
    section="9",
    title="An HTML route lacks X-Content-Type-Options: nosniff",
    severity=Severity.LOW,
    rationale="Without nosniff, browsers may run a file with the wrong type as a script.",
    remediation="Add X-Content-Type-Options: nosniff.",
)
def nosniff_missing(snapshot: Snapshot) -> Iterator[Outcome]:
    """Judge X-Content-Type-Options."""
    routes = _each(snapshot)
    if routes is None:
        yield _skip(snapshot)
        return
    for view, route in routes:
        subject = route_subject(view.site, route)
        header = _first(route.response_headers, "x-content-type-options")
        if header is not None and header.value.strip().strip('"').lower() == "nosniff":
            yield passed(subject, "sends nosniff", **_where(route, header))
        else:
            got = f" (it sends {header.value!r})" if header else ""
            yield failed(
                subject,
                f"no X-Content-Type-Options: nosniff{got}" + _only(route, view.config.server),
                **evidence(route),
            )


@check(
    id="framing-not-denied",
    section="9",
    title="An HTML route lets other sites frame it",
    severity=Severity.MEDIUM,
    rationale="A page that can be framed by any site invites clickjacking.",
    remediation="Add X-Frame-Options: DENY (or SAMEORIGIN), or CSP frame-ancestors 'none'.",
)
def framing_not_denied(snapshot: Snapshot) -> Iterator[Outcome]:
    """Judge X-Frame-Options and CSP frame-ancestors together."""
    routes = _each(snapshot)
    if routes is None:
        yield _skip(snapshot)
        return
    for view, route in routes:
        subject = route_subject(view.site, route)
        xfo = _first(route.response_headers, "x-frame-options")
        if xfo is not None and xfo.value.strip().strip('"').upper() in ("DENY", "SAMEORIGIN"):
            yield passed(subject, f"X-Frame-Options: {xfo.value}", **_where(route, xfo))
            continue
        csp = _first(route.response_headers, "content-security-policy")
        ancestors = parse_csp(csp.value).get("frame-ancestors") if csp else None
        if ancestors is not None and not any(
            s == "*" or s.endswith(":") for s in ancestors.sources
        ):
            yield passed(
                subject,
                "frame-ancestors " + " ".join(ancestors.sources),
                **_where(route, csp),
            )
        else:
            yield failed(
                subject,
                "neither X-Frame-Options nor CSP frame-ancestors deny framing",
                **evidence(route),
            )


@check(
    id="referrer-policy-missing",
    section="9",
    title="An HTML route sends no Referrer-Policy",
    severity=Severity.LOW,
    rationale="Without a policy, full URLs (with their query strings) may leak to other sites.",
    remediation="Add Referrer-Policy: strict-origin-when-cross-origin (or no-referrer).",
)
def referrer_policy_missing(snapshot: Snapshot) -> Iterator[Outcome]:
    """Judge Referrer-Policy."""
    routes = _each(snapshot)
    if routes is None:
        yield _skip(snapshot)
        return
    for view, route in routes:
        subject = route_subject(view.site, route)
        header = _first(route.response_headers, "referrer-policy")
        value = header.value.strip().strip('"').lower() if header else ""
        if header is None:
            yield failed(
                subject,
                "sends no Referrer-Policy" + _only(route, view.config.server),
                **evidence(route),
            )
        elif value in ("unsafe-url", "no-referrer-when-downgrade"):
            yield failed(
                subject, f"Referrer-Policy {value} leaks full URLs", **_where(route, header)
            )
        else:
            yield passed(subject, f"Referrer-Policy: {header.value}", **_where(route, header))


@check(
    id="security-headers-not-always",
    section="9",
    title="Security headers are left off error responses",
    severity=Severity.LOW,
    rationale="nginx's add_header without `always`, and Apache's Header without `always`, "
    "do not reach error pages (404, 500, ...), which are HTML too.",
    remediation="Add `always` to each security header (nginx: add_header NAME VALUE always; "
    "Apache: Header always set NAME VALUE).",
)
def security_headers_not_always(snapshot: Snapshot) -> Iterator[Outcome]:
    """Warn when a security header is added only to successful responses."""
    routes = _each(snapshot)
    if routes is None:
        yield _skip(snapshot)
        return
    for view, route in routes:
        subject = route_subject(view.site, route)
        present = [h for h in route.response_headers if h.name.lower() in SECURITY_HEADERS]
        if not present:
            continue
        partial = [h for h in present if not h.always]
        if partial:
            yield warned(
                subject,
                "not on error responses: " + ", ".join(h.name for h in partial),
                **_where(route, partial[0]),
            )
        else:
            yield passed(subject, "security headers reach error responses too", **evidence(route))


@check(
    id="server-tokens-on",
    section="9",
    title="The proxy announces its version",
    severity=Severity.LOW,
    rationale="A version in the Server header and error pages tells attackers which flaws to try.",
    remediation="nginx: server_tokens off; Apache: ServerTokens Prod and ServerSignature Off.",
)
def server_tokens_on(snapshot: Snapshot) -> Iterator[Outcome]:
    """Warn when nginx's server_tokens or Apache's ServerTokens reveal the version."""
    if no_proxy_reason(snapshot):
        yield _skip(snapshot)
        return
    for view in site_views(snapshot):
        if view.config.server == "iis":
            continue
        site: Site = view.site
        route = selected(site, "/") or (site.routes[0] if site.routes else None)
        if route is None:
            continue
        subject = route_subject(site, route)
        if route.server_tokens is False:
            yield passed(subject, "the version is not announced", **evidence(route))
        else:
            yield warned(
                subject, "the Server header and error pages carry the version", **evidence(route)
            )
