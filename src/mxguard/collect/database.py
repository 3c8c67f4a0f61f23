"""The database collector: each installation's database, examined read-only.

For every installation the collector takes the connection settings from the m2ee config
(reading `DatabasePassword` itself, in memory only) or from `--database-url`, opens one
read-only session, and reads: the admin accounts' password hashes, the database account's
server-wide powers and the server's listen addresses. The hashes are tested on the host
after the session is closed; only verdicts reach the facts.

A database that cannot be reached, is not a Mendix schema, or answers too slowly becomes
a `skip` or `error` with the reason; the other databases and the audit go on.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from mxguard.collect import hashes
from mxguard.collect.dbsession import Row, Session, SessionError, open_session
from mxguard.collect.dbtarget import (
    Target,
    dialect_of,
    host_is_local,
    parse_url_option,
    scrub,
    split_host,
    subject_of,
)
from mxguard.database_facts import AdminAccount, AdminAudit, DatabaseAccess, DatabaseFacts
from mxguard.discovery.m2ee import load_m2ee
from mxguard.discovery.rootfs import Root
from mxguard.facts import Installation, Mode, Problem, Snapshot

logger = logging.getLogger(__name__)

DEFAULT_ADMIN_USER = "MxAdmin"
# Administrator roles: those whose name says so (lower-cased), and every role the admin
# account holds, whatever the project called it ("Beheerder", "Superuser").
ADMIN_ROLE_PATTERN = "%admin%"
MAX_ACCOUNTS = 50  # administrator-role members examined per database
MAX_PARALLEL_DATABASES = 4
MAX_PARALLEL_HASHES = 4
HASH_BUDGET_SECONDS = 30.0

USER_TABLE = "system$user"
ROLE_TABLE = "system$userrole"
LINK_TABLE = "system$userroles"

T = TypeVar("T")


@dataclass(frozen=True, slots=True, kw_only=True)
class DatabaseOptions:
    """What the database collector looks at."""

    urls: Sequence[str] = ()  # `--database-url [APP=]URL` values
    timeout: float = 5.0  # seconds, for connecting and for each statement


@dataclass(frozen=True, slots=True, kw_only=True)
class _Account:
    name: str
    stored: Any  # the hash: in memory only, until it is judged
    is_active: bool | None
    is_blocked: bool | None
    is_named_admin: bool
    admin_roles: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class _Read:
    access: DatabaseAccess
    accounts: list[_Account] = field(default_factory=list)
    audit: AdminAudit | None = None
    started: float = 0.0


def collect_database(
    snapshot: Snapshot, options: DatabaseOptions
) -> tuple[DatabaseFacts, list[Problem]]:
    """Examine the database of every installation in `snapshot`, read-only."""
    problems: list[Problem] = []
    targets, skipped = _targets(snapshot, options, problems)
    if not targets and not skipped:
        return DatabaseFacts(reason="no installation and no --database-url name a database"), []

    reads: list[_Read] = []
    slots = threading.BoundedSemaphore(MAX_PARALLEL_DATABASES)

    def examine(target: Target) -> _Read:
        with slots:
            return _examine(target, options.timeout)

    # Each database runs in its own thread with a deadline: a server that accepts and then
    # stalls costs its own time, not the audit's.
    deadline = options.timeout * 4 + 2
    pending = [(target, _start(examine, target)) for target in targets]
    for target, waiter in pending:
        result = waiter(deadline * (1 + len(targets) // MAX_PARALLEL_DATABASES))
        if isinstance(result, BaseException):
            reads.append(_Read(access=_failed(target, result)))
        else:
            reads.append(result)

    # The sessions are closed; the hashes are tested on the host, all within one budget.
    examined = _judge_all(reads)
    return DatabaseFacts(databases=tuple(skipped + examined)), problems


def parse_urls(values: Sequence[str]) -> None:
    """Raise `UsageError` when a `--database-url` value cannot be used."""
    for value in values:
        parse_url_option(value)


def _targets(
    snapshot: Snapshot, options: DatabaseOptions, problems: list[Problem]
) -> tuple[list[Target], list[DatabaseAccess]]:
    urls = [parse_url_option(value) for value in options.urls]
    installations = {i.name: i for i in snapshot.installations}
    by_app: dict[str, Target] = {}
    standalone: list[Target] = []

    # A bare URL belongs to the only installation with an m2ee config (or the only one at
    # all, when none has a config); with several it is ambiguous.
    configured = [i.name for i in snapshot.installations if i.config_files]
    candidates = list(dict.fromkeys(configured or installations))
    for option in urls:
        name = option.installation
        if name is None and len(candidates) == 1:
            name = candidates[0]
        elif name is None and len(candidates) > 1:
            problems.append(
                Problem(
                    subject=option.target.subject,
                    message=(
                        f"--database-url without APP= is ambiguous: {len(candidates)} "
                        "installations were found; write --database-url APP=URL"
                    ),
                )
            )
            continue
        if name is not None and name in installations:
            admin_user = installations[name].admin_user
            by_app[name] = replace(option.target, installation=name, admin_user=admin_user)
        else:
            standalone.append(option.target)

    targets: list[Target] = []
    skipped: list[DatabaseAccess] = []
    for installation in snapshot.installations:
        # One URL serves one installation: the first of that name (configured ones come first).
        if installation.name in by_app:
            targets.append(by_app.pop(installation.name))
            continue
        target, why = _from_settings(snapshot, installation)
        if target is None:
            skipped.append(why)
        else:
            targets.append(target)
    return targets + standalone, skipped


def _from_settings(
    snapshot: Snapshot, installation: Installation
) -> tuple[Target | None, DatabaseAccess]:
    settings = installation.settings
    base = DatabaseAccess(
        installation=installation.name,
        subject=f"db:{settings.database_name or '?'}@{settings.database_host or '?'}",
        origin="config",
        database_type=settings.database_type or "",
        name=settings.database_name or "",
        user=settings.database_user or "",
        use_ssl=settings.database_use_ssl,
    )
    if settings.database_type is None:
        why = "the m2ee config sets no DatabaseType"
        if installation.config_problem:
            why += f" (the config could not be read in full: {installation.config_problem})"
        return None, replace(base, reason=why)
    dialect, unsupported = dialect_of(settings.database_type)
    if not dialect:
        return None, replace(base, reason=unsupported)
    if not settings.database_host or not settings.database_name:
        return None, replace(base, dialect=dialect, reason="DatabaseHost or DatabaseName is unset")
    host, port = split_host(settings.database_host, dialect)
    subject = subject_of(settings.database_name, host, port)
    base = replace(
        base,
        subject=subject,
        dialect=dialect,
        host=host,
        port=port,
        is_local=host_is_local(host),
    )
    if snapshot.mode is Mode.OFFLINE:
        why = (
            f"an offline tree ({snapshot.root}): its database host is not reachable from here; "
            "give --database-url to examine the database"
        )
        return None, replace(base, reason=why)

    # The password is read here, kept in memory for the session, and never stored.
    paths = [f.path for f in installation.config_files if f.status == "ok"]
    config = load_m2ee(paths, root=Root(snapshot.root))
    password = config.get("mxruntime", "DatabasePassword")
    source = config.source("mxruntime", "DatabaseHost")
    if password is None:
        return None, replace(base, reason="the m2ee config sets no DatabasePassword")
    target = Target(
        installation=installation.name,
        origin="config",
        database_type=settings.database_type,
        dialect=dialect,
        host=host,
        port=port,
        name=settings.database_name,
        user=settings.database_user or "",
        password=str(password),
        use_ssl=settings.database_use_ssl,
        file=source.file,
        line=source.line,
        admin_user=installation.admin_user,
    )
    return target, base


def _examine(target: Target, timeout: float) -> _Read:
    access = _access(target)
    started = time.monotonic()
    try:
        session = open_session(target, timeout=timeout)
    except SessionError as exc:
        why = _clean(target, f"cannot connect: {exc}")
        return _Read(access=replace(access, status="error", reason=why))

    try:
        access = replace(access, status="examined", server_version=session.server_version)
        access = replace(access, powers=_guarded(target, "account powers", session.powers))
        access = replace(access, listen=_guarded(target, "listen addresses", session.listen))
        try:
            accounts, audit = _read_admins(session, target)
        except SessionError as exc:
            problem = _clean(target, f"reading the Mendix user tables failed: {exc}")
            return _Read(
                access=replace(access, admins_problem=problem, admins_problem_status="error")
            )
        except _NotMendix as exc:
            return _Read(
                access=replace(access, admins_problem=str(exc), admins_problem_status="skip")
            )
    finally:
        session.close()
    logger.info("read %d admin accounts from %s", len(accounts), target.subject)
    return _Read(access=access, accounts=accounts, audit=audit, started=started)


def _access(target: Target) -> DatabaseAccess:
    return DatabaseAccess(
        installation=target.installation,
        subject=target.subject,
        origin=target.origin,
        file=target.file,
        line=target.line,
        database_type=target.database_type,
        dialect=target.dialect,
        host=target.host,
        port=target.port,
        name=target.name,
        user=target.user,
        use_ssl=target.use_ssl,
        is_local=target.is_local,
    )


class _NotMendix(Exception):
    """The database lacks the Mendix user table."""


def _read_admins(session: Session, target: Target) -> tuple[list[_Account], AdminAudit]:
    columns: dict[str, set[str]] = {}
    for table, column in session.query(
        session.tables_query(), (USER_TABLE, ROLE_TABLE, LINK_TABLE)
    ):
        columns.setdefault(str(table).lower(), set()).add(str(column).lower())
    user_columns = columns.get(USER_TABLE, set())
    if not {"id", "name", "password"} <= user_columns:
        found = "not found" if not user_columns else "lacks id, name or password"
        raise _NotMendix(f"not a Mendix schema: table {USER_TABLE} {found}")

    admin_user = target.admin_user or DEFAULT_ADMIN_USER
    audit = AdminAudit(
        admin_user=admin_user,
        admin_user_basis="model/metadata.json" if target.admin_user else "the default",
    )
    q = session.quote
    flags = ", ".join(
        f"u.{q(flag)}" if flag in user_columns else "NULL" for flag in ("active", "blocked")
    )
    select = f"SELECT u.{q('name')}, u.{q('password')}, {flags}"

    named = session.query(
        session.limited(f"{select} FROM {q(USER_TABLE)} u WHERE u.{q('name')} = %s", 2),
        (admin_user,),
    )
    accounts: dict[str, _Account] = {}
    for row in named:
        accounts[str(row[0])] = _account(row, is_named_admin=True, roles=())
    audit = replace(audit, is_named_admin_present=bool(named))

    role_columns = columns.get(ROLE_TABLE, set())
    link_columns = columns.get(LINK_TABLE, set())
    if not (
        {"id", "name"} <= role_columns and {"system$userid", "system$userroleid"} <= link_columns
    ):
        why = (
            f"the role tables ({ROLE_TABLE}, {LINK_TABLE}) are missing or shaped differently "
            f"than expected; only {admin_user} was examined"
        )
        return list(accounts.values()), replace(audit, role_lookup=why)

    held_by_admin = (
        f"SELECT a.{q('system$userroleid')} FROM {q(LINK_TABLE)} a "  # noqa: S608 - names are constants, values bound
        f"JOIN {q(USER_TABLE)} n ON n.{q('id')} = a.{q('system$userid')} WHERE n.{q('name')} = %s"
    )
    members = session.query(
        session.limited(
            f"{select}, r.{q('name')} FROM {q(USER_TABLE)} u "
            f"JOIN {q(LINK_TABLE)} l ON l.{q('system$userid')} = u.{q('id')} "
            f"JOIN {q(ROLE_TABLE)} r ON r.{q('id')} = l.{q('system$userroleid')} "
            f"WHERE LOWER(r.{q('name')}) LIKE %s OR r.{q('id')} IN ({held_by_admin}) "
            f"ORDER BY u.{q('name')}",
            MAX_ACCOUNTS * 4 + 1,
        ),
        (ADMIN_ROLE_PATTERN, admin_user),
    )
    roles: set[str] = set()
    is_truncated = len(members) > MAX_ACCOUNTS * 4
    for row in members:
        name, role = str(row[0]), str(row[4])
        roles.add(role)
        known = accounts.get(name)
        if known is not None:
            accounts[name] = replace(known, admin_roles=(*known.admin_roles, role))
        elif len(accounts) < MAX_ACCOUNTS + (1 if named else 0):
            accounts[name] = _account(row, is_named_admin=False, roles=(role,))
        else:
            is_truncated = True
    audit = replace(audit, admin_roles=tuple(sorted(roles)), is_truncated=is_truncated)
    return list(accounts.values()), audit


def _account(row: Row, *, is_named_admin: bool, roles: tuple[str, ...]) -> _Account:
    return _Account(
        name=str(row[0]),
        stored=row[1],
        is_active=_flag(row[2]),
        is_blocked=_flag(row[3]),
        is_named_admin=is_named_admin,
        admin_roles=roles,
    )


def _judge_all(reads: list[_Read]) -> list[DatabaseAccess]:
    # BCrypt is slow by design: a few hashes at a time, every database within one budget.
    deadline = time.monotonic() + HASH_BUDGET_SECONDS

    def judge(account: _Account) -> AdminAccount:
        verdict = hashes.judge(account.stored, account.name, deadline=deadline)
        return AdminAccount(
            name=account.name,
            is_named_admin=account.is_named_admin,
            admin_roles=account.admin_roles,
            is_active=account.is_active,
            is_blocked=account.is_blocked,
            hash_format=verdict.hash_format,
            hash_shape=verdict.hash_shape,
            verdict=verdict.verdict,
            default_kind=verdict.default_kind,
            reason=verdict.reason,
        )

    with ThreadPoolExecutor(max_workers=MAX_PARALLEL_HASHES) as pool:
        futures = [[pool.submit(judge, a) for a in read.accounts] for read in reads]
        judged = [[future.result() for future in batch] for batch in futures]

    results = []
    for read, accounts in zip(reads, judged, strict=True):
        if read.audit is None:
            results.append(read.access)
            continue
        audit = replace(
            read.audit,
            accounts=tuple(sorted(accounts, key=lambda a: (not a.is_named_admin, a.name))),
            checked=sum(1 for a in accounts if a.verdict != "unchecked"),
            elapsed_seconds=round(time.monotonic() - read.started, 2),
        )
        results.append(replace(read.access, admins=audit))
    return results


def _guarded(target: Target, what: str, read: Callable[[], T]) -> T | None:
    try:
        return read()
    except SessionError as exc:
        logger.warning("%s: reading %s failed: %s", target.subject, what, _clean(target, str(exc)))
        return None


def _failed(target: Target, exc: BaseException) -> DatabaseAccess:
    if isinstance(exc, TimeoutError):
        why = "the server did not finish answering within the time allowed"
    else:
        why = f"examining the database failed: {type(exc).__name__}: {exc}"
    return replace(_access(target), status="error", reason=_clean(target, why))


def _clean(target: Target, text: str) -> str:
    return scrub(text, (target.password,))


def _flag(value: Any) -> bool | None:
    if value is None:
        return None
    if isinstance(value, bytes | bytearray):
        return any(value)
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "t", "yes", "y")
    return bool(value)


def _start(function: Callable[[Target], T], target: Target) -> Callable[[float], T | BaseException]:
    # A daemon thread: one that never returns is abandoned, not waited for at exit.
    box: queue.Queue[T | BaseException] = queue.Queue(maxsize=1)

    def run() -> None:
        try:
            box.put(function(target))
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting side
            box.put(exc)

    threading.Thread(target=run, name=f"mxguard-db-{target.subject}", daemon=True).start()
    started = time.monotonic()

    def wait(seconds: float) -> T | BaseException:
        try:
            return box.get(timeout=max(0.0, started + seconds - time.monotonic()))
        except queue.Empty:
            return TimeoutError()

    return wait
