"""nginx configurations, accepted by real nginx, judged end to end by `mxguard audit`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from proxylab import App, Findings, TlsFiles, assert_nginx_accepts, days_from_now, make_tls

from mxguard.checks.registry import catalog

ALL_PROXY_SECTIONS = ("5", "7", "9")


def proxy_checks() -> set[str]:
    # The checks that judge proxy configuration; the live ones judge a running site.
    return {
        c.id
        for c in catalog()
        if c.section in ALL_PROXY_SECTIONS and c.evaluate.__module__.endswith("_proxy")
    }


def run(audit: Callable[..., Findings], app: App, config: Path, ca: str | None) -> Findings:
    args = ["--config", app.m2ee, "--proxy-config", str(config)]
    if ca:
        args += ["--ca-bundle", ca]
    return audit(*args)


def mine(found: Findings, check: str, status: str) -> list[dict[str, object]]:
    return [f for f in found.of(check, status=status) if "shop.example.com" in str(f["subject"])]


def test_the_good_layout_has_no_failure(
    nginx_config: Callable[..., Path], app: App, tls: TlsFiles, audit: Callable[..., Findings]
) -> None:
    # Given the common good nginx layout for a Mendix app, accepted by nginx -t
    config = nginx_config("good.conf")

    # When it is audited with the app's m2ee.yaml and the internal CA
    found = run(audit, app, config, tls.ca)

    # Then no proxy check fails or warns about the app's site
    bad = [
        f
        for f in found.items
        if f["section"] in ALL_PROXY_SECTIONS
        and f["status"] in ("fail", "warn", "error")
        and "shop.example.com" in str(f["subject"])
    ]
    assert bad == []

    # And every proxy check passes somewhere for it
    passing = {
        f["check"]
        for f in found.items
        if f["status"] == "pass"
        and f["section"] in ALL_PROXY_SECTIONS
        and (
            "shop.example.com" in str(f["subject"])
            or f["subject"] in ("app:shop", f"file:{config}")
        )
    }
    assert passing == proxy_checks()


def test_inheritance_traps_are_caught_with_file_and_line(
    nginx_config: Callable[..., Path], app: App, tls: TlsFiles, audit: Callable[..., Findings]
) -> None:
    # Given blocks that define their own add_header / proxy_set_header (and an if block)
    config = nginx_config("wrong-inheritance.conf")
    lines = config.read_text().splitlines()

    found = run(audit, app, config, tls.ca)

    # Then /xas/ and the nested /rest/v2/ lose X-Forwarded-Scheme; /p/ and /rest/ keep it
    missing = {f["subject"]: f for f in mine(found, "forwarded-scheme-header-missing", "fail")}
    assert set(missing) == {
        "route:shop.example.com:443 /xas/",
        "route:shop.example.com:443 /rest/v2/",
    }
    xas = missing["route:shop.example.com:443 /xas/"]
    assert xas["evidence"]["file"] == str(config)
    assert "location /xas/" in lines[xas["evidence"]["line"] - 1]
    # The message names what the block sets instead, so the cause is plain
    own_line = int(str(xas["message"]).split("Host (line ")[1].split(")")[0])
    assert "proxy_set_header Host" in lines[own_line - 1]
    passing = {f["subject"] for f in mine(found, "forwarded-scheme-header-missing", "pass")}
    assert "route:shop.example.com:443 /p/" in passing
    assert "route:shop.example.com:443 /rest/" in passing

    # And the single add_header in `location /` drops every security header there
    hsts = {f["subject"] for f in mine(found, "hsts-missing-or-short", "fail")}
    assert "route:shop.example.com:443 /" in hsts
    assert "route:shop.example.com:443 /p/ if ($args)" in hsts
    assert "route:shop.example.com:443 /p/" not in hsts
    assert {f["subject"] for f in mine(found, "csp-missing", "fail")} >= {
        "route:shop.example.com:443 /",
        "route:shop.example.com:443 /p/ if ($args)",
    }
    assert found.exit_code == 1


def test_each_way_of_getting_it_wrong(
    nginx_config: Callable[..., Path], app: App, tls: TlsFiles, audit: Callable[..., Findings]
) -> None:
    # Given everything proxied, plain HTTP serving content, old TLS and a client-set scheme
    config = nginx_config("wrong-everything.conf")

    found = run(audit, app, config, tls.ca)

    expect_fail = {
        "plain-http-site-serves-content",
        "tls-protocol-below-1-2-enabled",
        "forwarded-scheme-header-from-client",
        "root-proxied-to-runtime",
        "development-handler-reachable",
        "csp-weak",
        "hsts-missing-or-short",
        "nosniff-missing",
        "framing-not-denied",
        "referrer-policy-missing",
    }
    for check in expect_fail:
        assert mine(found, check, "fail"), check
    assert mine(found, "upstream-not-local", "warn")
    assert mine(found, "documentation-handler-open", "warn")
    assert mine(found, "security-headers-not-always", "warn")
    assert mine(found, "server-tokens-on", "warn")
    assert mine(found, "mxclientsystem-not-served-statically", "fail")
    weak = mine(found, "csp-weak", "fail")[0]
    assert "script-src-unsafe-inline" in weak["evidence"]["issues"]
    assert weak["severity"] == "high"


def test_certificate_checks_fail_for_bad_files(
    nginx_config: Callable[..., Path],
    app: App,
    tmp_path: Path,
    audit: Callable[..., Findings],
) -> None:
    # Given a certificate for another name, soon to expire, with a world-readable key
    # (nginx -t accepts all of that)
    bad = make_tls(
        tmp_path / "bad-tls",
        names=("other.example.com",),
        not_after=days_from_now(10),
        key_mode=0o644,
    )
    config = nginx_config("good.conf", tls_files=bad)

    # When audited without the CA that issued it
    found = run(audit, app, config, None)

    assert mine(found, "tls-certificate-name-mismatch", "fail")
    assert mine(found, "tls-certificate-untrusted", "fail")
    assert mine(found, "tls-key-readable-by-others", "fail")
    assert mine(found, "tls-certificate-expired", "warn")
    assert mine(found, "tls-key-mismatch", "pass")


def test_a_key_of_another_certificate_fails_as_nginx_does(
    nginx_config: Callable[..., Path],
    app: App,
    tmp_path: Path,
    audit: Callable[..., Findings],
) -> None:
    foreign = make_tls(tmp_path / "foreign-tls", other_key=True)
    config = nginx_config("good.conf", tls_files=foreign, check=False)

    # nginx itself refuses the pair; mxguard says why
    with pytest.raises(AssertionError, match="nginx rejects"):
        assert_nginx_accepts(config, config.parent)
    found = run(audit, app, config, foreign.ca)
    assert mine(found, "tls-key-mismatch", "fail")


def test_an_expired_certificate_fails(
    nginx_config: Callable[..., Path],
    app: App,
    tmp_path: Path,
    audit: Callable[..., Findings],
) -> None:
    expired = make_tls(tmp_path / "old-tls", not_after=days_from_now(-1))
    config = nginx_config("good.conf", tls_files=expired)
    found = run(audit, app, config, expired.ca)
    assert mine(found, "tls-certificate-expired", "fail")
    assert mine(found, "tls-certificate-untrusted", "pass")


def test_a_missing_certificate_file_fails(
    nginx_config: Callable[..., Path], app: App, tmp_path: Path, audit: Callable[..., Findings]
) -> None:
    gone = TlsFiles(cert=str(tmp_path / "none.crt"), key=str(tmp_path / "none.key"), ca="")
    config = nginx_config("good.conf", tls_files=gone, check=False)
    with pytest.raises(AssertionError, match="nginx rejects"):
        assert_nginx_accepts(config, config.parent)
    found = run(audit, app, config, None)
    assert mine(found, "tls-certificate-unusable", "fail")
    assert mine(found, "tls-certificate-expired", "skip")


def test_an_unparseable_config_is_an_error_naming_file_and_line(
    nginx_config: Callable[..., Path], app: App, audit: Callable[..., Findings]
) -> None:
    config = nginx_config("broken.conf", check=False)
    found = run(audit, app, config, None)
    errors = [
        f
        for f in found.of("proxy-config-unreadable", status="error")
        if f["evidence"].get("file") == str(config)
    ]
    assert errors
    assert errors[0]["evidence"]["line"] >= 1


def test_static_content_from_the_wrong_places(
    nginx_config: Callable[..., Path], app: App, tls: TlsFiles, audit: Callable[..., Findings]
) -> None:
    # Given / from /var/www/html, /mxclientsystem of another version, /admin/ to the runtime
    config = nginx_config("wrong-static.conf")

    found = run(audit, app, config, tls.ca)

    assert mine(found, "root-not-served-from-web-folder", "fail")
    client = mine(found, "mxclientsystem-not-served-statically", "fail")
    assert client and "9.24.0" in str(client[0]["message"])
    beyond = mine(found, "runtime-reached-beyond-handlers", "fail")
    assert [f["subject"] for f in beyond] == ["route:shop.example.com:443 ^/(ws|rest|admin)/"]
    assert "/admin/" in str(beyond[0]["message"])
    assert mine(found, "runtime-reached-beyond-handlers", "pass")  # /xas/ is fine
    docs = mine(found, "documentation-handler-open", "warn")
    assert [f["subject"] for f in docs] == ["route:shop.example.com:443 /rest-doc/"]
    # A report-only policy enforces nothing
    assert "Report-Only" in str(mine(found, "csp-missing", "fail")[0]["message"])
    # Without X-Frame-Options, a report-only frame-ancestors does not deny framing
    assert mine(found, "framing-not-denied", "fail")
    # And the plain-HTTP site redirects, but not to https://
    assert mine(found, "plain-http-site-serves-content", "fail")


def test_an_app_on_plain_http_only_fails(
    nginx_config: Callable[..., Path], app: App, tls: TlsFiles, audit: Callable[..., Findings]
) -> None:
    config = nginx_config("plain-only.conf")
    found = run(audit, app, config, tls.ca)
    [verdict] = found.of("app-not-served-over-tls", status="fail")
    assert verdict["subject"] == "app:shop" and verdict["evidence"]["file"] == str(config)
    assert mine(found, "plain-http-site-serves-content", "fail")


def test_a_missing_include_is_a_warning_naming_it(
    nginx_config: Callable[..., Path], app: App, tmp_path: Path, audit: Callable[..., Findings]
) -> None:
    config = nginx_config("plain-only.conf")
    text = config.read_text().replace("include snippets/*.conf;", "include snippets/gone.conf;")
    config.write_text(text)
    found = run(audit, app, config, None)
    [warning] = [
        f
        for f in found.of("proxy-config-unreadable", status="warn")
        if f["subject"] == f"file:{config}"
    ]
    assert "snippets/gone.conf" in str(warning["message"])
    assert "include snippets/gone.conf" in text.splitlines()[warning["evidence"]["line"] - 1]


def test_one_server_block_for_both_ports(
    nginx_config: Callable[..., Path], app: App, tls: TlsFiles, audit: Callable[..., Findings]
) -> None:
    # Given one server block on ports 80 and 443 without a redirect
    config = nginx_config("mixed.conf")
    found = run(audit, app, config, tls.ca)

    # Then plain HTTP serves the app, and $scheme is no proof of HTTPS there
    [mixed] = mine(found, "plain-http-site-serves-content", "fail")
    assert "listen 80;" in config.read_text().splitlines()[mixed["evidence"]["line"] - 1]
    assert mine(found, "forwarded-scheme-header-missing", "fail")

    # When an `if` on $scheme redirects plain requests, the site passes
    text = config.read_text().replace(
        "#REDIRECT#", "if ($scheme = http) { return 301 https://$host$request_uri; }"
    )
    config.write_text(text)
    assert_nginx_accepts(config, config.parent)
    found = run(audit, app, config, tls.ca)
    assert mine(found, "plain-http-site-serves-content", "pass")
    assert mine(found, "forwarded-scheme-header-missing", "pass")
    assert not mine(found, "forwarded-scheme-header-missing", "fail")


def test_a_scheme_header_through_map_or_set_is_followed_to_its_values(
    nginx_config: Callable[..., Path], app: App, tls: TlsFiles, audit: Callable[..., Findings]
) -> None:
    # Given X-Forwarded-Proto from a map over the client's header, and one route whose
    # X-Forwarded-Scheme comes from `set $forwarded_scheme https`
    config = nginx_config("wrong-map.conf")
    lines = config.read_text().splitlines()

    found = run(audit, app, config, tls.ca)

    # Then the routes that use the map pass the client's value, with the line that sets it
    copied = {f["subject"]: f for f in mine(found, "forwarded-scheme-header-from-client", "fail")}
    assert set(copied) == {
        "route:shop.example.com:443 /",
        "route:shop.example.com:443 @runtime",
        "route:shop.example.com:443 ^/(xas|p|file|link|ws|rest|odata|api|oauth|sso)/",
    }
    first = next(iter(copied.values()))
    assert "$http_x_forwarded_proto" in str(first["message"])
    assert "$proxy_x_forwarded_proto" in lines[first["evidence"]["line"] - 1]
    # and the route whose variable can only be https passes both checks.
    passing = {f["subject"] for f in mine(found, "forwarded-scheme-header-missing", "pass")}
    assert passing == {"route:shop.example.com:443 /file"}
    assert found.exit_code == 1
