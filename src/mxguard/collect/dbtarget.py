"""Where an installation's database is and how to log in to it, from m2ee or `--database-url`.

A `Target` holds the database password in memory for the length of one collection; it is
never written to facts, and `scrub` removes it from any text that leaves the collector
(driver messages can quote connection strings).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote, urlsplit

from mxguard.checks.common import is_loopback
from mxguard.errors import UsageError

PASSWORD_VARIABLE = "MXGUARD_DATABASE_PASSWORD"

# Mendix's DatabaseType values (and URL schemes) and the dialect mxguard speaks to them.
DIALECTS = {
    "postgresql": "postgresql",
    "postgres": "postgresql",
    "mysql": "mysql",
    "mariadb": "mysql",
    "sqlserver": "sqlserver",
    "mssql": "sqlserver",
}
UNSUPPORTED = {
    "hsqldb": "HSQLDB is the built-in development database kept in the project folder",
    "oracle": "mxguard has no Oracle support",
    "db2": "mxguard has no DB2 support",
    "saphana": "mxguard has no SAP HANA support",
}
DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306, "sqlserver": 1433}


@dataclass(frozen=True, slots=True, kw_only=True)
class Target:
    """One database to examine, with the credentials to do it (kept in memory only)."""

    installation: str
    origin: str  # config | url
    database_type: str
    dialect: str
    host: str  # a name, an address, or a Unix socket folder
    port: int | None
    name: str
    user: str
    password: str | None = field(default=None, repr=False)
    use_ssl: bool | None = None
    file: str | None = None
    line: int | None = None
    admin_user: str | None = None

    @property
    def subject(self) -> str:
        """Return the subject of findings about this database: `db:NAME@HOST`."""
        return subject_of(self.name, self.host, self.port)

    @property
    def is_local(self) -> bool | None:
        """Return whether the app reaches the server over loopback or a Unix socket."""
        return host_is_local(self.host)


@dataclass(frozen=True, slots=True, kw_only=True)
class UrlOption:
    """A `--database-url` value: the installation it names (if any) and the target."""

    installation: str | None
    target: Target


def host_is_local(host: str) -> bool | None:
    """Return whether `host` is reached over loopback or a Unix socket; None when unset."""
    if not host:
        return None
    return host.startswith("/") or is_loopback(host)


def subject_of(name: str, host: str, port: int | None) -> str:
    """Return the subject `db:NAME@HOST:PORT` (IPv6 hosts in brackets)."""
    where = host if port is None or not host else _join(host, port)
    return f"db:{name or '?'}@{where or '?'}"


def dialect_of(database_type: str) -> tuple[str, str]:
    """Return the dialect for a Mendix `DatabaseType`, or an empty one and the reason."""
    key = re.sub(r"[^a-z0-9]", "", database_type.lower())
    if key in DIALECTS:
        return DIALECTS[key], ""
    return "", UNSUPPORTED.get(key, f"database type {database_type!r} is not supported")


def split_host(text: str, dialect: str) -> tuple[str, int | None]:
    """Split Mendix's `DatabaseHost` (`host`, `host:port`, `[v6]:port`) into host and port."""
    text = text.strip()
    if text.startswith("/"):
        return text, None
    default = DEFAULT_PORTS.get(dialect)
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        return host, _port(rest.lstrip(":")) or default
    if text.count(":") == 1:
        host, _, port = text.partition(":")
        return host, _port(port) or default
    # SQL Server writes `host\instance`; a bare IPv6 address has several colons.
    return text, default


def parse_url_option(value: str) -> UrlOption:
    """Return the parsed `--database-url [APP=]URL`; raise `UsageError` naming it redacted."""
    installation: str | None = None
    scheme_at = value.find("://")
    equals_at = value.find("=")
    if 0 < equals_at < scheme_at:
        installation, value = value[:equals_at].strip(), value[equals_at + 1 :]
    shown = redact_url(value)
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        raise UsageError(f"--database-url {shown}: {exc}") from None
    dialect, why = dialect_of(parts.scheme)
    if not dialect:
        raise UsageError(f"--database-url {shown}: {why}")
    name = unquote(parts.path.lstrip("/"))
    if not parts.hostname or not name:
        raise UsageError(f"--database-url {shown}: a host and a database name are needed")

    query = {k.lower(): v[-1].lower() for k, v in parse_qs(parts.query).items()}
    use_ssl: bool | None = None
    if "sslmode" in query:
        use_ssl = query["sslmode"] not in ("disable", "allow", "prefer")
    elif "ssl" in query:
        use_ssl = query["ssl"] in ("1", "true", "yes", "require")
    password = unquote(parts.password) if parts.password is not None else None
    if password is None:
        password = os.environ.get(PASSWORD_VARIABLE)
    target = Target(
        installation=installation or "",
        origin="url",
        database_type=parts.scheme,
        dialect=dialect,
        host=parts.hostname,
        port=port or DEFAULT_PORTS.get(dialect),
        name=name,
        user=unquote(parts.username or ""),
        password=password,
        use_ssl=use_ssl,
    )
    return UrlOption(installation=installation, target=target)


def redact_url(value: str) -> str:
    """Return a database URL with its password replaced by `***`."""
    return re.sub(r"(://[^/@:]*:)[^/@]*@", r"\1***@", value)


def scrub(text: str, secrets: tuple[str | None, ...]) -> str:
    """Return `text` with every secret (and `password=…` pair) replaced by `***`.

    Secrets shorter than four characters are left to the patterns: replacing every `1` in
    a message would hide nothing and garble addresses.
    """
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    text = re.sub(r"(?i)(password\s*=\s*)('[^']*'|\S+)", r"\1***", text)
    return redact_url(text)


def _join(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _port(text: str) -> int | None:
    try:
        port = int(text)
    except ValueError:
        return None
    return port if 0 < port < 65536 else None
