"""IIS web.config files (parsed only; no IIS here), judged end to end by `mxguard audit`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from proxylab import FIXTURES, App, Findings, render

from mxguard.proxy.iis import parse_iis


def web_config(app: App, name: str) -> Path:
    return render(
        FIXTURES / "iis" / name / "web.config", Path(app.base) / "web" / "web.config", port="8000"
    )


def mine(found: Findings, check: str, status: str) -> list[dict[str, object]]:
    return [f for f in found.of(check, status=status) if "web.config" in str(f["subject"])]


def test_the_good_layout_has_no_failure(app: App, audit: Callable[..., Findings]) -> None:
    # Given IIS serving the project's web folder and rewriting only the handlers
    config = web_config(app, "good")

    found = audit("--config", app.m2ee, "--proxy-config", str(config))

    bad = [
        f
        for f in found.items
        if f["section"] in ("5", "7", "9")
        and f["status"] in ("fail", "warn", "error")
        and "web.config" in str(f["subject"])
    ]
    assert bad == []
    passed = mine(found, "forwarded-scheme-header-missing", "pass")
    assert passed and "X-Forwarded-Proto" in str(passed[0]["message"])
    assert mine(found, "root-not-served-from-web-folder", "pass")
    assert mine(found, "development-handler-reachable", "pass")
    assert mine(found, "hsts-missing-or-short", "pass")
    # The bindings are not in web.config: said, not guessed
    assert found.of("app-not-served-over-tls", status="skip")
    for check in ("tls-protocol-below-1-2-enabled", "tls-certificate-untrusted"):
        assert mine(found, check, "skip"), check


def test_each_way_of_getting_it_wrong(app: App, audit: Callable[..., Findings]) -> None:
    config = web_config(app, "wrong")
    lines = config.read_text().splitlines()

    found = audit("--config", app.m2ee, "--proxy-config", str(config))

    for check in (
        "forwarded-scheme-header-from-client",
        "root-proxied-to-runtime",
        "development-handler-reachable",
        "csp-weak",
        "hsts-missing-or-short",
        "framing-not-denied",
    ):
        assert mine(found, check, "fail"), check
    assert mine(found, "upstream-not-local", "warn")
    copied = mine(found, "forwarded-scheme-header-from-client", "fail")[0]
    assert "<rule" in lines[copied["evidence"]["line"] - 1]


def test_entity_expansion_is_refused(tmp_path: Path) -> None:
    # Given a "billion laughs" document, the parser refuses it instead of expanding it
    config = parse_iis(str(FIXTURES / "iis" / "bomb.config"))
    assert config.sites == ()
    assert config.problems and "refused" in config.problems[0].message


def test_malformed_xml_is_an_error_with_a_line(tmp_path: Path) -> None:
    path = tmp_path / "web.config"
    path.write_text("<configuration>\n<system.webServer>\n</configuration>\n")
    config = parse_iis(str(path))
    assert config.problems[0].line == 3
    assert "not well-formed" in config.problems[0].message


def test_an_unknown_encoding_is_an_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "web.config"
    path.write_text('<?xml version="1.0" encoding="no-such-code"?>\n<configuration/>\n')
    [problem] = parse_iis(str(path)).problems
    assert str(path) in problem.message and "no-such-code" in problem.message


def test_a_server_variable_set_without_replacing_keeps_the_clients_value(
    app: App, audit: Callable[..., Findings]
) -> None:
    # Given the good layout, but the scheme variable set with replace="false": a request that
    # already carries X-Forwarded-Proto keeps it
    config = web_config(app, "good")
    config.write_text(
        config.read_text().replace(
            '<set name="HTTP_X_FORWARDED_PROTO" value="https" />',
            '<set name="HTTP_X_FORWARDED_PROTO" value="https" replace="false" />',
        )
    )

    found = audit("--config", app.m2ee, "--proxy-config", str(config))

    [failed] = mine(found, "forwarded-scheme-header-from-client", "fail")
    assert 'replace="false"' in str(failed["message"])
    assert not mine(found, "forwarded-scheme-header-missing", "pass")
