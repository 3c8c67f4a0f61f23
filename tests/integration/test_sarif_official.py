"""mxguard's SARIF, checked by the validator of the SARIF SDK (Microsoft's Sarif.Multitool).

The validator applies the SARIF 2.1.0 schema and the SDK's own rules. Only its errors fail
the test: its warnings are advice, and the one it gives mxguard (SARIF2017, a location
without a region) is deliberate, since a folder's mode has no line to point at. The schema
it ships is also applied with `jsonschema`, because the validator says nothing at all about
a document its object model cannot load (an unknown `level`, say).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from mxguard.cli import main
from mxguard.lab import example

TOOLS = Path(__file__).resolve().parents[2] / ".tools" / "sarif-multitool"
VALIDATOR = TOOLS / "Sarif.Multitool"
SCHEMA = TOOLS / "sarif-2.1.0.json"

pytestmark = [
    pytest.mark.skipif(
        not (VALIDATOR.exists() and SCHEMA.exists()),
        reason="the SARIF validator was not fetched (./dev setup fetches it from npm)",
    ),
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root: the example tree sets owners"),
]


def _validate(report: Path, tmp_path: Path) -> list[dict[str, Any]]:
    """Run the validator on `report` and return the results it found."""
    output = tmp_path / "validation.sarif"
    done = subprocess.run(
        [
            str(VALIDATOR),
            "validate",
            str(report),
            "--json-schema",
            str(SCHEMA),
            "--output",
            str(output),
        ],  # fmt: skip
        env={**os.environ, "DOTNET_SYSTEM_GLOBALIZATION_INVARIANT": "1", "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert output.exists(), done.stdout + done.stderr
    results: list[dict[str, Any]] = json.loads(output.read_text())["runs"][0].get("results", [])
    return results


def test_every_shape_of_report_is_valid_sarif(tmp_path: Path) -> None:
    # Given the example host with a waiver (a suppression), an unreadable config (a tool
    # notification), and findings with and without a file and line
    tree = tmp_path / "tree"
    tree.mkdir()
    example.build(str(tree))
    (tree / "etc/broken.yaml").write_bytes(b"m2ee: [unclosed\n")
    waivers = tmp_path / "waivers.yaml"
    waivers.write_text(
        "waivers:\n  - check: dtap-mode-not-production\n"
        "    justification: an acceptance copy kept on this host on purpose\n"
        "    expires: 2099-12-31\n"
    )
    report = tmp_path / "report.sarif"
    main(
        ["audit", "--root", str(tree), "--config", str(tree / "srv/ledger/.m2ee/m2ee.yaml"),
         "--config", str(tree / "etc/broken.yaml"), "--waivers", str(waivers),
         "--format", "sarif", "--output", str(report)]
    )  # fmt: skip
    document = json.loads(report.read_text())
    run = document["runs"][0]
    assert any(r.get("suppressions") for r in run["results"])
    assert run["invocations"][0]["toolExecutionNotifications"]

    # When the schema is applied, and the SARIF SDK's validator reads it
    schema = json.loads(SCHEMA.read_text())
    problems = [
        e.message for e in jsonschema.validators.validator_for(schema)(schema).iter_errors(document)
    ]
    results = _validate(report, tmp_path)

    # Then neither finds an error; the validator gives advice only
    assert problems == []
    errors = [r for r in results if r.get("level", "warning") == "error"]
    assert errors == [], json.dumps(errors, indent=1)[:4000]
    assert {r["ruleId"] for r in results} <= {"SARIF2017"}, {r["ruleId"] for r in results}
