"""The database collector and checks against a real PostgreSQL and a real MariaDB.

Every test that takes `server` runs once per server. The databases hold Mendix-shaped user
tables with real bcrypt, SHA-256, SSHA-256 and MD5 hashes made by the tests.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import replace

import pytest
from dbservers import Server, free_port

from mxguard import engine, snapshot_io
from mxguard.checks.registry import catalog
from mxguard.collect.database import DatabaseOptions, collect_database
from mxguard.collect.dbsession import SessionError, open_session
from mxguard.collect.dbtarget import parse_url_option
from mxguard.facts import Mode, Snapshot
from mxguard.model import Finding, Report, Status
from mxguard.report import Format, render

DATABASE_CHECKS = {
    "admin-account-has-default-password",
    "database-account-has-server-wide-privileges",
    "database-server-listens-beyond-loopback",
    "database-traffic-not-encrypted",
}


def _snapshot() -> Snapshot:
    return Snapshot(tool_version="test", host="test-host", collected_at="now", mode=Mode.LIVE)


def _audit(*urls: str, timeout: float = 5.0) -> tuple[Snapshot, Report]:
    snapshot = _snapshot()
    facts, problems = collect_database(snapshot, DatabaseOptions(urls=urls, timeout=timeout))
    snapshot = replace(snapshot, database=facts, problems=tuple(problems))
    checks = [c for c in catalog() if c.id in DATABASE_CHECKS]
    return snapshot, engine.evaluate([snapshot], checks=checks)


def _about(report: Report, check: str, account: str | None = None) -> list[Finding]:
    found = [f for f in report.findings if f.check == check]
    if account is None:
        return found
    return [
        f
        for f in found
        if f.evidence.get("account") == account or account in (f.evidence.get("accounts") or [])  # type: ignore[operator]
    ]


def _all_output(snapshot: Snapshot, report: Report) -> str:
    parts = [snapshot_io.dumps([snapshot]).decode()]
    for fmt in Format:
        import io

        stream = io.StringIO()
        render(report, fmt, stream, is_terminal=False)
        parts.append(stream.getvalue())
    return "\n".join(parts)


@pytest.fixture
def all_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    caplog.set_level(logging.DEBUG)
    yield caplog


def test_given_studio_pro_traces_when_audited_then_password_1_fails_and_strong_passes(
    server: Server, all_logs: pytest.LogCaptureFixture
) -> None:
    snapshot, report = _audit(f"shop={server.url('mendix')}")
    check = "admin-account-has-default-password"

    # The admin account with `1` fails under §10 and names the account.
    (mxadmin,) = _about(report, check, "MxAdmin")
    assert mxadmin.status is Status.FAIL and mxadmin.section == "10"
    assert mxadmin.severity.value == "critical"
    assert "MxAdmin" in mxadmin.message and mxadmin.subject.startswith("db:mendix@127.0.0.1:")
    (ssha,) = _about(report, check, "ssha")
    assert ssha.status is Status.FAIL and ssha.evidence["hash_format"] == "ssha256"
    (sha,) = _about(report, check, "sha")
    assert sha.status is Status.FAIL and sha.severity.value == "high"
    assert sha.evidence["hash_format"] == "sha256" and "well-known" in sha.message

    # The strong ones pass, whatever the format or a prefix before the bcrypt hash.
    (cleared,) = [f for f in _about(report, check) if f.status is Status.PASS]
    assert set(cleared.evidence["accounts"]) == {"alice", "prefixed", "md5user"}  # type: ignore[arg-type]

    # A blocked admin with `1` is reported as blocked, not as a failure.
    (retired,) = _about(report, check, "retired")
    assert retired.status is Status.WARN and "blocked" in retired.message

    # The unknown format is a skip that shows the format's shape, never the hash.
    (legacy,) = _about(report, check, "legacy")
    assert legacy.status is Status.SKIP
    assert "not known" in legacy.message and "$argon2id$" in legacy.message

    # A role named otherwise counts because the admin account holds it.
    (kees,) = _about(report, check, "kees")
    assert kees.status is Status.FAIL and "Beheerder" in kees.message

    # Only administrators were examined: bob holds the role User.
    assert not _about(report, check, "bob")
    audit = snapshot.database.databases[0].admins  # type: ignore[union-attr]
    assert audit is not None
    assert audit.checked == 8 and len(audit.accounts) == 9
    assert mxadmin.evidence["accounts_checked"] == 8

    # No password and no hash anywhere: facts, every report format, the logs.
    output = _all_output(snapshot, report) + all_logs.text
    leaked = [secret for secret in server.secrets if secret in output]
    assert not leaked


def test_given_an_audit_when_it_runs_then_nothing_is_written(server: Server) -> None:
    rows_before = server.rows("mendix")
    counters_before = server.counters("mendix")

    _audit(
        f"shop={server.url('mendix')}",
        f"wide={server.url('mendix', user=server.wide_user, password=server.wide_password)}",
    )

    rows_after = server.rows("mendix")
    assert rows_after == rows_before
    if server.dialect == "postgresql":
        # Statistics reach pg_stat_database when a session ends; wait for the audit's.
        deadline = time.monotonic() + 10
        counters_after = server.counters("mendix")
        while counters_after["xact_rollback"] == counters_before["xact_rollback"]:
            assert time.monotonic() < deadline, "the audit's sessions never showed up"
            time.sleep(0.2)
            counters_after = server.counters("mendix")
        for name in (
            "tup_inserted",
            "tup_updated",
            "tup_deleted",
            "table_inserts",
            "table_updates",
            "table_deletes",
        ):
            assert counters_after[name] == counters_before[name], name
        # PostgreSQL counts one commit for every new session (it reads its catalogs in a
        # transaction while starting); beyond those, nobody committed anything: every
        # transaction the audit ran ended in a rollback.
        commits = counters_after["xact_commit"] - counters_before["xact_commit"]
        sessions = counters_after["sessions"] - counters_before["sessions"]
        assert commits == sessions
    else:
        counters_after = server.counters("mendix")
        assert counters_after == counters_before


def test_given_a_session_when_a_write_is_attempted_then_the_server_refuses_it(
    server: Server,
) -> None:
    target = parse_url_option(server.url("mendix")).target
    session = open_session(target, timeout=5)
    q = session.quote
    try:
        with pytest.raises(SessionError, match="(?i)read.only"):
            session.query(f"UPDATE {q('system$user')} SET {q('name')} = 'x' WHERE 1 = 0")  # noqa: S608
    finally:
        session.close()


def test_given_a_superuser_account_then_server_wide_powers_warn(server: Server) -> None:
    wide = server.url("mendix", user=server.wide_user, password=server.wide_password)
    _, report = _audit(f"app={server.url('mendix')}", f"wide={wide}")
    findings = {
        f.evidence.get("database_user"): f
        for f in _about(report, "database-account-has-server-wide-privileges")
    }
    assert findings[server.app_user].status is Status.PASS
    warned = findings[server.wide_user]
    assert warned.status is Status.WARN and warned.section == "4"
    assert ("superuser" if server.dialect == "postgresql" else "grant option") in warned.message


def test_given_a_loopback_server_then_its_listen_setting_passes(server: Server) -> None:
    _, report = _audit(f"app={server.url('mendix')}")
    (finding,) = _about(report, "database-server-listens-beyond-loopback")
    assert finding.status is Status.PASS
    assert finding.evidence["setting"] in ("listen_addresses", "bind_address")
    assert finding.evidence["value"] == "127.0.0.1"


def test_given_wrong_credentials_then_an_error_without_the_password(server: Server) -> None:
    wrong = "Wr0ngButLongPassw0rd"
    snapshot, report = _audit(f"app={server.url('mendix', password=wrong)}")
    (finding,) = _about(report, "admin-account-has-default-password")
    assert finding.status is Status.ERROR and "cannot connect" in finding.message
    assert wrong not in _all_output(snapshot, report)
    (powers,) = _about(report, "database-account-has-server-wide-privileges")
    assert powers.status is Status.SKIP


def test_given_a_database_that_is_not_mendix_then_a_skip_says_so(server: Server) -> None:
    _, report = _audit(f"app={server.url('notmendix')}")
    (finding,) = _about(report, "admin-account-has-default-password")
    assert finding.status is Status.SKIP and "not a Mendix schema" in finding.message


def test_given_no_role_tables_then_the_admin_alone_is_checked_and_that_is_said(
    server: Server,
) -> None:
    _, report = _audit(f"app={server.url('noroles')}")
    findings = _about(report, "admin-account-has-default-password")
    assert {f.status for f in findings} == {Status.SKIP, Status.PASS}
    (note,) = [f for f in findings if f.status is Status.SKIP]
    assert "only MxAdmin was examined" in note.message
    (cleared,) = [f for f in findings if f.status is Status.PASS]
    assert cleared.evidence["accounts"] == ["MxAdmin"]


def test_given_a_huge_users_table_then_only_a_bounded_set_is_checked_in_time(
    server: Server,
) -> None:
    started = time.monotonic()
    snapshot, report = _audit(f"app={server.url('huge')}")
    elapsed = time.monotonic() - started

    audit = snapshot.database.databases[0].admins  # type: ignore[union-attr]
    assert audit is not None and audit.is_truncated
    assert audit.checked == len(audit.accounts) == 51  # MxAdmin and 50 role members
    findings = _about(report, "admin-account-has-default-password")
    assert any(f.status is Status.SKIP and "not tested" in f.message for f in findings)
    assert elapsed < 30


@pytest.fixture
def silent_listener() -> Iterator[int]:
    """Yield the port of a TCP listener that accepts connections and never answers."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except OSError:
                continue
            held.append(connection)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stop.set()
        thread.join(timeout=5)
        for connection in held:
            connection.close()
        listener.close()


@pytest.mark.parametrize("scheme", ["postgresql", "mysql", "sqlserver"])
def test_given_a_server_that_never_answers_then_an_error_within_the_timeout(
    scheme: str, silent_listener: int
) -> None:
    started = time.monotonic()
    _, report = _audit(f"app={scheme}://u:secretpw99@127.0.0.1:{silent_listener}/db", timeout=1)
    elapsed = time.monotonic() - started

    (finding,) = _about(report, "admin-account-has-default-password")
    assert finding.status is Status.ERROR
    # FreeTDS overruns its login timeout; the collector's own deadline cuts it off.
    assert elapsed < 10
    assert "secretpw99" not in finding.message


@pytest.mark.parametrize("scheme", ["postgresql", "mysql", "sqlserver"])
def test_given_an_unreachable_server_then_an_error_and_the_audit_goes_on(scheme: str) -> None:
    port = free_port()
    _, report = _audit(f"app={scheme}://u:secretpw99@127.0.0.1:{port}/db", timeout=2)
    (finding,) = _about(report, "admin-account-has-default-password")
    assert finding.status is Status.ERROR and "cannot connect" in finding.message
    (traffic,) = _about(report, "database-traffic-not-encrypted")
    assert traffic.status is Status.PASS
