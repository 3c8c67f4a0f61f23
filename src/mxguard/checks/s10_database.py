"""§10 and the database's side of §4 and §6 — what the application database shows.

The database collector tested the admin accounts' hashes on the host; these checks judge
its verdicts, the database account's powers, where the server listens and whether the
app's traffic to it is encrypted.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from mxguard.checks.common import is_loopback
from mxguard.checks.registry import Outcome, check, errored, failed, passed, skipped, warned
from mxguard.database_facts import AdminAccount, AdminAudit, DatabaseAccess
from mxguard.facts import Snapshot
from mxguard.model import Severity


def _databases(snapshot: Snapshot) -> Iterator[DatabaseAccess]:
    if snapshot.database is None:
        return
    yield from snapshot.database.databases


def _not_collected(snapshot: Snapshot) -> Iterator[Outcome]:
    if snapshot.database is None:
        yield skipped(
            f"host:{snapshot.host}", "the database collector did not run for this snapshot"
        )


def _where(db: DatabaseAccess) -> dict[str, object]:
    return {
        "installation": db.installation or None,
        "file": db.file,
        "line": db.line,
        "origin": db.origin,
        "database_user": db.user or None,
    }


def _unexamined(db: DatabaseAccess) -> Outcome | None:
    if db.status == "examined":
        return None
    reason = db.reason or "the database was not examined"
    make = errored if db.status == "error" else skipped
    return make(db.subject, reason, **_where(db))


@check(
    id="admin-account-has-default-password",
    section="10",
    title="An admin account's password is Studio Pro's `1` or another well-known default",
    severity=Severity.CRITICAL,
    rationale=(
        "Studio Pro always runs in development mode: connected to a database it resets the "
        "admin account's password to 1, or creates the account with it. Anyone who tries "
        "the default then administers the application."
    ),
    remediation=(
        "Set a long random password for the account through the application (or m2ee's "
        "update_admin_user), or block it; never connect Studio Pro to this database again."
    ),
)
def admin_account_has_default_password(snapshot: Snapshot) -> Iterator[Outcome]:
    """Judge the hash verdict of every admin account in every examined database."""
    yield from _not_collected(snapshot)
    for db in _databases(snapshot):
        unexamined = _unexamined(db)
        if unexamined is not None:
            yield unexamined
            continue
        if db.admins_problem:
            make = errored if db.admins_problem_status == "error" else skipped
            yield make(db.subject, db.admins_problem, **_where(db))
            continue
        if db.admins is None:
            yield errored(db.subject, "the admin accounts were not read", **_where(db))
            continue
        yield from _admin_outcomes(db, db.admins)


def _admin_outcomes(db: DatabaseAccess, audit: AdminAudit) -> Iterator[Outcome]:
    counts = {"accounts_examined": len(audit.accounts), "accounts_checked": audit.checked}
    if audit.role_lookup:
        yield skipped(db.subject, audit.role_lookup, **_where(db), **counts)
    if audit.is_truncated:
        yield skipped(
            db.subject,
            f"more administrator-role members than the {len(audit.accounts)} examined; the "
            "rest were not tested",
            **_where(db),
            **counts,
        )
    if not audit.is_named_admin_present:
        yield passed(
            db.subject,
            f"no account named {audit.admin_user} ({audit.admin_user_basis}) exists",
            account=audit.admin_user,
            **_where(db),
        )
    # Accounts that pass make one finding per database; every other verdict is its own.
    cleared = [a for a in audit.accounts if a.verdict == "not-default"]
    if cleared:
        formats = sorted({a.hash_format for a in cleared})
        yield passed(
            db.subject,
            f"{len(cleared)} admin account(s) tested, none with a default password: "
            + ", ".join(_who(a) + (f" ({_state(a)})" if _state(a) else "") for a in cleared[:10])
            + (f" and {len(cleared) - 10} more" if len(cleared) > 10 else ""),
            accounts=[a.name for a in cleared],
            hash_formats=formats,
            **_where(db),
            **counts,
        )
    for account in audit.accounts:
        if account.verdict != "not-default":
            yield _admin_outcome(db, account, counts)


def _admin_outcome(db: DatabaseAccess, account: AdminAccount, counts: dict[str, int]) -> Outcome:
    who = _who(account)
    evidence: dict[str, object] = {
        "account": account.name,
        "roles": list(account.admin_roles),
        "hash_format": account.hash_format,
        "blocked": account.is_blocked,
        "active": account.is_active,
        **_where(db),
        **counts,
    }
    state = _state(account)
    if account.verdict == "default":
        what = (
            "Studio Pro's development default (1)"
            if account.default_kind == "development"
            else "a well-known default"
        )
        if state:
            # Nobody logs in to a blocked or inactive account; unblocking it revives the risk.
            outcome = warned(db.subject, f"{who} is {state}; its password is {what}", **evidence)
            return replace(outcome, severity=Severity.MEDIUM)
        outcome = failed(db.subject, f"the password of {who} is {what}", **evidence)
        if account.default_kind != "development":
            outcome = replace(outcome, severity=Severity.HIGH)
        return outcome
    shape = f": {account.hash_shape}" if account.hash_shape else ""
    reason = account.reason or "it could not be tested"
    if account.hash_format == "unknown":
        message = f"the hash format of {who} is not known{shape}; it was not tested"
    else:
        message = f"the {account.hash_format} hash of {who} was not tested: {reason}{shape}"
    return skipped(db.subject, message, **evidence)


def _who(account: AdminAccount) -> str:
    if account.is_named_admin:
        return f"the admin account {account.name}"
    roles = ", ".join(account.admin_roles)
    return f"{account.name} (role {roles})"


def _state(account: AdminAccount) -> str:
    states = []
    if account.is_blocked:
        states.append("blocked")
    if account.is_active is False:
        states.append("inactive")
    return " and ".join(states)


@check(
    id="database-account-has-server-wide-privileges",
    section="4",
    title="The app's database account holds powers over the whole database server",
    severity=Severity.MEDIUM,
    rationale=(
        "The application needs its own database only. A superuser or an account with global "
        "grants lets a flaw in the app read other databases, the server's files, or run "
        "programs on the database host."
    ),
    remediation=(
        "Give the application an account that owns only its own database (PostgreSQL: "
        "NOSUPERUSER NOCREATEROLE NOREPLICATION NOBYPASSRLS; MySQL/MariaDB: privileges on "
        "db.* only, nothing ON *.*)."
    ),
)
def database_account_has_server_wide_privileges(snapshot: Snapshot) -> Iterator[Outcome]:
    """Warn when the app's database account has superuser or server-wide grants."""
    yield from _not_collected(snapshot)
    for db in _databases(snapshot):
        if db.status != "examined":
            yield skipped(db.subject, f"not examined: {db.reason}", **_where(db))
            continue
        powers = db.powers
        if powers is None or not powers.is_visible:
            why = powers.reason if powers else "reading the account's powers failed"
            yield skipped(db.subject, why, **_where(db))
            continue
        evidence = {**_where(db), "powers": list(powers.server_wide), "notes": list(powers.notes)}
        if powers.server_wide:
            yield warned(
                db.subject,
                f"database account {db.user} has server-wide powers: "
                + ", ".join(powers.server_wide),
                **evidence,
            )
        else:
            yield passed(
                db.subject, f"database account {db.user} has no server-wide powers", **evidence
            )


@check(
    id="database-server-listens-beyond-loopback",
    section="6",
    title="The database server accepts network connections though the app uses loopback",
    severity=Severity.MEDIUM,
    rationale=(
        "When the application reaches its database over loopback, nothing else needs to; a "
        "server listening on other addresses is exposed to the network for no reason."
    ),
    remediation=(
        "Bind the server to loopback (PostgreSQL: listen_addresses = 'localhost'; "
        "MariaDB/MySQL: bind-address = 127.0.0.1) or firewall its port."
    ),
)
def database_server_listens_beyond_loopback(snapshot: Snapshot) -> Iterator[Outcome]:
    """Warn when a loopback-only database server listens on other addresses."""
    yield from _not_collected(snapshot)
    for db in _databases(snapshot):
        where = _where(db)
        if db.is_local is not True:
            why = (
                f"the app reaches the server at {db.host} over the network, so it must listen there"
                if db.is_local is False
                else "the database host is not known"
            )
            yield skipped(db.subject, why, **where)
            continue
        listen = db.listen
        if listen is not None and listen.is_visible:
            if listen.is_networking_disabled:
                yield passed(db.subject, "the server accepts no TCP connections", **where)
                continue
            exposed = [a for a in listen.addresses if not is_loopback(a)]
            evidence = {**where, "setting": listen.setting, "value": listen.raw}
            if exposed:
                yield warned(
                    db.subject,
                    f"the app uses loopback but {listen.setting} is "
                    f"{listen.raw or '(empty: every address)'}",
                    **evidence,
                )
            else:
                yield passed(
                    db.subject, f"{listen.setting} is {listen.raw}: loopback only", **evidence
                )
            continue
        # The server would not say; the host's own socket list may.
        yield _from_sockets(snapshot, db, listen.reason if listen else "not examined")


def _from_sockets(snapshot: Snapshot, db: DatabaseAccess, why: str) -> Outcome:
    where = _where(db)
    if db.port is None or not snapshot.sockets_visibility.is_visible:
        return skipped(db.subject, f"the server's listen addresses are unknown: {why}", **where)
    bound = [s.address for s in snapshot.sockets if s.port == db.port]
    if not bound:
        return skipped(
            db.subject,
            f"the server's listen addresses are unknown ({why}) and no socket on this host "
            f"listens on port {db.port}",
            **where,
        )
    exposed = [a for a in bound if not is_loopback(a)]
    evidence = {**where, "sockets": bound}
    if exposed:
        return warned(
            db.subject,
            f"the app uses loopback but port {db.port} is bound to {', '.join(exposed)}",
            **evidence,
        )
    return passed(db.subject, f"port {db.port} is bound to loopback only", **evidence)


@check(
    id="database-traffic-not-encrypted",
    section="6",
    title="The app reaches a database on another host without TLS",
    severity=Severity.MEDIUM,
    rationale=(
        "Between hosts, the database password and every row travel the network; without "
        "DatabaseUseSsl anyone on the path can read or alter them."
    ),
    remediation="Enable TLS on the database server and set DatabaseUseSsl: true.",
)
def database_traffic_not_encrypted(snapshot: Snapshot) -> Iterator[Outcome]:
    """Warn when a non-local database is used without `DatabaseUseSsl`."""
    yield from _not_collected(snapshot)
    for db in _databases(snapshot):
        where = {**_where(db), "use_ssl": db.use_ssl}
        if not db.host:
            yield skipped(db.subject, db.reason or "the database host is not known", **where)
        elif db.is_local:
            yield passed(db.subject, f"{db.host} is local: the traffic stays on the host", **where)
        elif db.use_ssl:
            yield passed(db.subject, f"DatabaseUseSsl is set for {db.host}", **where)
        else:
            yield warned(
                db.subject, f"{db.host} is another host and DatabaseUseSsl is not true", **where
            )
