"""Read-only sessions with PostgreSQL, MySQL/MariaDB and SQL Server, one class per dialect.

Every session is opened with a connect timeout, a statement timeout and a read-only
transaction where the server has one, issues SELECT and SHOW statements only, and is rolled
back and closed at the end. Each dialect knows how to quote names, limit rows, and read the
account's server-wide powers and the server's listen addresses.
"""

from __future__ import annotations

import abc
import logging
import re
from collections.abc import Sequence
from typing import Any

from mxguard.collect.dbtarget import Target
from mxguard.database_facts import AccountPowers, ServerListen

logger = logging.getLogger(__name__)

Row = tuple[Any, ...]


class SessionError(Exception):
    """A driver failed; the message is already free of secrets only after `scrub`."""


class Session(abc.ABC):
    """A read-only session with one database server."""

    server_version: str = ""

    @abc.abstractmethod
    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Run one read-only statement and return its rows."""

    @abc.abstractmethod
    def quote(self, name: str) -> str:
        """Return `name` quoted as an identifier."""

    @abc.abstractmethod
    def limited(self, select: str, rows: int) -> str:
        """Return the `SELECT …` statement `select` limited to `rows` rows."""

    @abc.abstractmethod
    def tables_query(self) -> str:
        """Return the statement listing (table, column) for three named tables."""

    @abc.abstractmethod
    def powers(self) -> AccountPowers:
        """Return what the session's account may do beyond its own database."""

    @abc.abstractmethod
    def listen(self) -> ServerListen:
        """Return where the server accepts TCP connections, by its own settings."""

    @abc.abstractmethod
    def close(self) -> None:
        """Roll back and close, ignoring errors."""


def open_session(target: Target, *, timeout: float) -> Session:
    """Open a read-only session with `target`'s server, or raise `SessionError`."""
    if target.dialect == "postgresql":
        return _Postgres(target, timeout)
    if target.dialect == "mysql":
        return _MySQL(target, timeout)
    if target.dialect == "sqlserver":
        return _SqlServer(target, timeout)
    raise SessionError(f"no driver for {target.dialect or target.database_type!r}")


class _Postgres(Session):
    def __init__(self, target: Target, timeout: float) -> None:
        import psycopg

        self._errors: tuple[type[BaseException], ...] = (psycopg.Error,)
        milliseconds = int(timeout * 1000)
        try:
            self._connection = psycopg.connect(
                host=target.host,
                port=target.port,
                dbname=target.name,
                user=target.user,
                password=target.password or "",
                connect_timeout=max(2, int(timeout)),
                sslmode="require" if target.use_ssl else "prefer",
                application_name="mxguard-audit",
                options=(
                    f"-c default_transaction_read_only=on -c statement_timeout={milliseconds} "
                    f"-c lock_timeout={milliseconds} "
                    f"-c idle_in_transaction_session_timeout={milliseconds * 4}"
                ),
            )
            # Every transaction of this session is READ ONLY: the server refuses writes.
            self._connection.read_only = True
            self.server_version = str(self.query("SHOW server_version")[0][0])
        except psycopg.Error as exc:
            raise SessionError(_first_line(exc)) from None

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        try:
            with self._connection.cursor() as cursor:
                cursor.execute(sql.encode("utf-8"), tuple(params) or None)
                return [tuple(row) for row in cursor.fetchall()]
        except self._errors as exc:
            raise SessionError(_first_line(exc)) from None

    def quote(self, name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    def limited(self, select: str, rows: int) -> str:
        return f"{select} LIMIT {int(rows)}"

    def tables_query(self) -> str:
        return (
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = ANY (current_schemas(false)) AND table_name IN (%s, %s, %s)"
        )

    def powers(self) -> AccountPowers:
        attributes = self.query(
            "SELECT rolsuper, rolcreaterole, rolreplication, rolbypassrls, rolcreatedb "
            "FROM pg_roles WHERE rolname = current_user"
        )
        if not attributes:
            return AccountPowers(is_visible=False, reason="pg_roles does not list current_user")
        superuser, createrole, replication, bypassrls, createdb = attributes[0]
        named = (
            ("superuser", superuser),
            ("createrole", createrole),
            ("replication", replication),
            ("bypassrls", bypassrls),
        )
        wide = [word for word, held in named if held]
        # Built-in roles that reach the server's files, programs or every database.
        members = self.query(
            "SELECT rolname FROM pg_roles WHERE rolname IN ("
            "'pg_read_server_files', 'pg_write_server_files', 'pg_execute_server_program', "
            "'pg_read_all_data', 'pg_write_all_data') "
            "AND pg_has_role(current_user, oid, 'MEMBER') ORDER BY rolname"
        )
        wide.extend(f"member of {row[0]}" for row in members if not superuser)
        return AccountPowers(
            is_visible=True, server_wide=tuple(wide), notes=("createdb",) if createdb else ()
        )

    def listen(self) -> ServerListen:
        try:
            raw = str(self.query("SHOW listen_addresses")[0][0])
        except SessionError as exc:
            self._recover()
            return ServerListen(is_visible=False, reason=f"SHOW listen_addresses: {exc}")
        addresses = tuple(a.strip() for a in raw.split(",") if a.strip())
        return ServerListen(
            is_visible=True,
            setting="listen_addresses",
            raw=raw,
            addresses=addresses,
            is_networking_disabled=not addresses,
        )

    def _recover(self) -> None:
        # A failed statement aborts the transaction; start a fresh read-only one.
        try:
            self._connection.rollback()
        except self._errors:
            logger.debug("rollback failed")

    def close(self) -> None:
        try:
            self._connection.rollback()
            self._connection.close()
        except self._errors:
            logger.debug("closing the PostgreSQL session failed")


class _MySQL(Session):
    def __init__(self, target: Target, timeout: float) -> None:
        import pymysql

        self._errors: tuple[type[BaseException], ...] = (pymysql.Error,)
        where: dict[str, Any] = (
            {"unix_socket": target.host}
            if target.host.startswith("/")
            else {"host": target.host, "port": target.port or 3306}
        )
        tls: dict[str, Any] = {"ssl_verify_cert": False} if target.use_ssl else {}
        try:
            self._connection = pymysql.connect(
                user=target.user,
                password=target.password or "",
                database=target.name,
                connect_timeout=max(1, int(timeout)),
                read_timeout=max(1, int(timeout)),
                write_timeout=max(1, int(timeout)),
                charset="utf8mb4",
                autocommit=False,
                program_name="mxguard-audit",
                **where,
                **tls,
            )
            self.server_version = str(self.query("SELECT VERSION()")[0][0])
            # A statement limit first (MariaDB counts seconds, MySQL milliseconds), then a
            # transaction in which the server refuses every write.
            if "mariadb" in self.server_version.lower():
                self.query(f"SET SESSION max_statement_time = {max(1, int(timeout))}")
            else:
                self.query(f"SET SESSION max_execution_time = {int(timeout * 1000)}")
            self.query("SET SESSION TRANSACTION READ ONLY")
            self.query("START TRANSACTION READ ONLY")
        except pymysql.Error as exc:
            raise SessionError(_mysql_message(exc)) from None

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        try:
            with self._connection.cursor() as cursor:
                cursor.execute(sql, tuple(params) or None)
                return [tuple(row) for row in cursor.fetchall()]
        except self._errors as exc:
            raise SessionError(_mysql_message(exc)) from None

    def quote(self, name: str) -> str:
        return "`" + name.replace("`", "``") + "`"

    def limited(self, select: str, rows: int) -> str:
        return f"{select} LIMIT {int(rows)}"

    def tables_query(self) -> str:
        return (
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = DATABASE() AND table_name IN (%s, %s, %s)"
        )

    def powers(self) -> AccountPowers:
        # Any privilege granted ON *.* reaches every database of the server.
        current = str(self.query("SELECT CURRENT_USER()")[0][0])
        user, _, host = current.rpartition("@")
        grantee = f"'{user}'@'{host}'"
        rows = self.query(
            "SELECT privilege_type, is_grantable FROM information_schema.user_privileges "
            "WHERE grantee = %s ORDER BY privilege_type",
            (grantee,),
        )
        wide = [str(p).lower() for p, _ in rows if str(p).upper() != "USAGE"]
        if any(str(g).upper() == "YES" for _, g in rows):
            wide.append("grant option on *.*")
        return AccountPowers(is_visible=True, server_wide=tuple(wide))

    def listen(self) -> ServerListen:
        try:
            rows = self.query("SELECT @@global.bind_address, @@global.skip_networking")
        except SessionError as exc:
            return ServerListen(is_visible=False, reason=f"SELECT @@bind_address: {exc}")
        raw, skip_networking = rows[0]
        raw = "" if raw is None else str(raw)
        addresses = tuple(a.strip() for a in raw.split(",") if a.strip()) or ("*",)
        return ServerListen(
            is_visible=True,
            setting="bind_address",
            raw=raw,
            addresses=addresses,
            is_networking_disabled=bool(skip_networking),
        )

    def close(self) -> None:
        try:
            self._connection.rollback()
            self._connection.close()
        except self._errors:
            logger.debug("closing the MySQL session failed")


class _SqlServer(Session):
    # Untested against a real server: none can be run here (see docs/database.md).
    def __init__(self, target: Target, timeout: float) -> None:
        import pymssql

        self._errors: tuple[type[BaseException], ...] = (pymssql.Error,)
        try:
            self._connection = pymssql.connect(
                server=target.host,
                port=str(target.port or 1433),
                user=target.user,
                password=target.password or "",
                database=target.name,
                login_timeout=max(1, int(timeout)),
                timeout=max(1, int(timeout)),
                appname="mxguard-audit",
                autocommit=False,
                conn_properties=[f"SET LOCK_TIMEOUT {int(timeout * 1000)}"],
            )
            self.server_version = str(self.query("SELECT @@VERSION")[0][0]).splitlines()[0]
        except pymssql.Error as exc:
            raise SessionError(_mssql_message(exc)) from None

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        try:
            cursor = self._connection.cursor()
            cursor.execute(sql, tuple(params) or None)
            return [tuple(row) for row in cursor.fetchall()]
        except self._errors as exc:
            raise SessionError(_mssql_message(exc)) from None

    def quote(self, name: str) -> str:
        return "[" + name.replace("]", "]]") + "]"

    def limited(self, select: str, rows: int) -> str:
        return re.sub(r"^SELECT ", f"SELECT TOP {int(rows)} ", select, count=1)

    def tables_query(self) -> str:
        return (
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_name IN (%s, %s, %s)"
        )

    def powers(self) -> AccountPowers:
        row = self.query(
            "SELECT IS_SRVROLEMEMBER('sysadmin'), HAS_PERMS_BY_NAME(NULL, NULL, 'CONTROL SERVER')"
        )[0]
        wide = [
            word for word, held in zip(("sysadmin", "control server"), row, strict=True) if held
        ]
        return AccountPowers(is_visible=True, server_wide=tuple(wide))

    def listen(self) -> ServerListen:
        return ServerListen(
            is_visible=False,
            reason="SQL Server does not show its listen addresses to an ordinary login",
        )

    def close(self) -> None:
        try:
            self._connection.rollback()
            self._connection.close()
        except self._errors:
            logger.debug("closing the SQL Server session failed")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return " ".join(lines[:2])


def _mssql_message(exc: BaseException) -> str:
    # pymssql errors carry (code, bytes) pairs whose bytes hold several DB-Lib lines.
    args: tuple[Any, ...] = tuple(exc.args)
    if len(args) == 1 and isinstance(args[0], tuple):
        args = args[0]
    if len(args) >= 2 and isinstance(args[1], bytes):
        lines = args[1].decode("utf-8", "replace").splitlines()
        wanted = [line.strip() for line in lines if line.strip() and "DB-Lib" not in line]
        return "; ".join(list(dict.fromkeys(wanted))[:3]) or f"error {args[0]}"
    return _first_line(exc)


def _mysql_message(exc: BaseException) -> str:
    # PyMySQL errors are (code, message) pairs; an OSError inside speaks for itself.
    args: tuple[Any, ...] = tuple(exc.args)
    if len(args) >= 2 and isinstance(args[1], str):
        return f"{args[1]} (error {args[0]})"
    return _first_line(exc)
