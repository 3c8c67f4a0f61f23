"""Facts about each installation's application database, free of secrets.

The database collector connects read-only, reads the admin accounts' password hashes and
tests them on the host against a few well-known defaults; only the verdicts reach these
facts. Neither the database password nor any hash is ever stored here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class AdminAccount:
    """An account whose password the audit tested, and the verdict."""

    name: str
    is_named_admin: bool = False  # the account named by `AdminUser` in model/metadata.json
    admin_roles: tuple[str, ...] = ()  # the administrator roles the account holds
    is_active: bool | None = None
    is_blocked: bool | None = None
    hash_format: str = "unknown"  # bcrypt | ssha256 | sha256 | md5 | empty | unknown
    hash_shape: str = ""  # how an unknown or untestable hash looks, never the hash itself
    verdict: str = "unchecked"  # default | not-default | unchecked
    default_kind: str = ""  # development (Studio Pro's `1`) | well-known, when a default matched
    reason: str = ""  # why the verdict is `unchecked`


@dataclass(frozen=True, slots=True, kw_only=True)
class AdminAudit:
    """The admin accounts found in the Mendix user tables, and how they were found."""

    admin_user: str  # the account name looked up
    admin_user_basis: str  # model/metadata.json | the default
    is_named_admin_present: bool = False
    role_lookup: str = ""  # empty when the role tables were read; else why they were not
    admin_roles: tuple[str, ...] = ()  # the role names judged to be administrator roles
    accounts: tuple[AdminAccount, ...] = ()
    is_truncated: bool = False  # more role members than the audit examines
    checked: int = 0  # accounts whose hash was tested against the defaults
    elapsed_seconds: float = 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountPowers:
    """What the app's database account may do beyond its own database."""

    is_visible: bool
    reason: str = ""
    server_wide: tuple[str, ...] = ()  # e.g. superuser, createrole, a global GRANT
    notes: tuple[str, ...] = ()  # lesser powers worth showing, not warned about


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerListen:
    """Where the database server accepts TCP connections, as its own settings say."""

    is_visible: bool
    reason: str = ""
    setting: str = ""  # listen_addresses | bind_address | …
    raw: str = ""
    addresses: tuple[str, ...] = ()
    is_networking_disabled: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class DatabaseAccess:
    """One installation's database: how the app reaches it and what the audit saw in it."""

    installation: str
    subject: str  # db:NAME@HOST
    origin: str  # config | url
    file: str | None = None  # where DatabaseHost was set, for a database from the config
    line: int | None = None
    database_type: str = ""  # as configured
    dialect: str = ""  # postgresql | mysql | sqlserver, empty when unsupported
    host: str = ""
    port: int | None = None
    name: str = ""
    user: str = ""
    use_ssl: bool | None = None
    is_local: bool | None = None  # the app reaches the server over loopback or a socket
    status: str = "skip"  # examined | skip | error
    reason: str = ""  # why the database was not examined (or only in part)
    server_version: str = ""
    powers: AccountPowers | None = None
    listen: ServerListen | None = None
    admins: AdminAudit | None = None
    admins_problem: str = ""  # why the admin accounts could not be read
    admins_problem_status: str = ""  # skip | error


@dataclass(frozen=True, slots=True, kw_only=True)
class DatabaseFacts:
    """The databases of every installation on the host, each examined read-only."""

    databases: tuple[DatabaseAccess, ...] = ()
    reason: str = ""  # why no database was examined at all
