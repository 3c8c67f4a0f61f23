"""Real PostgreSQL and MariaDB servers for the tests, each holding Mendix-shaped schemas.

Each server runs as a throw-away unprivileged account (when the tests run as root), in a
temporary folder, on a free loopback port, and is stopped by its own pid.
"""

from __future__ import annotations

import base64
import contextlib
import glob
import hashlib
import os
import pwd
import secrets
import shutil
import signal
import socket
import string
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import bcrypt
import psycopg
import pymysql

DEVELOPMENT_DEFAULT = "1"


def strong_password(length: int = 32) -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def bcrypt_hash(password: str, cost: int = 10) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(cost)).decode()


def ssha256(password: str) -> str:
    salt = secrets.token_bytes(8)
    digest = hashlib.sha256(password.encode() + salt).digest()
    return "{SSHA256}" + base64.b64encode(digest + salt).decode()


@dataclass(frozen=True, slots=True, kw_only=True)
class Account:
    id: int
    name: str
    hash: str
    roles: tuple[str, ...]
    active: bool = True
    blocked: bool = False


@dataclass(slots=True, kw_only=True)
class Fixture:
    """What the tests put into the Mendix-shaped database, and the secrets to look for."""

    strong: str = field(default_factory=strong_password)
    accounts: list[Account] = field(default_factory=list)
    extra_secrets: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        one = DEVELOPMENT_DEFAULT
        self.accounts = [
            Account(
                id=1, name="MxAdmin", hash=bcrypt_hash(one), roles=("Administrator", "Beheerder")
            ),
            Account(id=2, name="alice", hash=bcrypt_hash(self.strong), roles=("Administrator",)),
            Account(
                id=3, name="retired", hash=bcrypt_hash(one), roles=("Administrator",), blocked=True
            ),
            Account(
                id=4,
                name="legacy",
                hash="$argon2id$v=19$m=65536,t=3,p=4$" + strong_password(22) + "$" + "x" * 43,
                roles=("Administrator",),
            ),
            Account(
                id=5,
                name="sha",
                hash=hashlib.sha256(b"admin").hexdigest(),
                roles=("SystemAdmin",),
            ),
            Account(
                id=6,
                name="prefixed",
                hash="{BCRYPT}" + bcrypt_hash(self.strong),
                roles=("Administrator",),
            ),
            Account(id=7, name="bob", hash=bcrypt_hash(one), roles=("User",)),
            # A project's own name for its administrator role: the admin account holds it.
            Account(id=10, name="kees", hash=bcrypt_hash(one), roles=("Beheerder",)),
            Account(id=8, name="ssha", hash=ssha256(one), roles=("Administrator",)),
            Account(
                id=9,
                name="md5user",
                hash=hashlib.md5(self.strong.encode()).hexdigest(),  # noqa: S324 - Mendix's legacy MD5
                roles=("Administrator",),
            ),
        ]

    @property
    def secrets(self) -> list[str]:
        return [self.strong, *(a.hash for a in self.accounts), *self.extra_secrets]


@dataclass(slots=True, kw_only=True)
class Server:
    """A running database server and the accounts the tests made on it."""

    dialect: str  # postgresql | mysql
    port: int
    pid: int
    app_user: str
    app_password: str
    wide_user: str  # an account with server-wide powers
    wide_password: str
    fixture: Fixture
    connect_admin: Callable[[str], Any]  # database name -> DB-API connection as superuser
    quote: Callable[[str], str]

    @property
    def scheme(self) -> str:
        return "postgresql" if self.dialect == "postgresql" else "mysql"

    def url(self, database: str, *, user: str | None = None, password: str | None = None) -> str:
        user = user or self.app_user
        password = self.app_password if password is None else password
        return f"{self.scheme}://{user}:{password}@127.0.0.1:{self.port}/{database}"

    @property
    def secrets(self) -> list[str]:
        return [self.app_password, self.wide_password, *self.fixture.secrets]

    def rows(self, database: str) -> list[tuple[Any, ...]]:
        """Return every row of the Mendix-shaped tables, for before/after comparisons."""
        q = self.quote
        result: list[tuple[Any, ...]] = []
        with contextlib.closing(self.connect_admin(database)) as connection:
            cursor = connection.cursor()
            for table, order in (
                ("system$user", "id"),
                ("system$userrole", "id"),
                ("system$userroles", "system$userid"),
            ):
                cursor.execute(f"SELECT * FROM {q(table)} ORDER BY {q(order)}")  # noqa: S608
                result.extend((table, *row) for row in cursor.fetchall())
            connection.rollback()
        return result

    def counters(self, database: str) -> dict[str, int]:
        """Return the server's write and transaction counters."""
        with contextlib.closing(self.connect_admin(database)) as connection:
            cursor = connection.cursor()
            if self.dialect == "postgresql":
                cursor.execute(
                    "SELECT xact_commit, xact_rollback, tup_inserted, tup_updated, tup_deleted, "
                    "sessions FROM pg_stat_database WHERE datname = %s",
                    (database,),
                )
                names = ("xact_commit", "xact_rollback", "tup_inserted", "tup_updated")
                row = cursor.fetchone()
                values = dict(zip((*names, "tup_deleted", "sessions"), row, strict=True))
                cursor.execute(
                    "SELECT COALESCE(SUM(n_tup_ins), 0), COALESCE(SUM(n_tup_upd), 0), "
                    "COALESCE(SUM(n_tup_del), 0) FROM pg_stat_user_tables"
                )
                row = cursor.fetchone()
                values.update(
                    zip(("table_inserts", "table_updates", "table_deletes"), row, strict=True)
                )
            else:
                # MariaDB counts writes to its internal temporary tables (which
                # information_schema queries fill) apart, in Handler_tmp_write.
                cursor.execute(
                    "SHOW GLOBAL STATUS WHERE Variable_name IN ('Com_insert', 'Com_update', "
                    "'Com_delete', 'Com_replace', 'Com_commit', 'Com_create_table', "
                    "'Com_alter_table', 'Com_drop_table', 'Handler_write', 'Handler_update', "
                    "'Handler_delete')"
                )
                values = {str(k): int(v) for k, v in cursor.fetchall()}
            connection.rollback()
        return {k: int(v) for k, v in values.items()}


# --- schema --------------------------------------------------------------------------------


def create_mendix_schema(
    cursor: Any,
    q: Callable[[str], str],
    accounts: list[Account],
    *,
    with_roles: bool = True,
) -> None:
    boolean = "BOOLEAN"
    cursor.execute(
        f"CREATE TABLE {q('system$user')} (id BIGINT PRIMARY KEY, name VARCHAR(200) UNIQUE, "
        f"password VARCHAR(200), active {boolean}, blocked {boolean}, lastlogin TIMESTAMP NULL, "
        f"webserviceuser {boolean}, isanonymous {boolean})"
    )
    for account in accounts:
        cursor.execute(
            f"INSERT INTO {q('system$user')} (id, name, password, active, blocked, "  # noqa: S608
            "webserviceuser, isanonymous) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (account.id, account.name, account.hash, account.active, account.blocked, False, False),
        )
    if not with_roles:
        return
    cursor.execute(
        f"CREATE TABLE {q('system$userrole')} (id BIGINT PRIMARY KEY, name VARCHAR(200), "
        "description VARCHAR(200))"
    )
    cursor.execute(
        f"CREATE TABLE {q('system$userroles')} ({q('system$userid')} BIGINT, "
        f"{q('system$userroleid')} BIGINT, PRIMARY KEY ({q('system$userid')}, "
        f"{q('system$userroleid')}))"
    )
    roles: dict[str, int] = {}
    for account in accounts:
        for role in account.roles:
            if role not in roles:
                roles[role] = 100 + len(roles)
                cursor.execute(
                    f"INSERT INTO {q('system$userrole')} (id, name) VALUES (%s, %s)",  # noqa: S608
                    (roles[role], role),
                )
            cursor.execute(
                f"INSERT INTO {q('system$userroles')} VALUES (%s, %s)",  # noqa: S608
                (account.id, roles[role]),
            )


def fill_huge(
    cursor: Any, q: Callable[[str], str], dialect: str, *, users: int, admins: int
) -> str:
    """Fill the `huge` database: many users, many administrators; return their one hash."""
    strong = bcrypt_hash(strong_password(), cost=4)
    create_mendix_schema(
        cursor,
        q,
        [Account(id=1, name="MxAdmin", hash=bcrypt_hash(strong_password(), 4), roles=("Admin",))],
    )
    source = (
        f"generate_series(2, {users + 1}) AS s(seq)"
        if dialect == "postgresql"
        else f"seq_2_to_{users + 1} AS s"
    )
    cursor.execute(
        f"INSERT INTO {q('system$user')} (id, name, password, active, blocked) "  # noqa: S608
        f"SELECT seq, CONCAT('user', seq), %s, TRUE, FALSE FROM {source}",
        (strong,),
    )
    cursor.execute(
        f"INSERT INTO {q('system$userroles')} SELECT id, 100 FROM {q('system$user')} "  # noqa: S608
        f"WHERE id BETWEEN 2 AND {admins + 1}"
    )
    return strong


def populate(server_cursor_for: Callable[[str], Any], server: Server) -> None:
    """Create the test databases' contents on `server`."""
    q = server.quote
    with contextlib.closing(server_cursor_for("mendix")) as connection:
        cursor = connection.cursor()
        create_mendix_schema(cursor, q, server.fixture.accounts)
        connection.commit()
    with contextlib.closing(server_cursor_for("noroles")) as connection:
        cursor = connection.cursor()
        create_mendix_schema(
            cursor,
            q,
            [Account(id=1, name="MxAdmin", hash=bcrypt_hash(server.fixture.strong), roles=())],
            with_roles=False,
        )
        connection.commit()
    with contextlib.closing(server_cursor_for("notmendix")) as connection:
        cursor = connection.cursor()
        cursor.execute("CREATE TABLE orders (id BIGINT PRIMARY KEY, total INT)")
        connection.commit()
    with contextlib.closing(server_cursor_for("huge")) as connection:
        cursor = connection.cursor()
        huge_hash = fill_huge(cursor, q, server.dialect, users=100_000, admins=300)
        connection.commit()
    server.fixture.extra_secrets.append(huge_hash)


# --- accounts and processes ----------------------------------------------------------------


@contextlib.contextmanager
def service_account(prefix: str) -> Iterator[pwd.struct_passwd | None]:
    """Yield a fresh unprivileged account when root (removed afterwards), else None."""
    if os.geteuid() != 0:
        yield None
        return
    name = f"{prefix}{secrets.token_hex(4)}"
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
        check=True,
    )
    try:
        yield pwd.getpwnam(name)
    finally:
        subprocess.run(["userdel", name], check=False, capture_output=True)


def as_account(account: pwd.struct_passwd | None) -> dict[str, Any]:
    if account is None:
        return {}
    return {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}


def stop(process: subprocess.Popen[bytes], sig: int = signal.SIGINT) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def wait_until(ready: Callable[[], bool], process: subprocess.Popen[bytes], log: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited: {_tail(log)}")
        with contextlib.suppress(Exception):
            if ready():
                return
        time.sleep(0.1)
    raise RuntimeError(f"the server did not start within 60 s: {_tail(log)}")


def _accepts(path: str) -> bool:
    # A bare connect: a half-made driver connection to a starting server leaks its socket.
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(1)
        probe.connect(path)
    return True


def _tail(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()[-2000:]
    except OSError:
        return "(no log)"


def postgres_bin(name: str) -> str:
    for candidate in (
        f"/usr/local/bin/{name}",
        *sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}")),
    ):
        if os.access(candidate, os.X_OK):
            return candidate
    raise FileNotFoundError(name)


@contextlib.contextmanager
def postgres_server() -> Iterator[Server]:
    with service_account("mxgpg") as account, _folder(account) as folder:
        data, sockets, log = f"{folder}/data", f"{folder}/sockets", f"{folder}/server.log"
        for path in (data, sockets):
            os.mkdir(path, 0o700)
            if account:
                os.chown(path, account.pw_uid, account.pw_gid)
        subprocess.run(
            [postgres_bin("initdb"), "-D", data, "-U", "postgres", "-E", "UTF8",
             "--auth-local=trust", "--auth-host=scram-sha-256", "--no-instructions"],
            check=True, capture_output=True, cwd=folder, **as_account(account),
        )  # fmt: skip
        port = free_port()
        with open(log, "wb") as output:
            if account:
                os.chown(log, account.pw_uid, account.pw_gid)
            process = subprocess.Popen(
                [postgres_bin("postgres"), "-D", data, "-p", str(port), "-k", sockets,
                 "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "autovacuum=off",
                 "-c", "shared_buffers=16MB", "-c", "max_connections=40"],
                stdout=output, stderr=subprocess.STDOUT, cwd=folder, **as_account(account),
            )  # fmt: skip

        def connect_admin(database: str) -> Any:
            return psycopg.connect(host=sockets, port=port, user="postgres", dbname=database)

        try:
            wait_until(lambda: bool(connect_admin("postgres").close() or True), process, log)
            server = Server(
                dialect="postgresql",
                port=port,
                pid=process.pid,
                app_user=f"mxapp{secrets.token_hex(3)}",
                app_password=strong_password(),
                wide_user=f"mxwide{secrets.token_hex(3)}",
                wide_password=strong_password(),
                fixture=Fixture(),
                connect_admin=connect_admin,
                quote=lambda name: '"' + name + '"',
            )
            with psycopg.connect(
                host=sockets, port=port, user="postgres", dbname="postgres", autocommit=True
            ) as admin:
                admin.execute(
                    f"CREATE ROLE {server.app_user} LOGIN PASSWORD '{server.app_password}'"
                )
                admin.execute(
                    f"CREATE ROLE {server.wide_user} LOGIN SUPERUSER "
                    f"PASSWORD '{server.wide_password}'"
                )
                for database in ("mendix", "noroles", "notmendix", "huge"):
                    admin.execute(f"CREATE DATABASE {database} OWNER {server.app_user}")

            def owned(database: str) -> Any:
                # Tables belong to the app's account, as Mendix creates them itself.
                connection = connect_admin(database)
                connection.execute(f"SET ROLE {server.app_user}")
                return connection

            populate(owned, server)
            yield server
        finally:
            stop(process)


@contextlib.contextmanager
def mariadb_server() -> Iterator[Server]:
    with service_account("mxgdb") as account, _folder(account) as folder:
        data, sock, log = f"{folder}/data", f"{folder}/mariadb.sock", f"{folder}/server.log"
        os.mkdir(data, 0o700)
        if account:
            os.chown(data, account.pw_uid, account.pw_gid)
        subprocess.run(
            ["mariadb-install-db", "--no-defaults", f"--datadir={data}", "--skip-test-db",
             "--auth-root-authentication-method=normal", "--skip-name-resolve"],
            check=True, capture_output=True, cwd=folder, **as_account(account),
        )  # fmt: skip
        port = free_port()
        with open(log, "wb") as output:
            if account:
                os.chown(log, account.pw_uid, account.pw_gid)
            process = subprocess.Popen(
                [shutil.which("mariadbd") or "/usr/sbin/mariadbd", "--no-defaults",
                 f"--datadir={data}", f"--socket={sock}", f"--port={port}",
                 "--bind-address=127.0.0.1", f"--pid-file={folder}/mariadb.pid",
                 "--skip-name-resolve", "--skip-log-bin", "--innodb-buffer-pool-size=32M",
                 "--innodb-log-file-size=16M", "--skip-innodb-doublewrite",
                 "--innodb-flush-log-at-trx-commit=0", f"--log-error={log}"],
                stdout=output, stderr=subprocess.STDOUT, cwd=folder, **as_account(account),
            )  # fmt: skip

        def connect_admin(database: str) -> Any:
            return pymysql.connect(unix_socket=sock, user="root", database=database or None)

        try:
            wait_until(lambda: _accepts(sock), process, log)
            server = Server(
                dialect="mysql",
                port=port,
                pid=process.pid,
                app_user=f"mxapp{secrets.token_hex(3)}",
                app_password=strong_password(),
                wide_user=f"mxwide{secrets.token_hex(3)}",
                wide_password=strong_password(),
                fixture=Fixture(),
                connect_admin=connect_admin,
                quote=lambda name: "`" + name + "`",
            )
            with contextlib.closing(connect_admin("")) as admin:
                cursor = admin.cursor()
                for database in ("mendix", "noroles", "notmendix", "huge"):
                    cursor.execute(f"CREATE DATABASE {database}")
                for user, password in (
                    (server.app_user, server.app_password),
                    (server.wide_user, server.wide_password),
                ):
                    cursor.execute(f"CREATE USER '{user}'@'127.0.0.1' IDENTIFIED BY '{password}'")
                for database in ("mendix", "noroles", "notmendix", "huge"):
                    cursor.execute(
                        f"GRANT ALL PRIVILEGES ON {database}.* TO '{server.app_user}'@'127.0.0.1'"
                    )
                cursor.execute(
                    f"GRANT ALL PRIVILEGES ON *.* TO '{server.wide_user}'@'127.0.0.1' "
                    "WITH GRANT OPTION"
                )
                admin.commit()
            populate(connect_admin, server)
            yield server
        finally:
            stop(process, signal.SIGTERM)


@contextlib.contextmanager
def _folder(account: pwd.struct_passwd | None) -> Iterator[str]:
    folder = tempfile.mkdtemp(prefix="mxguard-db-")
    if account:
        os.chown(folder, account.pw_uid, account.pw_gid)
    os.chmod(folder, 0o700)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
