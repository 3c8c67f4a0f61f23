"""The committed JSON schemas stay true to the code."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from mxguard import snapshot_io
from mxguard.cli import main

SCHEMA = Path(__file__).parents[2] / "schema"
REGENERATE = (
    '.venv/bin/python -c "from mxguard import snapshot_io; '
    "print(snapshot_io.schema_text(), end='')\" > schema/facts.schema.json"
)


def test_the_committed_facts_schema_matches_the_facts_classes() -> None:
    committed = (SCHEMA / "facts.schema.json").read_text()
    assert committed == snapshot_io.schema_text(), f"regenerate it: {REGENERATE}"


def test_the_demo_report_follows_the_report_schema(capsys: pytest.CaptureFixture[str]) -> None:
    main(["demo", "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    jsonschema.validate(report, json.loads((SCHEMA / "report.schema.json").read_text()))
    assert report["findings"]
