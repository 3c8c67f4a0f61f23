"""The command line answers `--help`, lists the catalog and runs the demo."""

from __future__ import annotations

import json

import pytest

from mxguard.cli import main


def test_checks_json_lists_every_check_with_its_metadata(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["checks", "--format", "json"]) == 0
    catalog = json.loads(capsys.readouterr().out)["checks"]
    ids = [entry["id"] for entry in catalog]
    assert len(ids) == len(set(ids))
    assert "admin-port-listens-beyond-loopback" in ids
    for entry in catalog:
        assert entry["rationale"] and entry["remediation"] and entry["references"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--url", "ftp://example/"], "not an http:// or https:// URL"),
        (["--url", "https://"], "not an http:// or https:// URL"),
        (["--ca-bundle", "/nonexistent/ca.pem"], "no such file"),
        (["--from-outside", " "], "needs a host"),
    ],
)
def test_bad_network_options_are_usage_errors(
    arguments: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["audit", *arguments]) == 2
    assert message in capsys.readouterr().err


def test_audit_help_names_the_network_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["audit", "--help"])
    text = capsys.readouterr().out
    for option in ("--url", "--ca-bundle", "--from-outside", "--try-default-admin-passwords"):
        assert option in text
