"""The database checks over facts, and how the collector turns m2ee settings into targets.

The verdicts on real hashes come from the integration tests against real servers; these
tests cover the cases no local test server can show (a server listening on every address,
a database on another host) and the settings the collector refuses before connecting.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

from mxguard import engine, snapshot_io
from mxguard.checks.registry import catalog
from mxguard.collect.database import DatabaseOptions, collect_database
from mxguard.database_facts import (
    AccountPowers,
    AdminAccount,
    AdminAudit,
    DatabaseAccess,
    DatabaseFacts,
    ServerListen,
)
from mxguard.facts import ConfigFile, Installation, Mode, Settings, Snapshot, Socket, Visibility
from mxguard.model import Finding, Status


def _snapshot(*databases: DatabaseAccess, **fields: object) -> Snapshot:
    base = Snapshot(tool_version="t", host="h", collected_at="now", mode=Mode.LIVE)
    return replace(base, database=DatabaseFacts(databases=databases), **fields)  # type: ignore[arg-type]


def _db(**fields: object) -> DatabaseAccess:
    base = DatabaseAccess(
        installation="shop",
        subject="db:shop@127.0.0.1:5432",
        origin="config",
        dialect="postgresql",
        host="127.0.0.1",
        port=5432,
        name="shop",
        user="shop",
        is_local=True,
        status="examined",
    )
    return replace(base, **fields)  # type: ignore[arg-type]


def _run(check_id: str, snapshot: Snapshot) -> list[Finding]:
    (check,) = [c for c in catalog() if c.id == check_id]
    return list(engine.evaluate([snapshot], checks=[check]).findings)


def _listening(raw: str) -> ServerListen:
    addresses = tuple(a.strip() for a in raw.split(",") if a.strip())
    return ServerListen(is_visible=True, setting="listen_addresses", raw=raw, addresses=addresses)


# --- database-server-listens-beyond-loopback ------------------------------------------------


def test_a_loopback_app_with_a_server_on_every_address_warns() -> None:
    (finding,) = _run(
        "database-server-listens-beyond-loopback", _snapshot(_db(listen=_listening("*")))
    )
    assert finding.status is Status.WARN and "listen_addresses is *" in finding.message


def test_a_loopback_app_with_a_loopback_server_passes() -> None:
    (finding,) = _run(
        "database-server-listens-beyond-loopback",
        _snapshot(_db(listen=_listening("localhost, ::1"))),
    )
    assert finding.status is Status.PASS


def test_a_remote_database_makes_the_listen_check_not_applicable() -> None:
    db = _db(host="10.1.2.3", is_local=False, listen=_listening("*"))
    (finding,) = _run("database-server-listens-beyond-loopback", _snapshot(db))
    assert finding.status is Status.SKIP and "over the network" in finding.message


def test_when_the_server_will_not_say_the_host_sockets_decide() -> None:
    hidden = ServerListen(is_visible=False, reason="permission denied")
    visible = Visibility(is_visible=True)
    exposed = _snapshot(
        _db(listen=hidden),
        sockets=(Socket(address="0.0.0.0", port=5432), Socket(address="127.0.0.1", port=8000)),
        sockets_visibility=visible,
    )
    (warned,) = _run("database-server-listens-beyond-loopback", exposed)
    assert warned.status is Status.WARN and "0.0.0.0" in warned.message

    local = replace(exposed, sockets=(Socket(address="127.0.0.1", port=5432),))
    (passed,) = _run("database-server-listens-beyond-loopback", local)
    assert passed.status is Status.PASS

    unknown = replace(exposed, sockets_visibility=Visibility(is_visible=False, reason="x"))
    (skipped,) = _run("database-server-listens-beyond-loopback", unknown)
    assert skipped.status is Status.SKIP and "permission denied" in skipped.message


# --- database-traffic-not-encrypted ---------------------------------------------------------


def test_a_remote_database_without_tls_warns_and_with_tls_passes() -> None:
    remote = _db(host="db.internal", is_local=False, use_ssl=None)
    (warned,) = _run("database-traffic-not-encrypted", _snapshot(remote))
    assert warned.status is Status.WARN and "DatabaseUseSsl" in warned.message

    (passed,) = _run("database-traffic-not-encrypted", _snapshot(replace(remote, use_ssl=True)))
    assert passed.status is Status.PASS

    (local,) = _run("database-traffic-not-encrypted", _snapshot(_db()))
    assert local.status is Status.PASS and "local" in local.message


# --- database-account-has-server-wide-privileges --------------------------------------------


def test_server_wide_powers_warn_and_none_pass_and_unknown_skips() -> None:
    check = "database-account-has-server-wide-privileges"
    wide = _db(powers=AccountPowers(is_visible=True, server_wide=("superuser",)))
    assert _run(check, _snapshot(wide))[0].status is Status.WARN
    narrow = _db(powers=AccountPowers(is_visible=True, notes=("createdb",)))
    assert _run(check, _snapshot(narrow))[0].status is Status.PASS
    hidden = _db(powers=None)
    assert _run(check, _snapshot(hidden))[0].status is Status.SKIP


# --- admin-account-has-default-password -----------------------------------------------------


def _audit(*accounts: AdminAccount, **fields: object) -> AdminAudit:
    base = AdminAudit(
        admin_user="MxAdmin",
        admin_user_basis="model/metadata.json",
        is_named_admin_present=True,
        accounts=accounts,
        checked=len(accounts),
    )
    return replace(base, **fields)  # type: ignore[arg-type]


def test_admin_verdicts_become_findings_per_account() -> None:
    accounts = (
        AdminAccount(name="MxAdmin", is_named_admin=True, hash_format="bcrypt", verdict="default",
                     default_kind="development"),
        AdminAccount(name="ops", admin_roles=("Administrator",), hash_format="bcrypt",
                     verdict="not-default"),
        AdminAccount(name="old", admin_roles=("Administrator",), is_active=False,
                     hash_format="md5", verdict="default", default_kind="well-known"),
        AdminAccount(name="odd", admin_roles=("Administrator",), hash_format="unknown",
                     hash_shape="60 characters of base64 characters, with no format marker",
                     reason="the format is not known"),
    )  # fmt: skip
    findings = _run("admin-account-has-default-password", _snapshot(_db(admins=_audit(*accounts))))
    by_account = {f.evidence.get("account") or tuple(f.evidence["accounts"]): f for f in findings}  # type: ignore[arg-type]

    assert by_account["MxAdmin"].status is Status.FAIL
    assert by_account["MxAdmin"].severity.value == "critical"
    assert by_account[("ops",)].status is Status.PASS
    assert by_account["old"].status is Status.WARN and "inactive" in by_account["old"].message
    assert by_account["odd"].status is Status.SKIP and "60 characters" in by_account["odd"].message


def test_a_missing_admin_account_passes_and_broken_databases_say_why() -> None:
    absent = _db(admins=_audit(is_named_admin_present=False))
    (finding,) = _run("admin-account-has-default-password", _snapshot(absent))
    assert finding.status is Status.PASS and "no account named MxAdmin" in finding.message

    down = _db(status="error", reason="cannot connect: refused")
    (error,) = _run("admin-account-has-default-password", _snapshot(down))
    assert error.status is Status.ERROR and "refused" in error.message

    empty = _db(admins_problem="not a Mendix schema", admins_problem_status="skip")
    (skip,) = _run("admin-account-has-default-password", _snapshot(empty))
    assert skip.status is Status.SKIP


def test_a_snapshot_without_database_facts_skips_every_database_check() -> None:
    snapshot = Snapshot(tool_version="t", host="h", collected_at="now", mode=Mode.LIVE)
    for check in (
        "admin-account-has-default-password",
        "database-account-has-server-wide-privileges",
        "database-server-listens-beyond-loopback",
        "database-traffic-not-encrypted",
    ):
        (finding,) = _run(check, snapshot)
        assert finding.status is Status.SKIP and "did not run" in finding.message


# --- the collector's targets from m2ee settings ---------------------------------------------


def _installation(tmp_path: Path, name: str, mxruntime: dict[str, object]) -> Installation:
    config = tmp_path / f"{name}.yaml"
    config.write_text(json.dumps({"m2ee": {"app_name": name}, "mxruntime": mxruntime}))
    os.chmod(config, 0o600)
    settings = Settings(
        database_type=mxruntime.get("DatabaseType"),  # type: ignore[arg-type]
        database_host=mxruntime.get("DatabaseHost"),  # type: ignore[arg-type]
        database_name=mxruntime.get("DatabaseName"),  # type: ignore[arg-type]
        database_user=mxruntime.get("DatabaseUserName"),  # type: ignore[arg-type]
    )
    return Installation(
        name=name,
        app_base=str(tmp_path / name),
        config_files=(ConfigFile(path=str(config), holds_secrets=True),),
        settings=settings,
    )


def test_settings_that_cannot_be_examined_are_skipped_with_the_reason(tmp_path: Path) -> None:
    refused = "Uncrackable-Db-Password-42"
    closed_port = _closed_port()
    installations = (
        _installation(tmp_path, "dev", {"DatabaseType": "HSQLDB"}),
        _installation(tmp_path, "none", {}),
        _installation(
            tmp_path,
            "nopass",
            {"DatabaseType": "PostgreSQL", "DatabaseHost": "127.0.0.1", "DatabaseName": "x"},
        ),
        _installation(
            tmp_path,
            "down",
            {
                "DatabaseType": "MySQL",
                "DatabaseHost": f"127.0.0.1:{closed_port}",
                "DatabaseName": "x",
                "DatabaseUserName": "app",
                "DatabasePassword": refused,
            },
        ),
    )
    snapshot = replace(
        Snapshot(tool_version="t", host="h", collected_at="now", mode=Mode.LIVE),
        installations=installations,
    )

    facts, problems = collect_database(snapshot, DatabaseOptions(timeout=2))

    reasons = {db.installation: (db.status, db.reason) for db in facts.databases}
    assert reasons["dev"][0] == "skip" and "built-in development" in reasons["dev"][1]
    assert "no DatabaseType" in reasons["none"][1]
    assert "no DatabasePassword" in reasons["nopass"][1]
    # The password was read from the file (the server was asked, and refused)...
    assert reasons["down"][0] == "error" and "cannot connect" in reasons["down"][1]
    # ...and went nowhere else.
    assert refused not in snapshot_io.dumps([replace(snapshot, database=facts)]).decode()
    assert not problems


def test_an_offline_tree_is_not_connected_to(tmp_path: Path) -> None:
    installation = _installation(
        tmp_path,
        "shop",
        {"DatabaseType": "PostgreSQL", "DatabaseHost": "127.0.0.1:1", "DatabaseName": "x",
         "DatabasePassword": "whatever-it-is"},
    )  # fmt: skip
    snapshot = replace(
        Snapshot(tool_version="t", host="h", collected_at="now", mode=Mode.OFFLINE),
        installations=(installation,),
        root=str(tmp_path),
    )
    facts, _ = collect_database(snapshot, DatabaseOptions())
    (db,) = facts.databases
    assert db.status == "skip" and "offline tree" in db.reason and "--database-url" in db.reason


def test_an_unexamined_database_is_still_judged_local_or_remote(tmp_path: Path) -> None:
    # Given an offline tree (nothing is connected to) with one local and one remote database
    def app(name: str, host: str) -> Installation:
        settings = {"DatabaseType": "PostgreSQL", "DatabaseHost": host, "DatabaseName": name}
        return _installation(tmp_path, name, settings)

    snapshot = replace(
        Snapshot(tool_version="t", host="h", collected_at="now", mode=Mode.OFFLINE),
        installations=(app("near", "127.0.0.1:5432"), app("far", "db.example.net")),
        root=str(tmp_path),
    )
    facts, _ = collect_database(snapshot, DatabaseOptions())

    # Then the traffic check passes the loopback one and warns about the other, from config
    findings = _run("database-traffic-not-encrypted", replace(snapshot, database=facts))
    verdicts = {f.subject: f.status for f in findings}
    assert verdicts == {
        "db:near@127.0.0.1:5432": Status.PASS,
        "db:far@db.example.net:5432": Status.WARN,
    }


def test_a_bare_url_with_several_configured_installations_is_ambiguous(tmp_path: Path) -> None:
    snapshot = replace(
        Snapshot(tool_version="t", host="h", collected_at="now", mode=Mode.OFFLINE),
        installations=(
            _installation(tmp_path, "a", {}),
            _installation(tmp_path, "b", {}),
        ),
    )
    _, problems = collect_database(
        snapshot, DatabaseOptions(urls=("postgresql://u:p@127.0.0.1:1/x",))
    )
    (problem,) = problems
    assert "ambiguous" in problem.message and "APP=URL" in problem.message


def _closed_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
