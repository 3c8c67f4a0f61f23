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
