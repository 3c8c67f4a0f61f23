"""§9, configuration against the live site: do the headers the proxy adds really arrive?

A configuration can be right while the site is not: it was edited and never reloaded, a CDN
or load balancer in front strips or rewrites headers, or another server answers the name.
For each probed page this check finds the proxy site and route that the configuration says
answer it, works out which security headers that route adds to an answer with that status
(nginx adds a header without `always` only to 2xx and 3xx answers, Apache only to 2xx
answers it makes itself and to whatever a backend answered), and compares them with what
arrived. Headers that arrive without being configured are not a fault here: the runtime or
another proxy may add them.
"""

from __future__ import annotations

import ipaddress
import urllib.parse
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from mxguard.checks.live_common import site_subject, sites, with_connection_evidence
from mxguard.checks.proxyview import no_proxy_reason, selected, site_views, variants
from mxguard.checks.registry import Outcome, check, failed, passed, skipped
from mxguard.facts import Snapshot
from mxguard.live.facts import Response, SiteProbe
from mxguard.model import Severity
from mxguard.proxy.apps import SiteView
from mxguard.proxy.model import Header, Route, Site

COMPARED = (
    "content-security-policy",
    "content-security-policy-report-only",
    "strict-transport-security",
    "x-content-type-options",
    "x-frame-options",
    "referrer-policy",
    "permissions-policy",
)
# The statuses to which nginx adds a header written without `always`.
_NGINX_PLAIN_STATUSES = frozenset({200, 201, 204, 206, 301, 302, 303, 304, 307, 308})


@dataclass(frozen=True, slots=True, kw_only=True)
class _Expected:
    """A header the configuration adds to one answer, and whether its value is fixed."""

    header: Header
    is_value_known: bool  # False when it holds variables or differs between `if` branches


@check(
    id="live-headers-differ-from-config",
    section="9",
    title="The site does not send the headers its proxy configuration adds",
    severity=Severity.MEDIUM,
    rationale=(
        "An audit of the configuration vouches for headers users never receive when the "
        "server was not reloaded, or a CDN, load balancer or second proxy strips or rewrites "
        "them; the browser only obeys what arrives."
    ),
    remediation=(
        "Test and reload the proxy (nginx -t && nginx -s reload; apachectl configtest && "
        "apachectl graceful); if it still differs, find what sits in front of the proxy and "
        "stop it from removing or replacing the headers."
    ),
)
@with_connection_evidence
def live_headers_differ_from_config(snapshot: Snapshot) -> Iterator[Outcome]:
    """Compare the security headers each configured route adds with those that arrived."""
    reason = no_proxy_reason(snapshot)
    if reason is not None:
        yield skipped(f"host:{snapshot.host}", f"nothing to compare with: {reason}")
        return
    views = site_views(snapshot)
    for item in sites(snapshot):
        if isinstance(item, Outcome):
            yield item
            continue
        yield _compare(item, views)


def _compare(probe: SiteProbe, views: Sequence[SiteView]) -> Outcome:
    subject = site_subject(probe)
    url = probe.probed_url or probe.url
    view = _configured_site(url, views)
    if view is None:
        where = urllib.parse.urlsplit(url).netloc
        return skipped(subject, f"no site in the proxy configuration answers {where}", url=url)

    answers = _answers(probe)
    if not answers:
        return skipped(subject, "no page or /xas/ answer came back to compare", url=url)
    differences: list[str] = []
    compared = 0
    first: Header | None = None
    for response in answers:
        path = urllib.parse.urlsplit(response.url).path or "/"
        route = selected(view.site, path)
        if route is None:
            continue
        for name, expected in _expected(view, route, response.status).items():
            compared += 1
            problem = _difference(expected, response.header_values(name))
            if problem:
                differences.append(f"{path} ({response.status}): {problem}")
                first = first or expected.header
    evidence = {"site": view.site.name, "config": view.config.path, "compared": compared}
    if first is not None:
        origin = first.origin
        shown = "; ".join(differences[:6])
        more = f"; and {len(differences) - 6} more" if len(differences) > 6 else ""
        return failed(
            subject,
            shown + more,
            url=url,
            file=origin.file,
            line=origin.line,
            differences=differences,
            **evidence,
        )
    if not compared:
        return passed(
            subject,
            "the configuration adds no security header to these answers, and none is missing",
            url=url,
            **evidence,
        )
    return passed(
        subject, f"all {compared} configured security headers arrived as written", **evidence
    )


def _answers(probe: SiteProbe) -> list[Response]:
    """Return the answers that can be compared: the pages and the `/xas/` calls that came."""
    found = [p.response for p in probe.pages if p.response.status and p.served_by != "runtime"]
    if probe.session is not None:
        found.extend(r for r in probe.session.responses if "/xas/" in r.url and r.status)
    return found


def _configured_site(url: str, views: Sequence[SiteView]) -> SiteView | None:
    """Return the configured site that answers `url`: by scheme, port and server name."""
    parts = urllib.parse.urlsplit(url)
    is_tls = parts.scheme == "https"
    port = parts.port or (443 if is_tls else 80)
    host = (parts.hostname or "").lower()
    on_port = [
        v for v in views if any(x.port == port and x.is_tls == is_tls for x in v.site.listens)
    ]
    named = [v for v in on_port if _answers_name(v.site, host)]
    if named:
        return named[0]
    if not _is_address(host):
        return None
    # An address names no virtual host: the default server of that port answers.
    default = [v for v in on_port if any(x.port == port and x.is_default for x in v.site.listens)]
    if default:
        return default[0]
    return on_port[0] if len(on_port) == 1 else None


def _answers_name(site: Site, host: str) -> bool:
    for raw in site.server_names:
        name = raw.strip().lower().rstrip(".")
        if name == host:
            return True
        if name.startswith("*.") and host.endswith(name[1:]):
            return True
        if name.startswith(".") and (host == name[1:] or host.endswith(name)):
            return True
    return False


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return host == "localhost"
    return True


def _expected(view: SiteView, route: Route, status: int) -> dict[str, _Expected]:
    """Return the compared headers the route adds to an answer with `status`, by name."""
    branches = [
        {
            h.name.lower(): h
            for h in variant.response_headers
            if h.name.lower() in COMPARED and _applies(h, status, view.config.server, variant)
        }
        for variant in variants(view.site, route)
    ]
    # With `if` blocks, only what every branch adds is sure to be added.
    common = set(branches[0]).intersection(*branches[1:])
    expected: dict[str, _Expected] = {}
    for name in sorted(common):
        header = branches[0][name]
        same = all(_normal(b[name].value) == _normal(header.value) for b in branches)
        fixed = same and not header.condition and "$" not in header.value
        expected[name] = _Expected(header=header, is_value_known=fixed and "%{" not in header.value)
    return expected


def _applies(header: Header, status: int, server: str, route: Route) -> bool:
    if header.always:
        return True
    if server == "nginx":
        return status in _NGINX_PLAIN_STATUSES
    # httpd's `onsuccess` table reaches what a backend answered, whatever its status, but
    # not the redirects and error pages httpd makes itself.
    return route.kind == "proxy" or 200 <= status < 300


def _difference(expected: _Expected, arrived: tuple[str, ...]) -> str:
    """Return what differs between a configured header and the values that arrived."""
    header = expected.header
    where = f"{header.origin.file}:{header.origin.line}"
    if not arrived:
        return f"{header.name} is configured ({where}) but did not arrive"
    if not expected.is_value_known:
        return ""
    wanted = _normal(header.value)
    if any(_normal(value) == wanted for value in arrived) or wanted == _normal(", ".join(arrived)):
        return ""
    got = arrived[0] if len(arrived) == 1 else " | ".join(arrived)
    configured = _short(header.value)
    return f"{header.name} is configured as {configured!r} ({where}) but arrived as {_short(got)!r}"


def _normal(value: str) -> str:
    return " ".join(value.strip().strip('"').split())


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
