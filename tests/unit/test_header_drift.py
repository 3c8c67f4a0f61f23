"""The configuration against the live site, from facts: which headers must have arrived."""

from __future__ import annotations

from mxguard.checks.s09_drift import live_headers_differ_from_config
from mxguard.facts import Mode, Snapshot
from mxguard.live.facts import Header as LiveHeader
from mxguard.live.facts import LiveFacts, Page, Response, SiteProbe
from mxguard.model import Status
from mxguard.proxy.model import Header, Listen, Origin, ProxyConfig, ProxyFacts, Route, Site

CONF = "/etc/nginx/nginx.conf"


def _site(server: str = "nginx") -> ProxyConfig:
    def added(name: str, value: str, line: int, *, always: bool) -> Header:
        return Header(name=name, value=value, origin=Origin(file=CONF, line=line), always=always)

    route = Route(
        index=0,
        match="prefix",
        path="/",
        kind="static",
        origin=Origin(file=CONF, line=20),
        static_root="/srv/shop/web",
        response_headers=(
            added("Strict-Transport-Security", "max-age=31536000", 11, always=False),
            added("X-Frame-Options", "DENY", 12, always=True),
            added("Content-Security-Policy", "script-src 'nonce-$request_id'", 13, always=True),
        ),
    )
    site = Site(
        name="*.example.com:443",
        server_names=("*.example.com",),
        listens=(Listen(address="*", port=443, is_tls=True, origin=Origin(file=CONF, line=9)),),
        origin=Origin(file=CONF, line=8),
        routes=(route,),
    )
    return ProxyConfig(server=server, path=CONF, sites=(site,), is_explicit=True)


def _judge(
    status: int,
    headers: dict[str, str],
    *,
    url: str = "https://shop.example.com/",
    server: str = "nginx",
) -> tuple[Status, str]:
    response = Response(
        url=url,
        status=status,
        headers=tuple(LiveHeader(name=k, value=v) for k, v in headers.items()),
    )
    probe = SiteProbe(
        url=url, origin="--url", pages=(Page(path="/", kind="static", response=response),)
    )
    snapshot = Snapshot(
        tool_version="t",
        host="h",
        collected_at="now",
        mode=Mode.LIVE,
        proxy=ProxyFacts(configs=(_site(server),)),
        live=LiveFacts(vantage="host", sites=(probe,)),
    )
    (outcome,) = live_headers_differ_from_config(snapshot)
    return outcome.status, outcome.message


def test_headers_as_configured_pass_and_a_variable_value_is_checked_for_presence_only() -> None:
    status, message = _judge(
        200,
        {
            "Strict-Transport-Security": "max-age=31536000",
            "X-Frame-Options": "DENY",
            "Content-Security-Policy": "script-src 'nonce-abc123'",
        },
    )
    assert status is Status.PASS, message
    assert "3 configured" in message


def test_a_header_without_always_is_not_expected_on_an_error_answer() -> None:
    # nginx adds HSTS (no `always`) only to success and redirect answers
    status, message = _judge(
        404, {"X-Frame-Options": "DENY", "Content-Security-Policy": "script-src 'nonce-x'"}
    )
    assert status is Status.PASS, message


def test_a_missing_header_and_a_changed_value_fail_with_the_line() -> None:
    status, message = _judge(200, {"X-Frame-Options": "SAMEORIGIN"})
    assert status is Status.FAIL
    assert f"Content-Security-Policy is configured ({CONF}:13) but did not arrive" in message
    assert f"Strict-Transport-Security is configured ({CONF}:11) but did not arrive" in message
    assert "X-Frame-Options is configured as 'DENY'" in message and "'SAMEORIGIN'" in message


def test_a_url_no_configured_site_answers_is_skipped() -> None:
    status, message = _judge(200, {}, url="https://example.org/")
    assert status is Status.SKIP
    assert "no site in the proxy configuration answers example.org" in message


def test_a_site_that_answered_nothing_is_skipped_not_passed() -> None:
    status, message = _judge(0, {})
    assert status is Status.SKIP
    assert "no page or /xas/ answer" in message


def test_apache_adds_onsuccess_headers_to_its_own_2xx_answers_only() -> None:
    # Given the same route in Apache: a redirect httpd makes carries no onsuccess header
    status, message = _judge(
        302,
        {"X-Frame-Options": "DENY", "Content-Security-Policy": "script-src 'nonce-x'"},
        server="apache",
    )
    assert status is Status.PASS, message
    # while its own 200 answer must carry it
    status, message = _judge(200, {"X-Frame-Options": "DENY"}, server="apache")
    assert status is Status.FAIL and "Strict-Transport-Security" in message
