"""The facts snapshot: everything a collector observed on one host, free of secrets.

A snapshot is plain data. It is written to JSON by `mxguard collect`, read back by
`mxguard evaluate` on another machine, and handed to the checks, which do no I/O of their
own. A fact that could not be gathered is not guessed: the snapshot says why it is missing
(`Visibility`), and the checks turn that into `skip` findings.

Passwords never enter a snapshot; `PasswordFacts` keeps only what can be derived from one.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from mxguard.advisories import Advisory
from mxguard.database_facts import DatabaseFacts
from mxguard.live.facts import LiveFacts
from mxguard.proxy.model import ProxyFacts

SCHEMA_VERSION = 1


class Mode(enum.StrEnum):
    """How the host was observed."""

    LIVE = "live"  # the running host: processes and sockets included
    OFFLINE = "offline"  # a filesystem tree given with `--root`: files only


@dataclass(frozen=True, slots=True, kw_only=True)
class Visibility:
    """Whether a kind of fact could be observed, and why not when it could not."""

    is_visible: bool
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Source:
    """Where a fact was read: a file and line, or a process."""

    file: str | None = None
    line: int | None = None
    pid: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Account:
    """An operating-system account as the host (or the `--root` tree) defines it."""

    name: str
    uid: int
    gid: int
    home: str
    shell: str
    groups: tuple[str, ...] = ()  # every group name, the primary group included
    gids: tuple[int, ...] = ()  # every group id, the primary group included
    has_login_shell: bool = False
    password_state: str = "unknown"  # usable | locked | empty | unknown


@dataclass(frozen=True, slots=True, kw_only=True)
class AclEntry:
    """One entry of a POSIX access ACL; `qualifier` is the uid or gid of named entries."""

    tag: str  # user_obj | user | group_obj | group | mask | other
    qualifier: int | None
    perms: int  # the rwx bits, 4 | 2 | 1


@dataclass(frozen=True, slots=True, kw_only=True)
class PathFacts:
    """The ownership, mode and ACL of one path, without following a final symlink."""

    path: str
    kind: str  # dir | file | symlink | other | missing
    uid: int = -1
    gid: int = -1
    mode: int = 0  # permission bits only (07777)
    acl: tuple[AclEntry, ...] = ()  # extended ACL entries; empty when only the mode applies
    acl_error: str = ""
    link_target: str = ""
    link_leaves_project: bool = False
    error: str = ""  # why the path could not be examined


@dataclass(frozen=True, slots=True, kw_only=True)
class TreeFacts:
    """A protected folder of an installation and what lies below it."""

    role: str  # model | data | m2ee | web | project
    root: str
    entries: tuple[PathFacts, ...] = ()  # the root first, then every path below it
    is_truncated: bool = False  # the walk stopped at its limit; the rest was not examined
    unlisted: tuple[str, ...] = ()  # folders whose contents could not be listed or were too deep
    is_present: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class PasswordFacts:
    """What is known about a password without keeping it."""

    source: Source
    is_set: bool = True
    length: int = 0
    character_classes: int = 0  # lower, upper, digit, other: how many occur
    entropy_bits: float = 0.0
    is_known_default: bool = False
    is_common: bool = False
    equals_app_name: bool = False
    equals_database_password: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class ListenSetting:
    """A `*_listen_addresses` setting as configured; `raw` is None when it is unset."""

    raw: str | None
    addresses: tuple[str, ...] = ()
    source: Source = field(default_factory=Source)


@dataclass(frozen=True, slots=True, kw_only=True)
class Socket:
    """A listening TCP socket on the host."""

    address: str
    port: int
    pid: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ConfigFile:
    """An m2ee configuration file that contributed to an installation's settings."""

    path: str
    status: str = "ok"  # ok | error | unreadable
    problem: str = ""
    line: int | None = None
    holds_secrets: bool = False  # it sets admin_pass, monitoring_pass or DatabasePassword
    facts: PathFacts | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Process:
    """A running Mendix runtime process, as its command line and environment show it."""

    pid: int
    uid: int
    user: str
    command: str  # the command line with secret-looking values masked
    generation: str  # launcher (Mendix 7+) | felix (5, 6) | container (3, 4)
    app_base: str | None = None
    runtime_version: str | None = None
    admin_port: int | None = None
    runtime_port: int | None = None
    admin_listen: ListenSetting | None = None
    runtime_listen: ListenSetting | None = None
    admin_password: PasswordFacts | None = None
    environment_visible: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """The security-relevant m2ee settings of an installation, with where each was set."""

    admin_port: int | None = None
    runtime_port: int | None = None
    admin_listen: ListenSetting = field(default_factory=lambda: ListenSetting(raw=None))
    runtime_listen: ListenSetting = field(default_factory=lambda: ListenSetting(raw=None))
    dtap_mode: str | None = None
    dtap_mode_source: Source = field(default_factory=Source)
    application_root_url: str | None = None
    database_type: str | None = None
    database_host: str | None = None
    database_name: str | None = None
    database_user: str | None = None
    database_use_ssl: bool | None = None
    admin_password: PasswordFacts | None = None
    monitoring_password: PasswordFacts | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Installation:
    """One Mendix application on the host, with everything observed about it."""

    name: str
    app_base: str
    account: str | None = None  # the account the application runs as, or would run as
    account_basis: str = ""  # how `account` was determined
    config_files: tuple[ConfigFile, ...] = ()
    config_problem: str = ""  # why the settings may be incomplete
    settings: Settings = field(default_factory=Settings)
    runtime_version: str | None = None
    runtime_version_source: str = ""
    admin_user: str | None = None
    metadata_problem: str = ""
    request_handlers: tuple[str, ...] = ()
    project_owner: str | None = None  # the account that owns `app_base`
    project_owner_uid: int | None = None
    home_account: str | None = None  # the account whose `~/.m2ee` holds the config
    processes: tuple[Process, ...] = ()
    trees: tuple[TreeFacts, ...] = ()
    ancestors: tuple[PathFacts, ...] = ()  # from `/` down to the parent of `app_base`


@dataclass(frozen=True, slots=True, kw_only=True)
class Problem:
    """Something that went wrong while collecting, kept to be reported as a finding."""

    subject: str
    message: str
    file: str | None = None
    line: int | None = None
    status: str = "error"  # error | skip


@dataclass(frozen=True, slots=True, kw_only=True)
class Snapshot:
    """Every fact gathered on one host in one run."""

    schema_version: int = SCHEMA_VERSION
    tool_version: str
    host: str
    collected_at: str
    mode: Mode
    root: str = "/"
    is_root: bool = False
    accounts: tuple[Account, ...] = ()
    shadow_visibility: Visibility = field(default_factory=lambda: Visibility(is_visible=False))
    processes_visibility: Visibility = field(default_factory=lambda: Visibility(is_visible=False))
    sockets_visibility: Visibility = field(default_factory=lambda: Visibility(is_visible=False))
    sockets: tuple[Socket, ...] = ()
    installations: tuple[Installation, ...] = ()
    problems: tuple[Problem, ...] = ()
    live: LiveFacts | None = None
    database: DatabaseFacts | None = None
    proxy: ProxyFacts | None = None
    advisories: tuple[Advisory, ...] = ()  # from CSAF files the operator gave (--advisories)

    def account(self, name: str | None) -> Account | None:
        """Return the account called `name`, or None."""
        return next((account for account in self.accounts if account.name == name), None)

    def account_by_uid(self, uid: int | None) -> Account | None:
        """Return the first account with user id `uid`, or None."""
        return next((account for account in self.accounts if account.uid == uid), None)
