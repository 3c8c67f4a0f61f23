"""The live checks over hand-made facts: the verdicts that real servers make awkward to stage."""

from __future__ import annotations

from dataclasses import replace

from mxguard.checks.registry import catalog
from mxguard.engine import evaluate
from mxguard.facts import Mode, Snapshot
from mxguard.live.cookies import base_name, parse_set_cookie
from mxguard.live.facts import (
    AdminProbe,
    CertificateFacts,
    ChainCertificate,
    Cookie,
    Header,
    LiveFacts,
    Page,
    ProtocolSupport,
    Response,
    SessionProbe,
    SiteProbe,
    TlsFacts,
)
from mxguard.live.probes import who_served
from mxguard.live.tls import matches_hostname
from mxguard.model import Finding, Status

URL = "https://shop.example/"
SECURE = Cookie(name="__Host-XASSESSIONID", is_secure=True, is_http_only=True, same_site="Strict")


def _snapshot(live: LiveFacts | None, mode: Mode = Mode.LIVE) -> Snapshot:
    return Snapshot(
        tool_version="test", host="h", collected_at="2026-01-01T00:00:00Z", mode=mode, live=live
    )


def _site(**changes: object) -> SiteProbe:
    page = Response(url=URL, status=200, headers=(Header(name="Server", value="nginx"),))
    site = SiteProbe(
        url=URL,
        origin="--url",
        probed_url=URL,
        tls=TlsFacts(
            protocols=(
                ProtocolSupport(version="TLSv1", status="refused"),
                ProtocolSupport(version="TLSv1.1", status="refused"),
                ProtocolSupport(version="TLSv1.2", status="accepted"),
                ProtocolSupport(version="TLSv1.3", status="accepted"),
            ),
            negotiated_protocol="TLSv1.3",
            certificate=CertificateFacts(
                subject="CN=shop.example",
                issuer="CN=CA",
                names=("shop.example",),
                days_left=200,
                key_type="RSA",
                key_bits=2048,
                signature_algorithm="sha256-with-rsa",
                is_trusted=True,
                is_hostname_match=True,
            ),
        ),
        pages=(Page(path="/", kind="static", response=page),),
        session=SessionProbe(
            responses=(page, Response(url=URL + "xas/", method="POST", status=200)),
            cookies=(SECURE,),
        ),
    )
    return replace(site, **changes)  # type: ignore[arg-type]


def _finding(check: str, live: LiveFacts) -> Finding:
    selected = [c for c in catalog() if c.id == check]
    (finding,) = evaluate([_snapshot(live)], checks=selected).findings
    return finding


def test_a_small_rsa_key_and_a_sha1_signature_fail() -> None:
    site = _site()
    assert site.tls is not None and site.tls.certificate is not None
    weak = replace(site.tls.certificate, key_bits=1024, signature_algorithm="sha1-with-rsa")
    live = LiveFacts(
        vantage="host", sites=(replace(site, tls=replace(site.tls, certificate=weak)),)
    )

    finding = _finding("tls-certificate-key-weak", live)

    assert finding.status is Status.FAIL
    assert "1024 bits" in finding.message and "sha1" in finding.message


def test_a_weak_intermediate_fails_but_a_roots_own_signature_does_not() -> None:
    site = _site()
    assert site.tls is not None and site.tls.certificate is not None

    def judged(*chain: ChainCertificate) -> Finding:
        certificate = replace(site.tls.certificate, chain=chain, chain_length=1 + len(chain))  # type: ignore[union-attr]
        tls = replace(site.tls, certificate=certificate)  # type: ignore[arg-type]
        return _finding(
            "tls-certificate-key-weak", LiveFacts(vantage="host", sites=(replace(site, tls=tls),))
        )

    strong = ChainCertificate(
        subject="CN=Intermediate",
        issuer="CN=Root",
        key_type="RSA",
        key_bits=2048,
        signature_algorithm="sha256-with-rsa",
    )
    old_root = ChainCertificate(
        subject="CN=Root",
        issuer="CN=Root",
        is_self_signed=True,
        key_type="RSA",
        key_bits=2048,
        signature_algorithm="sha1-with-rsa",
    )
    assert judged(strong, old_root).status is Status.PASS
    weak = judged(replace(strong, key_bits=1024, signature_algorithm="sha1-with-rsa"))
    assert weak.status is Status.FAIL
    assert "1024 bits in CN=Intermediate" in weak.message
    assert "sha1-with-rsa signature on CN=Intermediate" in weak.message


def test_an_incomplete_chain_is_named_in_the_trust_failure_and_warned_when_trusted() -> None:
    site = _site()
    assert site.tls is not None and site.tls.certificate is not None
    problem = "incomplete chain: the server sends only its own certificate"

    def judged(**changes: object) -> Finding:
        certificate = replace(site.tls.certificate, chain_problem=problem, **changes)  # type: ignore[union-attr, arg-type]
        tls = replace(site.tls, certificate=certificate)  # type: ignore[arg-type]
        live = LiveFacts(vantage="host", sites=(replace(site, tls=tls),))
        return _finding("live-tls-certificate-untrusted", live)

    untrusted = judged(is_trusted=False, trust_error="unable to get local issuer certificate")
    assert untrusted.status is Status.FAIL and problem in untrusted.message
    assert judged(is_trusted=True).status is Status.WARN


def test_a_certificate_that_expires_soon_warns() -> None:
    site = _site()
    assert site.tls is not None and site.tls.certificate is not None
    soon = replace(site.tls.certificate, days_left=3)
    live = LiveFacts(
        vantage="host", sites=(replace(site, tls=replace(site.tls, certificate=soon)),)
    )

    assert _finding("live-tls-certificate-expired", live).status is Status.WARN


def test_untestable_old_protocols_are_skipped_with_the_reason() -> None:
    site = _site()
    assert site.tls is not None
    untestable = tuple(
        replace(p, status="cannot-test", detail="OpenSSL refuses") if p.version == "TLSv1" else p
        for p in site.tls.protocols
    )
    live = LiveFacts(
        vantage="host", sites=(replace(site, tls=replace(site.tls, protocols=untestable)),)
    )

    finding = _finding("live-tls-protocol-below-1-2-accepted", live)

    assert finding.status is Status.SKIP and "OpenSSL refuses" in finding.message


def test_cookies_without_httponly_or_samesite_fail() -> None:
    loose = Cookie(name="XASSESSIONID", is_secure=True)
    readable = Cookie(name="DeviceType", is_secure=True, same_site="Lax")
    session = SessionProbe(cookies=(loose, readable))
    live = LiveFacts(vantage="host", sites=(_site(session=session),))

    httponly = _finding("cookie-not-httponly", live)
    samesite = _finding("cookie-samesite-missing", live)

    assert httponly.status is Status.FAIL and "XASSESSIONID" in httponly.message
    assert "DeviceType" not in httponly.message  # the client reads it; HttpOnly would break it
    assert samesite.status is Status.FAIL and "SameSite=absent" in samesite.message


def test_samesite_none_without_secure_fails() -> None:
    session = SessionProbe(cookies=(Cookie(name="xasid", is_http_only=True, same_site="None"),))
    live = LiveFacts(vantage="host", sites=(_site(session=session),))

    assert _finding("cookie-samesite-missing", live).status is Status.FAIL


def test_a_csp_with_unsafe_inline_scripts_fails_as_weak() -> None:
    policy = "default-src 'self'; script-src 'self' 'unsafe-inline'"
    page = Response(
        url=URL, status=200, headers=(Header(name="Content-Security-Policy", value=policy),)
    )
    live = LiveFacts(
        vantage="host",
        sites=(_site(pages=(Page(path="/", kind="static", response=page),), session=None),),
    )

    finding = _finding("live-csp-weak", live)

    assert finding.status is Status.FAIL
    assert "unsafe-inline" in finding.message and finding.evidence["url"] == URL


def test_a_report_only_csp_counts_as_missing() -> None:
    header = Header(name="Content-Security-Policy-Report-Only", value="default-src 'none'")
    page = Response(url=URL, status=200, headers=(header,))
    live = LiveFacts(
        vantage="host",
        sites=(_site(pages=(Page(path="/", kind="static", response=page),), session=None),),
    )

    finding = _finding("live-csp-missing", live)

    assert finding.status is Status.FAIL and "Report-Only" in finding.message


def test_an_admin_api_that_answers_without_a_password_is_critical() -> None:
    probe = AdminProbe(
        address="127.0.0.1",
        port=9000,
        app="shop",
        unauthenticated_status=200,
        unauthenticated_result=0,
        is_unauthenticated_refused=False,
    )
    live = LiveFacts(vantage="host", admin=(probe,))

    finding = _finding("admin-api-accepts-unauthenticated", live)

    assert finding.status is Status.FAIL and finding.severity.value == "critical"
    assert finding.evidence["address"] == "127.0.0.1:9000"


def test_every_live_check_skips_without_network_facts() -> None:
    live_checks = [c for c in catalog() if c.evaluate.__module__.endswith("_live")]
    assert len(live_checks) >= 20

    report = evaluate([_snapshot(None, Mode.OFFLINE)], checks=live_checks)

    assert {f.status for f in report.findings} == {Status.SKIP}
    assert all("offline tree" in f.message for f in report.findings)


def test_who_served_tells_proxy_from_runtime_by_etag_and_headers() -> None:
    runtime = Response(
        url="http://127.0.0.1:8080/index.html",
        status=200,
        headers=(Header(name="ETag", value='"mx-1"'), Header(name="X-Runtime", value="yes")),
    )
    same = Response(url=URL, status=200, headers=(Header(name="ETag", value='"mx-1"'),))
    other = Response(url=URL, status=200, headers=(Header(name="ETag", value='"65-1a"'),))
    marked = Response(url=URL, status=200, headers=(Header(name="X-Runtime", value="yes"),))
    missing = replace(runtime, status=404)

    assert who_served(same, runtime)[0] == "runtime"
    assert who_served(other, runtime)[0] == "proxy"
    assert who_served(marked, replace(runtime, headers=runtime.headers[1:]))[0] == "runtime"
    assert who_served(other, missing)[0] == "proxy"
    assert who_served(other, None)[0] == "unknown"


def test_set_cookie_parsing_keeps_flags_and_drops_values() -> None:
    cookie = parse_set_cookie("__Host-XASSESSIONID=secret; Path=/; Secure; HttpOnly; SameSite=Lax")

    assert cookie.name == "__Host-XASSESSIONID" and base_name(cookie.name) == "XASSESSIONID"
    assert cookie.is_secure and cookie.is_http_only and cookie.same_site == "Lax"
    assert "secret" not in repr(cookie)


def test_malformed_set_cookie_lines_are_described() -> None:
    assert parse_set_cookie("novalue").problem == "no name=value pair"
    assert "empty cookie name" in parse_set_cookie("=x").problem
    assert "characters" in parse_set_cookie("bad name\xff=1").problem
    assert parse_set_cookie("a=" + "x" * 100_000).name == "a"


def test_hostname_matching_follows_wildcard_rules() -> None:
    assert matches_hostname(("*.example.com",), (), "shop.example.com")
    assert not matches_hostname(("*.example.com",), (), "a.b.example.com")
    assert not matches_hostname(("*.example.com",), (), "example.com")
    assert matches_hostname(("127.0.0.1",), (), "127.0.0.1")
    assert not matches_hostname(("localhost",), (), "127.0.0.1")
    assert matches_hostname((), ("shop.example",), "shop.example")  # CN only without SANs


def test_no_plain_http_listener_for_an_https_site_is_not_a_failure() -> None:
    refused = Response(url="http://shop.example/", error="cannot connect to shop.example:80")
    live = LiveFacts(vantage="host", sites=(_site(redirect_chain=(refused,)),))

    finding = _finding("http-not-redirected-to-https", live)

    assert (
        finding.status is Status.SKIP
        and "nothing answers on http://shop.example/" in finding.message
    )


def test_a_redirect_that_leaves_the_host_first_fails() -> None:
    first = Response(
        url="http://shop.example/",
        status=301,
        headers=(Header(name="Location", value="https://elsewhere.example/"),),
    )
    final = Response(url="https://elsewhere.example/", status=200)
    live = LiveFacts(
        vantage="host", sites=(_site(url="http://shop.example/", redirect_chain=(first, final)),)
    )

    finding = _finding("http-not-redirected-to-https", live)

    assert finding.status is Status.FAIL and "leaves shop.example" in finding.message


def _redirect(url: str, to: str) -> Response:
    return Response(url=url, status=301, headers=(Header(name="Location", value=to),))


def test_a_redirect_to_another_host_that_was_not_followed_is_judged_by_its_target() -> None:
    # Given a site probed on loopback whose http:// form sends users straight to another host
    first = _redirect("http://shop.example/", "https://login.example/")
    site = _site(
        connected_to="127.0.0.1:443",
        origin="proxy site /etc/nginx/nginx.conf:12",
        redirect_chain=(first,),
        redirect_not_followed="https://login.example/",
    )

    finding = _finding("http-not-redirected-to-https", LiveFacts(vantage="host", sites=(site,)))

    # Then the first hop leaves the host, and the finding says where it was reached
    assert finding.status is Status.FAIL and "leaves shop.example" in finding.message
    assert finding.evidence["chain"] == [
        "301 http://shop.example/",
        "not followed https://login.example/",
    ]
    assert finding.evidence["connected_to"] == "127.0.0.1:443"
    assert finding.evidence["origin"] == "proxy site /etc/nginx/nginx.conf:12"


def test_a_chain_that_reaches_https_on_the_host_before_leaving_it_passes() -> None:
    first = _redirect("http://shop.example/", "https://shop.example/")
    second = _redirect("https://shop.example/", "https://login.example/")
    site = _site(
        connected_to="127.0.0.1:443",
        redirect_chain=(first, second),
        redirect_not_followed="https://login.example/",
    )

    finding = _finding("http-not-redirected-to-https", LiveFacts(vantage="host", sites=(site,)))

    assert finding.status is Status.PASS and "https://login.example/" in finding.message


def test_a_site_reached_at_its_own_address_gets_no_connection_evidence() -> None:
    finding = _finding("live-hsts-missing-or-short", LiveFacts(vantage="host", sites=(_site(),)))

    assert "connected_to" not in finding.evidence and "origin" not in finding.evidence


def test_an_https_site_without_plain_http_still_answers() -> None:
    # Given an https:// site on port 443 whose http:// form (port 80) accepts no connection
    refused = Response(url="http://shop.example/", error="cannot connect to shop.example:80")
    live = LiveFacts(vantage="host", sites=(_site(redirect_chain=(refused,)),))

    # Then the site itself answered: the missing plain listener is the redirect check's skip
    assert _finding("site-does-not-answer", live).status is Status.PASS
    assert _finding("http-not-redirected-to-https", live).status is Status.SKIP


def test_a_site_that_answered_nothing_passes_no_check() -> None:
    # Given a site whose every request timed out
    silent = Response(url=URL, error="timed out")
    site = SiteProbe(
        url=URL,
        origin="--url",
        probed_url=URL,
        pages=(Page(path="/", kind="static", response=silent),),
        session=SessionProbe(responses=(silent,), error="timed out"),
    )

    report = evaluate([_snapshot(LiveFacts(vantage="host", sites=(site,)))])

    # Then nothing about it is a pass: what could not be seen is skipped or an error
    about = [f for f in report.findings if f.subject == f"url:{URL}"]
    assert about
    assert [f.check for f in about if f.status is Status.PASS] == []
