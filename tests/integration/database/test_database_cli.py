"""End to end: `mxguard audit --config M2EE_YAML` against an app whose database is real."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from dbservers import Server

from mxguard.cli import main


def _installation(folder: Path, server: Server, *, password: str | None = None) -> Path:
    """Write an m2ee config and project whose database settings point at `server`."""
    app_base = folder / "shop"
    (app_base / "model").mkdir(parents=True)
    (app_base / "model" / "metadata.json").write_text(
        json.dumps({"RuntimeVersion": "10.24.3.78414", "AdminUser": "MxAdmin"})
    )
    config = folder / "m2ee.yaml"
    config.write_text(
        "m2ee:\n"
        "  app_name: shop\n"
        f"  app_base: {app_base}\n"
        "  admin_port: 9000\n"
        "  admin_pass: Hk3vQ9mZ2pL7xR4tW8yB6nC1dF5gJ0sA\n"
        "  runtime_port: 8000\n"
        "mxruntime:\n"
        f"  DatabaseType: {'PostgreSQL' if server.dialect == 'postgresql' else 'MySQL'}\n"
        f"  DatabaseHost: 127.0.0.1:{server.port}\n"
        "  DatabaseName: mendix\n"
        f"  DatabaseUserName: {server.app_user}\n"
        f"  DatabasePassword: {json.dumps(password or server.app_password)}\n"
    )
    os.chmod(config, 0o600)
    return config


def _db_findings(report: dict[str, object]) -> list[dict[str, object]]:
    findings = report["findings"]
    assert isinstance(findings, list)
    return [f for f in findings if str(f["subject"]).startswith("db:")]


def test_given_an_m2ee_config_when_audited_then_the_database_verdicts_are_reported(
    server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _installation(tmp_path, server)

    code = main(["-vv", "audit", "--config", str(config), "--format", "json"])
    captured = capsys.readouterr()

    assert code == 1  # a critical failure: MxAdmin's password is `1`
    report = json.loads(captured.out)
    findings = _db_findings(report)
    failing = [
        f
        for f in findings
        if f["check"] == "admin-account-has-default-password" and f["status"] == "fail"
    ]
    assert {f["evidence"]["account"] for f in failing} == {"MxAdmin", "sha", "ssha", "kees"}  # type: ignore[index]
    mxadmin = next(f for f in failing if f["evidence"]["account"] == "MxAdmin")  # type: ignore[index]
    assert mxadmin["subject"] == f"db:mendix@127.0.0.1:{server.port}"
    assert mxadmin["evidence"]["installation"] == "shop"  # type: ignore[index]
    assert mxadmin["evidence"]["file"] == str(config)  # type: ignore[index]
    assert "Studio Pro" in str(mxadmin["message"]) and mxadmin["severity"] == "critical"

    # Neither the database password nor any hash: not in the report, not in the -vv log.
    everything = captured.out + captured.err
    assert not [secret for secret in server.secrets if secret in everything]


def test_given_collect_then_the_facts_file_holds_verdicts_and_no_secret(
    server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _installation(tmp_path, server)
    facts = tmp_path / "facts.json"

    assert main(["-vv", "collect", "--config", str(config), "--output", str(facts)]) == 0
    text = facts.read_text()
    captured = capsys.readouterr()

    assert not [s for s in server.secrets if s in text + captured.out + captured.err]
    database = json.loads(text)["snapshots"][0]["database"]["databases"]
    # Other runtimes on this machine may form installations too; ours is the config's.
    (shop,) = [d for d in database if d["file"] == str(config)]
    verdicts = {a["name"]: a["verdict"] for a in shop["admins"]["accounts"]}
    assert verdicts["MxAdmin"] == "default" and verdicts["alice"] == "not-default"

    # The snapshot evaluates elsewhere to the same verdicts, without the database.
    assert main(["evaluate", str(facts), "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert any(
        f["status"] == "fail" and f["evidence"].get("account") == "MxAdmin"
        for f in _db_findings(report)
    )


def test_given_a_wrong_password_in_the_config_then_an_error_and_the_audit_goes_on(
    server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wrong = "Wr0ngButLongPassw0rdInTheConfig"
    config = _installation(tmp_path, server, password=wrong)

    code = main(["audit", "--config", str(config), "--format", "json"])
    captured = capsys.readouterr()

    report = json.loads(captured.out)
    errors = [f for f in _db_findings(report) if f["status"] == "error"]
    assert errors and "cannot connect" in str(errors[0]["message"])
    # The host checks still ran for the installation.
    assert any(f["subject"] == "app:shop" for f in report["findings"])
    assert wrong not in captured.out + captured.err
    assert code in (0, 1)  # host findings decide; the database error does not abort


def test_given_a_database_url_then_it_replaces_the_config_connection(
    postgres: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _installation(tmp_path, postgres, password="not-the-password-at-all")
    url = postgres.url("noroles")

    code = main(["audit", "--config", str(config), "--database-url", url, "--format", "json"])
    captured = capsys.readouterr()

    # Other runtimes on this machine may be called shop too; only ours has a config.
    ours = [
        f
        for f in _db_findings(json.loads(captured.out))
        if f["evidence"].get("installation") == "shop"  # type: ignore[attr-defined]
        and f["evidence"].get("origin") != "config"  # type: ignore[attr-defined]
    ]
    assert {f["subject"] for f in ours} == {f"db:noroles@127.0.0.1:{postgres.port}"}
    assert {f["evidence"]["origin"] for f in ours} == {"url"}  # type: ignore[index]
    assert postgres.app_password not in captured.out + captured.err
    assert code in (0, 1)


def test_given_a_malformed_database_url_then_a_usage_error_hides_the_password(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["audit", "--database-url", "oracle://me:TopSecret123@db/x"])
    captured = capsys.readouterr()
    assert code == 2
    assert "TopSecret123" not in captured.err and "***" in captured.err
