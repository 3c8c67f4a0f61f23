"""§5 — HTTPS at a reverse proxy close to the app, which tells the runtime the scheme."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta

from mxguard.checks.common import app_subject
from mxguard.checks.proxyview import (
    evidence,
    is_loopback_upstream,
    nginx_views,
    no_proxy_reason,
    reaches_runtime,
    route_subject,
    site_subject,
    site_views,
    variants,
)
from mxguard.checks.registry import Outcome, check, errored, failed, passed, skipped, warned
from mxguard.facts import Snapshot
from mxguard.model import Severity
from mxguard.proxy.apps import SiteView
from mxguard.proxy.model import Header, Route, Site, TlsFileFacts

OLD_PROTOCOLS = ("SSLv2", "SSLv3", "TLSv1", "TLSv1.1")
EXPIRY_WARNING = timedelta(days=30)
SCHEME_HEADERS = ("x-forwarded-scheme", "x-forwarded-proto")
# Values that copy what the client sent: nginx, Apache and IIS spellings.
_CLIENT_VALUE = re.compile(
    r"\$http_x_forwarded_(scheme|proto)|%\{http:x-forwarded-(scheme|proto)\}|"
    r"\{http_x_forwarded_(scheme|proto)\}",
    re.IGNORECASE,
)


def _skip_all(snapshot: Snapshot) -> Iterator[Outcome]:
    reason = no_proxy_reason(snapshot)
    if reason is not None:
        yield skipped(f"host:{snapshot.host}", reason)


@check(
    id="proxy-config-unreadable",
    section="5",
    title="A proxy configuration file cannot be read or parsed, or holds ignored directives",
    severity=Severity.MEDIUM,
    rationale="A configuration that cannot be read cannot be judged; a missing include may "
    "hide the part that matters; directives inside a section the server skips (an Apache "
    "<IfModule> for a module that is not loaded) protect nothing.",
    remediation="Fix the file named (the server's own config test says the same), the "
    "include that names a missing file, or load the module the section waits for "
    "(a2enmod headers) and drop the <IfModule> around directives that must apply.",
)
def proxy_config_unreadable(snapshot: Snapshot) -> Iterator[Outcome]:
    """Report each problem met while reading the proxy configurations."""
    if snapshot.proxy is None or not snapshot.proxy.configs:
        yield from _skip_all(snapshot)
        return
    for config in snapshot.proxy.configs:
        subject = f"file:{config.path}"
        for problem in config.problems:
            where = {"file": problem.file, "line": problem.line or None, "server": config.server}
            if problem.status == "warn":
                yield warned(subject, problem.message, **where)
            else:
                yield errored(subject, problem.message, **where)
        if not config.problems:
            yield passed(
                subject, f"{config.server}: {len(config.files)} file(s) read", file=config.path
            )


@check(
    id="app-not-served-over-tls",
    section="5",
    title="The application is not served on a TLS site",
    severity=Severity.HIGH,
    rationale="Users must reach the app with an https:// URL at the reverse proxy.",
    remediation="Serve the app from a server block / virtual host that listens with TLS.",
)
def app_not_served_over_tls(snapshot: Snapshot) -> Iterator[Outcome]:
    """Fail an app that the proxy serves only on plain-HTTP sites."""
    if no_proxy_reason(snapshot):
        yield from _skip_all(snapshot)
        return
    views = site_views(snapshot)
    if not snapshot.installations:
        yield skipped(f"host:{snapshot.host}", "no Mendix installation is known (give --config)")
    for installation in snapshot.installations:
        subject = app_subject(installation)
        mine = [v for v in views if installation in v.apps]
        if not mine:
            yield skipped(subject, "no proxy site routes to this app's runtime or web folder")
            continue
        if any(not v.site.listens for v in mine):
            yield skipped(subject, "the site's bindings are not in the file read (IIS)")
            continue
        tls = [v.site.name for v in mine if v.site.is_tls]
        if tls:
            yield passed(subject, "served on TLS site(s) " + ", ".join(tls))
        else:
            first = mine[0].site
            yield failed(
                subject,
                "only plain-HTTP sites serve it: " + ", ".join(v.site.name for v in mine),
                file=first.origin.file,
                line=first.origin.line,
            )


@check(
    id="plain-http-site-serves-content",
    section="5",
    title="A plain-HTTP site serves the application instead of redirecting to https://",
    severity=Severity.HIGH,
    rationale="Anything a plain-HTTP site answers travels in clear, session cookies "
    "included; it must only redirect to https://.",
    remediation="Make the plain-HTTP server answer every request with a redirect to "
    "https:// (nginx: return 301 https://$host$request_uri;).",
)
def plain_http_site_serves_content(snapshot: Snapshot) -> Iterator[Outcome]:
    """Fail each route of a plain-HTTP site that does more than redirect to https://."""
    if no_proxy_reason(snapshot):
        yield from _skip_all(snapshot)
        return
    for view in site_views(snapshot):
        site = view.site
        if not site.listens or site.is_tls_only:
            continue
        if site.is_tls:
            yield _mixed_site(site)
            continue
        bad = [r for r in site.routes if not _only_redirects(r)]
        for route in bad:
            yield failed(
                route_subject(site, route),
                f"the plain-HTTP site answers {route.path!r} with {route.kind}, not a redirect "
                "to https://",
                **evidence(route),
            )
        if not bad:
            yield passed(site_subject(site), "every request is redirected to https://")


def _plain_guard(site: Site) -> Route | None:
    """Return the server-level `if` that redirects plain-HTTP requests, or None."""
    return next(
        (
            r
            for r in site.routes
            if r.match == "if"
            and r.parent is None
            and re.search(r"\$scheme|\$https|\$server_port", r.path)
            and _only_redirects(r)
        ),
        None,
    )


def _mixed_site(site: Site) -> Outcome:
    """Judge a site that listens with and without TLS: plain requests must be redirected."""
    plain = next(listen for listen in site.listens if not listen.is_tls)
    guard = _plain_guard(site)
    if guard is not None:
        return passed(
            site_subject(site),
            f"plain-HTTP requests are redirected when {guard.path}",
            **evidence(guard),
        )
    return failed(
        site_subject(site),
        f"the site also listens without TLS on port {plain.port} and serves the same routes "
        "there; nothing redirects those requests to https://",
        file=plain.origin.file,
        line=plain.origin.line,
    )


def _only_redirects(route: Route) -> bool:
    if route.kind == "redirect":
        return route.redirect_to.lower().startswith("https://")
    if route.kind == "deny":
        return True
    # An ACME challenge folder is the one thing a plain-HTTP site may serve.
    return route.kind == "static" and route.path.startswith("/.well-known/")


@check(
    id="tls-protocol-below-1-2-enabled",
    section="5",
    title="A TLS site enables a protocol older than TLS 1.2",
    severity=Severity.HIGH,
    rationale="SSLv3, TLS 1.0 and TLS 1.1 have known weaknesses and are deprecated (RFC 8996).",
    remediation="Enable only TLSv1.2 and TLSv1.3 (nginx: ssl_protocols TLSv1.2 TLSv1.3; "
    "Apache: SSLProtocol -all +TLSv1.2 +TLSv1.3).",
)
def tls_protocol_below_1_2(snapshot: Snapshot) -> Iterator[Outcome]:
    """Judge the protocols each TLS site enables."""
    if no_proxy_reason(snapshot):
        yield from _skip_all(snapshot)
        return
    yield from _unbound_sites(snapshot)
    for view in _tls_sites(snapshot):
        site, tls = view.site, view.site.tls
        assert tls is not None  # noqa: S101 - _tls_sites yields TLS sites only
        subject = site_subject(site)
        where = tls.protocols_origin
        if not tls.protocols:
            yield warned(
                subject,
                f"no protocol list is set: the {view.config.server} default applies, which "
                "enables TLS 1.0 and 1.1 on older versions",
                file=site.origin.file,
                line=site.origin.line,
            )
            continue
        old = [p for p in tls.protocols if p in OLD_PROTOCOLS]
        ev = {"file": where.file if where else None, "line": where.line if where else None}
        if old:
            yield failed(subject, "enables " + ", ".join(old), protocols=list(tls.protocols), **ev)
        else:
            yield passed(subject, "enables " + ", ".join(tls.protocols), **ev)


def _tls_sites(snapshot: Snapshot) -> Iterator[SiteView]:
    for view in site_views(snapshot):
        if view.site.tls is not None:
            yield view


def _unbound_sites(snapshot: Snapshot) -> Iterator[Outcome]:
    """Yield a skip for each site whose bindings were not in the files read (IIS)."""
    for view in site_views(snapshot):
        if not view.site.listens:
            yield skipped(
                site_subject(view.site),
                "the site's bindings and certificate are in IIS's applicationHost.config, "
                "which was not read",
                file=view.site.origin.file,
            )


def _tls_facts(snapshot: Snapshot, site: Site) -> TlsFileFacts | None:
    tls = site.tls
    if tls is None or snapshot.proxy is None:
        return None
    return snapshot.proxy.tls_file(tls.certificate_file, tls.key_file)


def _cert_outcomes(
    snapshot: Snapshot, judge: object, *, needs_valid: bool = True
) -> Iterator[Outcome]:
    if no_proxy_reason(snapshot):
        yield from _skip_all(snapshot)
        return
    yield from _unbound_sites(snapshot)
    for view in _tls_sites(snapshot):
        site = view.site
        tls = site.tls
        assert tls is not None  # noqa: S101 - _tls_sites yields TLS sites only
        subject = site_subject(site)
        origin = tls.certificate_origin or site.origin
        where = {"file": origin.file, "line": origin.line, "certificate": tls.certificate_file}
        facts = _tls_facts(snapshot, site)
        if not tls.certificate_file:
            yield failed(subject, "the TLS site names no certificate file", **where)
            continue
        if facts is None:
            yield skipped(subject, "the certificate file was not examined", **where)
            continue
        if needs_valid and facts.status != "ok":
            yield skipped(subject, f"the certificate is {facts.status}: {facts.problem}", **where)
            continue
        assert callable(judge)  # noqa: S101
        yield from judge(snapshot, view, facts, subject, where)


@check(
    id="tls-certificate-unusable",
    section="5",
    title="A TLS site's certificate file is missing or does not parse",
    severity=Severity.HIGH,
    rationale="Without a valid certificate the site cannot serve HTTPS that browsers accept.",
    remediation="Point the certificate directive at a readable PEM certificate (chain).",
)
def tls_certificate_unusable(snapshot: Snapshot) -> Iterator[Outcome]:
    """Fail a certificate file that is missing or not a certificate."""

    def judge(
        snapshot: Snapshot,
        view: SiteView,
        facts: TlsFileFacts,
        subject: str,
        where: dict[str, object],
    ) -> Iterator[Outcome]:
        if facts.status == "ok":
            yield passed(subject, f"certificate for {', '.join(facts.names)}", **where)
        elif facts.status == "unreadable" and not snapshot.is_root:
            yield skipped(subject, f"cannot read the certificate: {facts.problem}", **where)
        else:
            yield failed(subject, f"the certificate is {facts.status}: {facts.problem}", **where)

    return _cert_outcomes(snapshot, judge, needs_valid=False)


@check(
    id="tls-certificate-expired",
    section="5",
    title="A TLS site's certificate has expired or expires within 30 days",
    severity=Severity.HIGH,
    rationale="Browsers refuse expired certificates; users learn to click through warnings.",
    remediation="Renew the certificate, and automate renewal.",
)
def tls_certificate_expired(snapshot: Snapshot) -> Iterator[Outcome]:
    """Judge the certificate's validity period against the time of collection."""

    def judge(
        snapshot: Snapshot,
        view: SiteView,
        facts: TlsFileFacts,
        subject: str,
        where: dict[str, object],
    ) -> Iterator[Outcome]:
        now = datetime.fromisoformat(snapshot.collected_at.replace("Z", "+00:00"))
        not_after = datetime.fromisoformat(facts.not_after)
        not_before = datetime.fromisoformat(facts.not_before)
        ev = {**where, "not_after": facts.not_after}
        if now > not_after:
            yield failed(subject, f"expired on {facts.not_after}", **ev)
        elif now < not_before:
            yield failed(subject, f"not valid before {facts.not_before}", **ev)
        elif not_after - now < EXPIRY_WARNING:
            yield warned(subject, f"expires on {facts.not_after}, within 30 days", **ev)
        else:
            yield passed(subject, f"valid until {facts.not_after}", **ev)

    return _cert_outcomes(snapshot, judge)


def name_matches(name: str, pattern: str) -> bool:
    """Return whether a host name is covered by a certificate name (one-label wildcards)."""
    name, pattern = name.lower().rstrip("."), pattern.lower().rstrip(".")
    if pattern.startswith("*."):
        head, _, rest = name.partition(".")
        return bool(head) and rest == pattern[2:]
    return name == pattern


@check(
    id="tls-certificate-name-mismatch",
    section="5",
    title="A TLS site's certificate does not cover its server names",
    severity=Severity.HIGH,
    rationale="The certificate must match the URL users use, or browsers refuse it.",
    remediation="Use a certificate whose subject alternative names list every server name.",
)
def tls_certificate_name_mismatch(snapshot: Snapshot) -> Iterator[Outcome]:
    """Fail server names that the certificate does not cover."""

    def judge(
        snapshot: Snapshot,
        view: SiteView,
        facts: TlsFileFacts,
        subject: str,
        where: dict[str, object],
    ) -> Iterator[Outcome]:
        names = [n for n in view.site.server_names if n not in ("_", "") and not n.startswith("~")]
        names = [n.lstrip(".") if not n.startswith("*") else n for n in names]
        if not names:
            yield skipped(subject, "the site has no server name to compare", **where)
            return
        missing = [n for n in names if not any(name_matches(n, p) for p in facts.names)]
        ev = {**where, "certificate_names": list(facts.names)}
        if missing:
            yield failed(subject, "not covered by the certificate: " + ", ".join(missing), **ev)
        else:
            yield passed(subject, "the certificate covers " + ", ".join(names), **ev)

    return _cert_outcomes(snapshot, judge)


@check(
    id="tls-certificate-untrusted",
    section="5",
    title="A TLS site's certificate does not chain to a trusted authority",
    severity=Severity.HIGH,
    rationale="The certificate must be issued by an authority that browsers trust: a public "
    "one or an internal CA that is given to every user's browser (--ca-bundle).",
    remediation="Install the full chain (leaf and intermediates) from a trusted authority, "
    "or pass the internal CA with --ca-bundle if it is the company's own.",
)
def tls_certificate_untrusted(snapshot: Snapshot) -> Iterator[Outcome]:
    """Judge whether the certificate chains to the system store or --ca-bundle."""

    def judge(
        snapshot: Snapshot,
        view: SiteView,
        facts: TlsFileFacts,
        subject: str,
        where: dict[str, object],
    ) -> Iterator[Outcome]:
        if facts.chain_status == "trusted":
            yield passed(subject, "chains to a trusted authority", **where)
        elif facts.chain_status == "untrusted":
            kind = "self-signed; " if facts.is_self_signed else ""
            yield failed(subject, f"{kind}does not chain: {facts.chain_problem}", **where)
        else:
            yield skipped(subject, f"the chain could not be judged: {facts.chain_problem}", **where)

    return _cert_outcomes(snapshot, judge)


@check(
    id="tls-key-mismatch",
    section="5",
    title="A TLS site's private key does not belong to its certificate",
    severity=Severity.HIGH,
    rationale="A key that does not match the certificate makes the server fail to start TLS.",
    remediation="Point the key directive at the key the certificate was issued for.",
)
def tls_key_mismatch(snapshot: Snapshot) -> Iterator[Outcome]:
    """Compare the key's public half with the certificate's."""

    def judge(
        snapshot: Snapshot,
        view: SiteView,
        facts: TlsFileFacts,
        subject: str,
        where: dict[str, object],
    ) -> Iterator[Outcome]:
        ev = {**where, "key": facts.key_file}
        if facts.key_matches is True:
            yield passed(subject, "the key matches the certificate", **ev)
        elif facts.key_matches is False:
            yield failed(subject, "the key does not match the certificate", **ev)
        else:
            yield skipped(subject, f"the key is {facts.key_status}: {facts.key_problem}", **ev)

    return _cert_outcomes(snapshot, judge)


@check(
    id="tls-key-readable-by-others",
    section="5",
    title="A TLS private key is readable beyond root and the proxy's account",
    severity=Severity.HIGH,
    rationale="Whoever reads the key can impersonate the site and decrypt recorded traffic "
    "without forward secrecy.",
    remediation="chown root:root the key file and chmod 600 (or 640 with the proxy's group).",
)
def tls_key_readable_by_others(snapshot: Snapshot) -> Iterator[Outcome]:
    """Judge the owner and mode of each private key file."""

    def judge(
        snapshot: Snapshot,
        view: SiteView,
        facts: TlsFileFacts,
        subject: str,
        where: dict[str, object],
    ) -> Iterator[Outcome]:
        if facts.key_uid < 0:
            yield skipped(subject, f"the key file is {facts.key_status}: {facts.key_problem}")
            return
        proxy_user = view.config.user.split()[0] if view.config.user else ""
        trusted = {"root", proxy_user} - {""}
        ev = {
            **where,
            "key": facts.key_file,
            "mode": f"{facts.key_mode:04o}",
            "owner": facts.key_owner or facts.key_uid,
            "group": facts.key_group or facts.key_gid,
        }
        problems = []
        if facts.key_uid != 0 and facts.key_owner not in trusted:
            problems.append(f"owned by {facts.key_owner or facts.key_uid}")
        if facts.key_mode & 0o007:
            problems.append("readable by every account")
        if facts.key_mode & 0o070 and facts.key_gid != 0 and facts.key_group not in trusted:
            problems.append(f"readable by group {facts.key_group or facts.key_gid}")
        if problems:
            yield failed(subject, "the private key is " + "; ".join(problems), **ev)
        else:
            yield passed(subject, f"the private key is mode {facts.key_mode:04o}", **ev)

    return _cert_outcomes(snapshot, judge)


def _scheme_headers(route: Route) -> list[Header]:
    return [h for h in route.request_headers if h.name.lower() in SCHEME_HEADERS]


@check(
    id="forwarded-scheme-header-missing",
    section="5",
    title="A route to the runtime does not set X-Forwarded-Scheme: https",
    severity=Severity.HIGH,
    rationale="The runtime marks its session cookies Secure only when the proxy tells it the "
    "request came over HTTPS; a nested block that defines its own request headers silently "
    "drops the ones inherited.",
    remediation="Set the header in every block that proxies to the runtime (nginx: "
    "proxy_set_header X-Forwarded-Scheme https; repeated in each block that sets any "
    "proxy_set_header of its own).",
)
def forwarded_scheme_header_missing(snapshot: Snapshot) -> Iterator[Outcome]:
    """Judge the effective request headers of every route that reaches the runtime."""
    if no_proxy_reason(snapshot):
        yield from _skip_all(snapshot)
        return
    for view, route in _runtime_routes(snapshot):
        site = view.site
        subject = route_subject(site, route)
        headers = _scheme_headers(route)
        good = [
            h
            for h in headers
            if not h.client_value_kept_by
            and all(_is_https_value(v, site) for v in h.possible_values)
        ]
        ev = evidence(route, headers={h.name: h.value for h in headers})
        if good:
            origin = good[0].origin
            yield passed(
                subject,
                f"sends {good[0].name}: {good[0].value}",
                **{**ev, "file": origin.file, "line": origin.line},
            )
        elif any(_from_client(h) for h in headers):
            continue  # judged by forwarded-scheme-header-from-client
        else:
            yield failed(
                subject,
                "no X-Forwarded-Scheme (or X-Forwarded-Proto) https in the headers this route "
                "really sends" + _sent(route, headers, view.config.server),
                **ev,
            )


def _sent(route: Route, scheme_headers: list[Header], server: str) -> str:
    if scheme_headers:
        return ": " + ", ".join(f"{h.name}: {_shown(h)}" for h in scheme_headers)
    if not route.request_headers:
        return ""
    if all(h.origin == route.origin for h in route.request_headers):
        return "; no proxy_set_header applies to it, so nginx sends only Host and Connection"
    # Name what the route does send: in nginx a block's own list replaces the inherited one.
    own = ", ".join(f"{h.name} (line {h.origin.line})" for h in route.request_headers[:4])
    why = ", which replaces any inherited list" if server == "nginx" else ""
    return f"; it sets only {own}{why}"


def _shown(header: Header) -> str:
    if not header.values:
        return header.value
    choices = ", ".join(repr(v) if not v else v for v in header.values)
    return f"{header.value} (which can be {choices})"


def _is_https_value(value: str, site: Site) -> bool:
    if value.strip().strip('"').lower() == "https":
        return True
    # `$scheme` (nginx) or `%{REQUEST_SCHEME}s` (Apache) are right only where every request
    # that reaches the runtime arrived over TLS: a TLS-only site, or plain requests redirected.
    dynamic = value.strip().lower() in ("$scheme", "%{request_scheme}s", "{https}")
    return dynamic and (site.is_tls_only or _plain_guard(site) is not None)


@check(
    id="forwarded-scheme-header-from-client",
    section="5",
    title="A route passes the client's own X-Forwarded-Scheme/Proto to the runtime",
    severity=Severity.HIGH,
    rationale="A value copied from the request lets any client claim HTTPS; the proxy that "
    "terminates TLS must set it itself.",
    remediation="Set the header to the literal https (or $scheme on a TLS-only site).",
)
def forwarded_scheme_header_from_client(snapshot: Snapshot) -> Iterator[Outcome]:
    """Fail routes whose scheme header copies a client-supplied value."""
    if no_proxy_reason(snapshot):
        yield from _skip_all(snapshot)
        return
    for view, route in _runtime_routes(snapshot):
        subject = route_subject(view.site, route)
        copied = [h for h in _scheme_headers(route) if _from_client(h)]
        if copied:
            header = copied[0]
            via = _from_client(header)
            if header.client_value_kept_by:
                said = (
                    f"{header.client_value_kept_by} {header.name} keeps the value the client "
                    f"sends (only a plain set replaces it), so the client decides it"
                )
            else:
                through = f" (it can be {via})" if via != header.value else ""
                said = f"{header.name} is set to {header.value}{through}, which the client controls"
            yield failed(subject, said, file=header.origin.file, line=header.origin.line)
        else:
            yield passed(subject, "no scheme header is copied from the client", **evidence(route))


def _from_client(header: Header) -> str:
    """Return the value (as written, or as a map/set expands it) that copies the client's."""
    if header.client_value_kept_by:
        return f"the client's own value ({header.client_value_kept_by})"
    return next((v for v in (header.value, *header.values) if _CLIENT_VALUE.search(v)), "")


def _runtime_routes(snapshot: Snapshot) -> Iterator[tuple[SiteView, Route]]:
    for view in site_views(snapshot):
        if view.site.listens and not view.site.is_tls:
            continue  # plain-HTTP sites are judged by plain-http-site-serves-content
        for route in (r for r in view.site.routes if r.match != "if"):
            for variant in variants(view.site, route):
                if reaches_runtime(variant, view.apps):
                    yield view, variant


@check(
    id="upstream-not-local",
    section="5",
    title="The proxy reaches the runtime over the network",
    severity=Severity.MEDIUM,
    rationale="The checklist wants the proxy as close to the app as possible; traffic "
    "between them is plain HTTP.",
    remediation="Run the proxy on the app's host and proxy to 127.0.0.1 or a unix socket.",
)
def upstream_not_local(snapshot: Snapshot) -> Iterator[Outcome]:
    """Warn on routes whose upstream is neither loopback nor a unix socket."""
    if no_proxy_reason(snapshot):
        yield from _skip_all(snapshot)
        return
    for view in site_views(snapshot):
        for route in view.site.routes:
            if route.match == "if" or not reaches_runtime(route, view.apps):
                continue
            subject = route_subject(view.site, route)
            remote = [h for h in route.upstream_hosts if not is_loopback_upstream(h)]
            ev = evidence(route, upstream=route.upstream or route.fallback_upstream)
            if remote:
                yield replace(
                    warned(subject, "proxies over the network to " + ", ".join(remote), **ev),
                    severity=Severity.MEDIUM,
                )
            else:
                yield passed(subject, "proxies to " + ", ".join(route.upstream_hosts), **ev)


# nginx variables holding the decoded path: %0d%0a in a request becomes a line break.
_DECODED_PATH = re.compile(r"\$(?:\{(?:uri|document_uri)\}|(?:uri|document_uri)(?![A-Za-z0-9_]))")


@check(
    id="redirect-header-injection",
    section="5",
    title="A redirect or header copies the decoded request path, which can split the response",
    severity=Severity.MEDIUM,
    rationale=(
        "nginx decodes $uri: a request for /x%0d%0aSet-Cookie:... makes a Location or added "
        "header carry a line break, and the client gets a header the attacker wrote (a "
        "session cookie fixed on the plain-HTTP redirect, for one)."
    ),
    remediation=(
        "Redirect with the raw request line instead: return 301 https://$host$request_uri; "
        "and keep $uri and $document_uri out of add_header values."
    ),
)
def redirect_header_injection(snapshot: Snapshot) -> Iterator[Outcome]:
    """Fail nginx redirects and added headers built from `$uri` or `$document_uri`."""
    if no_proxy_reason(snapshot):
        yield from _skip_all(snapshot)
        return
    # Confirmed against a running httpd: Redirect and RewriteRule escape the path, [NE]
    # makes it refuse the request, and a header with a line break is not sent.
    for view in nginx_views(
        site_views(snapshot),
        apache="httpd escapes the path it copies into a redirect and sends no header with a "
        "line break",
        other="not judged for IIS: no IIS runs here to confirm how it escapes the path",
    ):
        if isinstance(view, Outcome):
            yield view
            continue
        found = [
            (route, f"redirects to {route.redirect_to}", route.origin)
            for route in view.site.routes
            if route.kind == "redirect" and _DECODED_PATH.search(route.redirect_to)
        ]
        found.extend(
            (route, f"adds {header.name}: {header.value}", header.origin)
            for route in view.site.routes
            for header in route.response_headers
            if _DECODED_PATH.search(header.value)
        )
        for route, what, origin in found:
            yield failed(
                route_subject(view.site, route),
                f"{what}, with the decoded path: a %0d%0a in the request adds a header",
                file=origin.file,
                line=origin.line,
            )
        if not found:
            yield passed(
                site_subject(view.site), "no redirect or added header copies the decoded path"
            )
