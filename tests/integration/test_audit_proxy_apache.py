"""Apache httpd configurations, accepted by real httpd, judged end to end by `mxguard audit`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from proxylab import App, Findings, TlsFiles

from mxguard.checks.registry import catalog


def run(audit: Callable[..., Findings], app: App, config: Path, ca: str | None) -> Findings:
    args = ["--config", app.m2ee, "--proxy-config", str(config)]
    if ca:
        args += ["--ca-bundle", ca]
    return audit(*args)


def mine(found: Findings, check: str, status: str) -> list[dict[str, object]]:
    return [f for f in found.of(check, status=status) if "shop.example.com" in str(f["subject"])]


def test_the_good_layout_has_no_failure(
    apache_config: Callable[..., Path], app: App, tls: TlsFiles, audit: Callable[..., Findings]
) -> None:
    # Given the common good Apache layout for a Mendix app, accepted by apache2 -t
    config = apache_config("good.conf")

    found = run(audit, app, config, tls.ca)

    bad = [
        f
        for f in found.items
        if f["section"] in ("5", "7", "9")
        and f["status"] in ("fail", "warn", "error")
        and "shop.example.com" in str(f["subject"])
    ]
    assert bad == []

    # And every proxy check passes somewhere for it
    passing = {
        f["check"]
        for f in found.items
        if f["status"] == "pass"
        and f["section"] in ("5", "7", "9")
        and (
            "shop.example.com" in str(f["subject"])
            or f["subject"] in ("app:shop", f"file:{config}")
        )
    }
    assert passing == {
        c.id
        for c in catalog()
        if c.section in ("5", "7", "9") and c.evaluate.__module__.endswith("_proxy")
    }


def test_each_way_of_getting_it_wrong(
    apache_config: Callable[..., Path], app: App, tls: TlsFiles, audit: Callable[..., Findings]
) -> None:
    # Given everything proxied, on plain HTTP too, with a <Location> that copies the client
    config = apache_config("wrong.conf")
    lines = config.read_text().splitlines()

    found = run(audit, app, config, tls.ca)

    for check in (
        "plain-http-site-serves-content",
        "tls-protocol-below-1-2-enabled",
        "root-proxied-to-runtime",
        "development-handler-reachable",
        "csp-weak",
        "hsts-missing-or-short",
        "nosniff-missing",
        "referrer-policy-missing",
    ):
        assert mine(found, check, "fail"), check
    assert mine(found, "security-headers-not-always", "warn")
    assert mine(found, "server-tokens-on", "warn")

    # The <Location /xas/> below ProxyPass / sends the client's value: found, with its line
    copied = mine(found, "forwarded-scheme-header-from-client", "fail")
    assert [f["subject"] for f in copied] == ["route:shop.example.com:443 /xas/"]
    assert "%{HTTP:X-Forwarded-Scheme}e" in lines[copied[0]["evidence"]["line"] - 1]
    old = mine(found, "tls-protocol-below-1-2-enabled", "fail")[0]
    assert "SSLProtocol" in lines[old["evidence"]["line"] - 1]


def test_an_unparseable_config_is_an_error_naming_file_and_line(
    apache_config: Callable[..., Path], app: App, audit: Callable[..., Findings]
) -> None:
    config = apache_config("broken.conf", check=False)
    found = run(audit, app, config, None)
    errors = [
        f
        for f in found.of("proxy-config-unreadable", status="error")
        if f["evidence"].get("file") == str(config)
    ]
    assert len(errors) == 1
    assert errors[0]["evidence"]["line"] == 6
    assert "closes <Location>" in str(errors[0]["message"])
