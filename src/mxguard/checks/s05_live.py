"""§5 over the network — TLS, the redirect to HTTPS, HSTS, cookies and the forwarded scheme."""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterator
from dataclasses import replace

from mxguard.checks.live_common import (
    is_https,
    is_session_cookie,
    needs_http_only,
    site_subject,
    sites,
    unreachable,
    with_connection_evidence,
)
from mxguard.checks.registry import Outcome, check, errored, failed, passed, skipped, warned
from mxguard.facts import Snapshot
from mxguard.live.facts import CertificateFacts, Cookie, SiteProbe, TlsFacts
from mxguard.model import Severity

OUTDATED = ("TLSv1", "TLSv1.1")
MIN_RSA_BITS = 2048
MIN_EC_BITS = 256
EXPIRY_WARNING_DAYS = 14
MIN_HSTS_SECONDS = 15_552_000  # six months, as browsers and the Observatory count them
_WEAK_SIGNATURES = ("md5", "sha1")


def _tls_sites(snapshot: Snapshot) -> Iterator[tuple[SiteProbe, TlsFacts] | Outcome]:
    for item in sites(snapshot):
        if isinstance(item, Outcome):
            yield item
            continue
        subject = site_subject(item)
        if not is_https(item):
            yield skipped(subject, "the site is not served over HTTPS", url=item.url)
        elif item.tls is None:
            yield skipped(subject, "TLS was not probed", url=item.probed_url)
        elif item.tls.error:
            yield skipped(subject, f"no TLS handshake completed: {item.tls.error}", url=item.url)
        else:
            yield item, item.tls


def _certificates(snapshot: Snapshot) -> Iterator[tuple[SiteProbe, CertificateFacts] | Outcome]:
    for item in _tls_sites(snapshot):
        if isinstance(item, Outcome):
            yield item
        elif item[1].certificate is None:
            yield skipped(site_subject(item[0]), "the server presented no certificate")
        else:
            yield item[0], item[1].certificate


@check(
    id="site-does-not-answer",
    section="5",
    title="The site does not answer HTTP properly",
    severity=Severity.HIGH,
    rationale=(
        "A site that times out, resets or sends a malformed answer cannot be judged; the "
        "probe says what went wrong instead of guessing."
    ),
    remediation="Check that the URL is right and that the proxy answers it within seconds.",
)
@with_connection_evidence
def site_does_not_answer(snapshot: Snapshot) -> Iterator[Outcome]:
    """Report a site whose pages or redirects failed, with the cause and the URL."""
    for item in sites(snapshot):
        if isinstance(item, Outcome):
            yield item
            continue
        chain = list(item.redirect_chain)
        if item.url.startswith("https://") and chain and chain[0].error and not chain[0].status:
            # The http:// form of an https:// site was only tried: nothing there is no fault
            # of the site (the redirect check says so).
            chain = []
        responses = [*chain, *(p.response for p in item.pages)]
        if item.session is not None:
            responses.extend(item.session.responses)
        broken = [r for r in responses if r.error]
        if item.error:
            yield errored(site_subject(item), item.error, url=item.url)
        elif broken:
            first = broken[0]
            yield errored(
                site_subject(item),
                f"{first.url}: {first.error}",
                url=first.url,
                failures=len(broken),
                elapsed_ms=first.elapsed_ms,
            )
        else:
            yield passed(site_subject(item), f"{len(responses)} requests answered", url=item.url)


@check(
    id="tls-handshake-fails",
    section="5",
    title="The HTTPS site does not complete a TLS handshake",
    severity=Severity.HIGH,
    rationale="Users must reach the application over working HTTPS at the reverse proxy.",
    remediation="Fix the proxy's TLS listener (certificate, key, protocols) for this site.",
)
@with_connection_evidence
def tls_handshake_fails(snapshot: Snapshot) -> Iterator[Outcome]:
    """Fail an `https://` site where no TLS handshake completes."""
    for item in sites(snapshot):
        if isinstance(item, Outcome):
            yield item
            continue
        subject = site_subject(item)
        if not is_https(item) or item.tls is None:
            yield skipped(subject, "the site is not served over HTTPS", url=item.url)
        elif item.tls.error:
            yield failed(subject, f"{item.probed_url}: {item.tls.error}", url=item.probed_url)
        else:
            yield passed(
                subject,
                f"{item.tls.negotiated_protocol} with {item.tls.cipher}",
                url=item.probed_url,
                protocol=item.tls.negotiated_protocol,
                cipher=item.tls.cipher,
            )


@check(
    id="live-tls-protocol-below-1-2-accepted",
    section="5",
    title="The server accepts TLS 1.0 or TLS 1.1",
    severity=Severity.HIGH,
    rationale=(
        "TLS 1.0 and 1.1 are deprecated (RFC 8996); accepting them exposes sessions to "
        "downgrade and known attacks on their ciphers."
    ),
    remediation="Allow only TLSv1.2 and TLSv1.3 (nginx: ssl_protocols TLSv1.2 TLSv1.3;).",
    references=("https://www.rfc-editor.org/rfc/rfc8996",),
)
@with_connection_evidence
def tls_outdated_protocol_accepted(snapshot: Snapshot) -> Iterator[Outcome]:
    """Fail a site that completes a handshake with TLS 1.0 or 1.1."""
    for item in _tls_sites(snapshot):
        if isinstance(item, Outcome):
            yield item
            continue
        site, tls = item
        subject = site_subject(site)
        states = {p.version: p.status for p in tls.protocols}
        evidence = {
            "url": site.probed_url,
            "protocols": {p.version: p.status for p in tls.protocols},
            "tls_library": tls.library,
        }
        accepted = [v for v in OUTDATED if states.get(v) == "accepted"]
        untested = [v for v in OUTDATED if states.get(v) in ("cannot-test", "error", None)]
        modern = [v for v in ("TLSv1.2", "TLSv1.3") if states.get(v) == "accepted"]
        if accepted:
            yield failed(subject, f"{site.probed_url} accepts {', '.join(accepted)}", **evidence)
        elif untested:
            details = "; ".join(
                f"{p.version}: {p.detail}" for p in tls.protocols if p.version in untested
            )
            yield skipped(
                subject, f"cannot test {', '.join(untested)} from here: {details}", **evidence
            )
        elif not modern:
            yield failed(subject, f"{site.probed_url} accepts neither TLS 1.2 nor 1.3", **evidence)
        else:
            yield passed(subject, f"only {', '.join(modern)} accepted", **evidence)


@check(
    id="live-tls-certificate-untrusted",
    section="5",
    title="The certificate chain is not trusted",
    severity=Severity.HIGH,
    rationale=(
        "A certificate that browsers cannot validate trains users to click through warnings, "
        "which is exactly what an interception needs."
    ),
    remediation=(
        "Install a certificate from a public CA or from the internal CA that users' browsers "
        "trust, with the full intermediate chain (audit with --ca-bundle for an internal CA)."
    ),
)
@with_connection_evidence
def tls_certificate_untrusted(snapshot: Snapshot) -> Iterator[Outcome]:
    """Fail a certificate whose chain does not validate against the trust store."""
    for item in _certificates(snapshot):
        if isinstance(item, Outcome):
            yield item
            continue
        site, cert = item
        evidence = {
            "url": site.probed_url,
            "certificate": cert.subject,
            "issuer": cert.issuer,
            "trust_store": cert.trust_store,
            "self_signed": cert.is_self_signed,
            "chain": [cert.subject, *(c.subject for c in cert.chain)]
            if cert.chain_length
            else None,
            "chain_problem": cert.chain_problem or None,
        }
        if cert.is_trusted and cert.chain_problem:
            yield warned(
                site_subject(site),
                f"{site.probed_url}: trusted here, but {cert.chain_problem}",
                **evidence,
            )
        elif cert.is_trusted:
            yield passed(site_subject(site), f"trusted by the {cert.trust_store} store", **evidence)
        else:
            why = "self-signed; " if cert.is_self_signed else ""
            chain = f" ({cert.chain_problem})" if cert.chain_problem else ""
            yield failed(
                site_subject(site),
                f"{site.probed_url}: {why}{cert.trust_error}{chain}",
                **evidence,
            )


@check(
    id="live-tls-certificate-name-mismatch",
    section="5",
    title="The certificate does not name the site's host",
    severity=Severity.HIGH,
    rationale="Browsers reject a certificate issued for another name.",
    remediation="Issue the certificate for the host name users type (subjectAltName).",
)
@with_connection_evidence
def tls_certificate_hostname_mismatch(snapshot: Snapshot) -> Iterator[Outcome]:
    """Fail a certificate whose names do not cover the URL's host."""
    for item in _certificates(snapshot):
        if isinstance(item, Outcome):
            yield item
            continue
        site, cert = item
        host = urllib.parse.urlsplit(site.probed_url).hostname or ""
        evidence = {"url": site.probed_url, "host": host, "names": list(cert.names)}
        if cert.is_hostname_match:
            yield passed(site_subject(site), f"the certificate names {host}", **evidence)
        else:
            yield failed(
                site_subject(site),
                f"{site.probed_url}: the certificate is for "
                f"{', '.join(cert.names) or cert.subject}, not {host}",
                **evidence,
            )


@check(
    id="live-tls-certificate-expired",
    section="5",
    title="The certificate has expired, is not yet valid, or expires soon",
    severity=Severity.HIGH,
    rationale="An expired certificate breaks the site or teaches users to ignore warnings.",
    remediation="Renew the certificate and automate its renewal.",
)
@with_connection_evidence
def tls_certificate_expired(snapshot: Snapshot) -> Iterator[Outcome]:
    """Fail an expired or not yet valid certificate; warn when it expires within 14 days."""
    for item in _certificates(snapshot):
        if isinstance(item, Outcome):
            yield item
            continue
        site, cert = item
        subject = site_subject(site)
        evidence = {
            "url": site.probed_url,
            "not_before": cert.not_before,
            "not_after": cert.not_after,
            "days_left": cert.days_left,
        }
        if cert.is_expired:
            yield failed(subject, f"{site.probed_url}: expired on {cert.not_after}", **evidence)
        elif cert.is_not_yet_valid:
            yield failed(
                subject, f"{site.probed_url}: valid only from {cert.not_before}", **evidence
            )
        elif cert.days_left < EXPIRY_WARNING_DAYS:
            yield warned(subject, f"expires in {cert.days_left} days", **evidence)
        else:
            yield passed(subject, f"valid for {cert.days_left} more days", **evidence)


@check(
    id="tls-certificate-key-weak",
    section="5",
    title="The certificate's key or signature is weak",
    severity=Severity.MEDIUM,
    rationale="RSA keys under 2048 bits, small curves and SHA-1 or MD5 signatures can be broken.",
    remediation="Reissue with an RSA key of 2048 bits or more (or P-256) and a SHA-256 signature.",
)
@with_connection_evidence
def tls_certificate_key_weak(snapshot: Snapshot) -> Iterator[Outcome]:
    """Fail a certificate with a short key or a SHA-1/MD5 signature."""
    for item in _certificates(snapshot):
        if isinstance(item, Outcome):
            yield item
            continue
        site, cert = item
        found = []
        if cert.key_type == "RSA" and cert.key_bits < MIN_RSA_BITS:
            found.append(f"an RSA key of {cert.key_bits} bits")
        elif cert.key_type == "EC" and cert.key_bits < MIN_EC_BITS:
            found.append(f"an EC key of {cert.key_bits} bits")
        elif cert.key_type in ("DSA", "other"):
            found.append(f"a {cert.key_type} key")
        if any(cert.signature_algorithm.lower().startswith(w) for w in _WEAK_SIGNATURES):
            found.append(f"a {cert.signature_algorithm} signature")
        # An intermediate is as weak a link as the leaf; a root's own signature is not checked
        # by anyone, so a self-signed certificate in the chain is judged by its key only.
        for link in cert.chain:
            if link.key_type == "RSA" and link.key_bits < MIN_RSA_BITS:
                found.append(f"an RSA key of {link.key_bits} bits in {link.subject}")
            weak = any(link.signature_algorithm.lower().startswith(w) for w in _WEAK_SIGNATURES)
            if weak and not link.is_self_signed:
                found.append(f"a {link.signature_algorithm} signature on {link.subject}")
        evidence = {
            "url": site.probed_url,
            "key_type": cert.key_type,
            "key_bits": cert.key_bits,
            "signature_algorithm": cert.signature_algorithm,
        }
        if found:
            yield failed(site_subject(site), f"{site.probed_url}: {'; '.join(found)}", **evidence)
        else:
            yield passed(
                site_subject(site),
                f"{cert.key_type} {cert.key_bits} bits, {cert.signature_algorithm}",
                **evidence,
            )


@check(
    id="http-not-redirected-to-https",
    section="5",
    title="Plain http:// is not redirected to https:// on the same host",
    severity=Severity.HIGH,
    rationale=(
        "Users who type the bare name arrive over HTTP; the first answer must send them to "
        "HTTPS on the same host, in few hops, before any cookie is set."
    ),
    remediation=(
        "Answer every http:// request with a 301 to the https:// URL of the same host "
        "(nginx: return 301 https://$host$request_uri;)."
    ),
)
@with_connection_evidence
def http_not_redirected_to_https(snapshot: Snapshot) -> Iterator[Outcome]:
    """Judge the redirect chain that starts at the `http://` form of the site."""
    for item in sites(snapshot):
        if isinstance(item, Outcome):
            yield item
            continue
        yield _redirect(item)


def _redirect(site: SiteProbe) -> Outcome:
    subject = site_subject(site)
    chain = site.redirect_chain
    if not chain:
        return skipped(
            subject,
            "the http:// address of this site is not known (give it with --url http://...)",
            url=site.url,
        )
    hops = [f"{r.status or 'no answer'} {r.url}" for r in chain]
    elsewhere = site.redirect_not_followed  # another host, not followed from loopback
    if elsewhere:
        hops.append(f"not followed {elsewhere}")
    evidence = {"url": site.url, "chain": hops}
    if site.url.startswith("https://") and chain[0].error and not chain[0].status:
        return skipped(subject, f"nothing answers on {chain[0].url}: {chain[0].error}", **evidence)
    if site.redirect_error:
        return failed(subject, f"{site.url}: {site.redirect_error}", **evidence)
    first = chain[0]
    if not 300 <= first.status < 400:
        return failed(
            subject, f"{site.url} answers {first.status} instead of redirecting", **evidence
        )
    host = urllib.parse.urlsplit(first.url).hostname
    next_url = chain[1].url if len(chain) > 1 else elsewhere
    if urllib.parse.urlsplit(next_url).hostname != host:
        return failed(subject, f"the first redirect leaves {host} for {next_url}", **evidence)
    final = elsewhere or chain[-1].url
    if not final.startswith("https://"):
        return failed(subject, f"the redirects end on {final}, not on https://", **evidence)
    if first.cookies:
        names = ", ".join(c.name for c in first.cookies)
        return failed(
            subject, f"the plain http:// answer already sets cookies: {names}", **evidence
        )
    return passed(subject, f"redirected to {final} in {len(hops) - 1} hops", **evidence)


@check(
    id="live-hsts-missing-or-short",
    section="5",
    title="Strict-Transport-Security is missing or shorter than six months",
    severity=Severity.MEDIUM,
    rationale=(
        "Without HSTS a browser tries http:// first, where an attacker on the network can "
        "answer instead of the redirect."
    ),
    remediation=(
        'add_header Strict-Transport-Security "max-age=31536000; includeSubDomains" always;'
    ),
    references=("https://www.rfc-editor.org/rfc/rfc6797",),
)
@with_connection_evidence
def hsts_missing_or_short(snapshot: Snapshot) -> Iterator[Outcome]:
    """Fail an HTTPS site whose pages send no HSTS header of at least six months."""
    for item in sites(snapshot):
        if isinstance(item, Outcome):
            yield item
            continue
        subject = site_subject(item)
        if not is_https(item):
            yield skipped(
                subject, "HSTS only applies to HTTPS; the site is plain HTTP", url=item.url
            )
            continue
        response = item.pages[0].response if item.pages else None
        gap = unreachable(item, response)
        if gap is not None or response is None:
            yield gap or skipped(subject, "no page was probed")
            continue
        value = response.header("Strict-Transport-Security")
        evidence = {"url": response.url, "header": value}
        age = _max_age(value)
        if value is None:
            yield failed(subject, f"{response.url} sends no Strict-Transport-Security", **evidence)
        elif age is None:
            yield failed(subject, f"{response.url}: no valid max-age in {value!r}", **evidence)
        elif age < MIN_HSTS_SECONDS:
            yield failed(
                subject,
                f"{response.url}: max-age={age}, under six months ({MIN_HSTS_SECONDS})",
                **evidence,
            )
        else:
            yield passed(subject, f"max-age={age}", **evidence)


def _max_age(value: str | None) -> int | None:
    if value is None:
        return None
    match = re.search(r"(?i)(?:^|;)\s*max-age\s*=\s*\"?(\d{1,12})\"?\s*(?:;|$)", value)
    return int(match.group(1)) if match else None


def _cookie_verdicts(
    snapshot: Snapshot,
) -> Iterator[tuple[SiteProbe, list[Cookie]] | Outcome]:
    for item in sites(snapshot):
        if isinstance(item, Outcome):
            yield item
            continue
        subject = site_subject(item)
        session = item.session
        if session is None:
            yield skipped(subject, "no session was started", url=item.url)
            continue
        cookies = [c for c in session.cookies if c.name and not c.problem]
        if not cookies:
            reason = f": {session.error}" if session.error else ""
            yield skipped(
                subject,
                f"the site set no cookie when a session was started{reason}",
                url=item.probed_url,
            )
            continue
        yield item, cookies


@check(
    id="session-cookie-not-secure",
    section="5",
    title="Runtime cookies are sent without the Secure flag",
    severity=Severity.HIGH,
    rationale=(
        "The runtime marks cookies Secure only when the proxy tells it, with "
        "X-Forwarded-Scheme: https, that the client used HTTPS; without it browsers also send "
        "the session cookie over plain HTTP."
    ),
    remediation=(
        "Make the proxy set the header on every request to the runtime "
        "(nginx: proxy_set_header X-Forwarded-Scheme https;)."
    ),
)
@with_connection_evidence
def session_cookie_not_secure(snapshot: Snapshot) -> Iterator[Outcome]:
    """Fail cookies set over HTTPS without `Secure`; fail a plain-HTTP session outright."""
    for item in _cookie_verdicts(snapshot):
        if isinstance(item, Outcome):
            yield item
            continue
        site, cookies = item
        subject = site_subject(site)
        insecure = [c.name for c in cookies if not c.is_secure]
        evidence = {"url": site.probed_url, "cookies": [_describe(c) for c in cookies]}
        if not is_https(site):
            yield failed(
                subject, f"{site.probed_url} hands out cookies over plain HTTP", **evidence
            )
        elif insecure:
            severity = (
                Severity.HIGH
                if any(is_session_cookie(c, site) for c in cookies if not c.is_secure)
                else Severity.MEDIUM
            )
            outcome = failed(
                subject, f"{site.probed_url} sets {', '.join(insecure)} without Secure", **evidence
            )
            yield replace(outcome, severity=severity)
        else:
            yield passed(subject, "every cookie is Secure", **evidence)


@check(
    id="cookie-not-httponly",
    section="5",
    title="Session cookies can be read by scripts (no HttpOnly)",
    severity=Severity.MEDIUM,
    rationale="An HttpOnly session cookie cannot be stolen by injected JavaScript.",
    remediation="Keep the runtime's HttpOnly flags; do not rewrite Set-Cookie at the proxy.",
)
@with_connection_evidence
def cookie_not_httponly(snapshot: Snapshot) -> Iterator[Outcome]:
    """Fail cookies the client does not need to read that lack `HttpOnly`."""
    for item in _cookie_verdicts(snapshot):
        if isinstance(item, Outcome):
            yield item
            continue
        site, cookies = item
        readable = [c.name for c in cookies if needs_http_only(c) and not c.is_http_only]
        evidence = {"url": site.probed_url, "cookies": [_describe(c) for c in cookies]}
        if readable:
            yield failed(
                site_subject(site),
                f"{site.probed_url} sets {', '.join(readable)} without HttpOnly",
                **evidence,
            )
        else:
            yield passed(
                site_subject(site), "cookies the client need not read are HttpOnly", **evidence
            )


@check(
    id="cookie-samesite-missing",
    section="5",
    title="Runtime cookies carry no valid SameSite attribute",
    severity=Severity.LOW,
    rationale="SameSite limits cross-site requests that carry the session (CSRF).",
    remediation=(
        "Set com.mendix.core.SameSiteCookies (Strict or Lax unless the app is embedded "
        "cross-site), or add the attribute at the proxy (nginx: proxy_cookie_flags)."
    ),
)
@with_connection_evidence
def cookie_samesite_missing(snapshot: Snapshot) -> Iterator[Outcome]:
    """Fail cookies without `SameSite=Strict|Lax|None` (None only with Secure)."""
    for item in _cookie_verdicts(snapshot):
        if isinstance(item, Outcome):
            yield item
            continue
        site, cookies = item
        bad = []
        for cookie in cookies:
            value = cookie.same_site.lower()
            if value not in ("strict", "lax", "none") or (value == "none" and not cookie.is_secure):
                bad.append(f"{cookie.name} (SameSite={cookie.same_site or 'absent'})")
        evidence = {"url": site.probed_url, "cookies": [_describe(c) for c in cookies]}
        if bad:
            yield failed(site_subject(site), f"{site.probed_url}: {', '.join(bad)}", **evidence)
        else:
            yield passed(site_subject(site), "every cookie has a valid SameSite", **evidence)


@check(
    id="set-cookie-malformed",
    section="5",
    title="The site sends malformed Set-Cookie headers",
    severity=Severity.LOW,
    rationale="Browsers drop or misread malformed cookies; their flags cannot be relied on.",
    remediation="Find what writes the header (proxy rewrite, app code) and fix its syntax.",
)
@with_connection_evidence
def set_cookie_malformed(snapshot: Snapshot) -> Iterator[Outcome]:
    """Warn about `Set-Cookie` lines that do not parse."""
    for item in sites(snapshot):
        if isinstance(item, Outcome):
            yield item
            continue
        responses = list(item.session.responses if item.session else ())
        responses += [p.response for p in item.pages]
        broken = [(r.url, c) for r in responses for c in r.cookies if c.problem]
        answered = [r for r in responses if r.status]
        if broken:
            shown = "; ".join(f"{url}: {c.problem}" for url, c in broken[:5])
            yield warned(site_subject(item), shown, url=broken[0][0], count=len(broken))
        elif not answered:
            yield skipped(site_subject(item), "no answer came back to read cookies from")
        else:
            count = sum(len(r.cookies) for r in answered)
            yield passed(
                site_subject(item),
                f"every Set-Cookie header parses ({count} in {len(answered)} answers)",
                url=item.probed_url,
            )


@check(
    id="forwarded-scheme-spoofable",
    section="5",
    title="The proxy passes the client's X-Forwarded-Scheme/Proto to the runtime",
    severity=Severity.HIGH,
    rationale=(
        "The runtime trusts the forwarded scheme. A proxy that forwards a client's own value "
        "lets anyone make the runtime drop Secure from the session cookie (and believe other "
        "things about the connection)."
    ),
    remediation=(
        "Set the header unconditionally at the proxy, overwriting what the client sent "
        "(nginx: proxy_set_header X-Forwarded-Scheme https; proxy_set_header "
        "X-Forwarded-Proto https;)."
    ),
)
@with_connection_evidence
def forwarded_scheme_spoofable(snapshot: Snapshot) -> Iterator[Outcome]:
    """Fail a site whose cookies lose `Secure` when the client sends `X-Forwarded-*: http`."""
    for item in _cookie_verdicts(snapshot):
        if isinstance(item, Outcome):
            yield item
            continue
        site, cookies = item
        subject = site_subject(site)
        spoofed = site.spoofed_session
        if not is_https(site):
            yield skipped(
                subject, "the site is plain HTTP: there is no Secure flag to lose", url=site.url
            )
            continue
        if not any(c.is_secure for c in cookies):
            yield skipped(
                subject,
                "the cookies are not Secure even without forged headers "
                "(see session-cookie-not-secure)",
                url=site.probed_url,
            )
            continue
        if spoofed is None or not [c for c in spoofed.cookies if c.name and not c.problem]:
            why = spoofed.error if spoofed and spoofed.error else "no cookie was set"
            yield skipped(subject, f"the spoofing probe got no cookies: {why}", url=site.probed_url)
            continue
        lost = [c.name for c in spoofed.cookies if c.name and not c.problem and not c.is_secure]
        evidence = {
            "url": site.probed_url,
            "forged_headers": list(spoofed.spoofed_headers),
            "cookies": [_describe(c) for c in spoofed.cookies],
        }
        if lost:
            yield failed(
                subject,
                f"{site.probed_url}: with forged X-Forwarded-Scheme/Proto: http the runtime "
                f"sets {', '.join(lost)} without Secure",
                **evidence,
            )
        else:
            yield passed(subject, "forged forwarded-scheme headers change nothing", **evidence)


def _describe(cookie: Cookie) -> str:
    flags = [
        "Secure" if cookie.is_secure else "no Secure",
        "HttpOnly" if cookie.is_http_only else "no HttpOnly",
        f"SameSite={cookie.same_site}" if cookie.same_site else "no SameSite",
    ]
    return f"{cookie.name}: {', '.join(flags)}"
