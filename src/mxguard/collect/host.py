"""The host collector: accounts, runtime processes, sockets, m2ee settings and files."""

from __future__ import annotations

import json
import logging
import os
import posixpath
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import psutil

from mxguard import __version__
from mxguard.collect import files
from mxguard.collect.passwords import describe_password
from mxguard.discovery.accounts import read_accounts
from mxguard.discovery.m2ee import SYSTEM_CONFIG, M2eeConfig, load_m2ee
from mxguard.discovery.processes import RuntimeProcess, find_runtime_processes
from mxguard.discovery.rootfs import Root
from mxguard.facts import (
    Account,
    Installation,
    ListenSetting,
    Mode,
    PathFacts,
    Problem,
    Process,
    Settings,
    Snapshot,
    Socket,
    Source,
    TreeFacts,
    Visibility,
)
from mxguard.safeio import open_regular

logger = logging.getLogger(__name__)

MAX_METADATA_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class HostOptions:
    """What the host collector looks at."""

    root: str = "/"
    configs: Sequence[str] = ()  # explicit m2ee configs, each replacing the usual pair
    hostname: str | None = None


@dataclass(slots=True, kw_only=True)
class _Candidate:
    config: M2eeConfig
    config_paths: list[str]
    app_base: str | None
    home_account: Account | None = None
    processes: list[RuntimeProcess] = field(default_factory=list)


def collect_host(options: HostOptions) -> Snapshot:
    """Observe the host (or the `--root` tree) and return its facts snapshot."""
    root = Root(options.root)
    problems: list[Problem] = []
    accounts, shadow = read_accounts(root)

    if root.is_live:
        processes, processes_visibility = find_runtime_processes()
        sockets, sockets_visibility = _listening_sockets()
    else:
        processes = []
        why = f"an offline tree ({root.directory}) has no running processes or sockets"
        processes_visibility = sockets_visibility = Visibility(is_visible=False, reason=why)
        sockets = []

    if processes_visibility.reason and root.is_live:
        problems.append(Problem(subject="host", message=processes_visibility.reason, status="skip"))
    candidates = _candidates(root, accounts, options.configs, processes, problems)
    installations = []
    for candidate in candidates:
        installation = _installation(root, candidate, accounts, problems)
        if installation is not None:
            installations.append(installation)

    if not installations and not candidates:
        looked = (
            "the given --config files"
            if options.configs
            else (
                f"{SYSTEM_CONFIG}, every account's ~/.m2ee/m2ee.yaml"
                + (" and the process table" if root.is_live else "")
            )
        )
        problems.append(
            Problem(
                subject="host", message=f"no Mendix installation found in {looked}", status="skip"
            )
        )

    return Snapshot(
        tool_version=__version__,
        host=options.hostname or _hostname(root),
        collected_at=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        mode=Mode.LIVE if root.is_live else Mode.OFFLINE,
        root=root.directory,
        is_root=os.geteuid() == 0,
        accounts=accounts,
        shadow_visibility=shadow,
        processes_visibility=processes_visibility,
        sockets_visibility=sockets_visibility,
        sockets=tuple(sockets),
        installations=tuple(installations),
        problems=tuple(problems),
    )


def _candidates(
    root: Root,
    accounts: Sequence[Account],
    explicit: Sequence[str],
    processes: Sequence[RuntimeProcess],
    problems: list[Problem],
) -> list[_Candidate]:
    # `--config` replaces discovery of config files, as `m2ee -c` does.
    sets: list[tuple[list[str], Account | None]] = []
    if explicit:
        sets = [([root.view_of(path)], None) for path in explicit]
    else:
        system = [SYSTEM_CONFIG] if os.path.lexists(root.real(SYSTEM_CONFIG)) else []
        hidden = []
        for account in accounts:
            if account.home in ("", "/"):
                continue
            user_config = posixpath.join(account.home, ".m2ee", "m2ee.yaml")
            presence = _presence(root.real(user_config))
            if presence == "present":
                sets.append(([*system, user_config], account))
            elif presence == "hidden":
                hidden.append(account.name)
        if system and not sets:
            sets.append((system, None))
        if hidden:
            problems.append(
                Problem(
                    subject="host",
                    message=f"cannot look for ~/.m2ee/m2ee.yaml in the homes of {len(hidden)} "
                    f"accounts (permission denied; run as root): {', '.join(hidden[:20])}",
                    status="skip",
                )
            )

    candidates = []
    for paths, home in sets:
        config = load_m2ee(paths, root=root)
        base = config.get("m2ee", "app_base")
        app_base = (
            posixpath.normpath(base) if isinstance(base, str) and base.startswith("/") else None
        )
        candidates.append(
            _Candidate(config=config, config_paths=paths, app_base=app_base, home_account=home)
        )

    # Each process joins the installation of its project folder; one without is its own.
    for process in processes:
        match: _Candidate | None = next(
            (
                c
                for c in candidates
                if c.app_base and _same_base(root, process.app_base, c.app_base)
            ),
            None,
        )
        if match is None and process.app_base is None:
            match = next(
                (c for c in candidates if c.home_account and c.home_account.uid == process.uid),
                None,
            )
        if match is None:
            base = posixpath.normpath(process.app_base) if process.app_base else None
            match = _Candidate(config=M2eeConfig(), config_paths=[], app_base=base)
            candidates.append(match)
        match.processes.append(process)
    return candidates


def _presence(path: str) -> str:
    """Return whether `path` is present, missing, or hidden from this account."""
    try:
        os.lstat(path)
    except PermissionError:
        return "hidden"
    except OSError:
        return "missing"
    return "present"


def _installation(
    root: Root, candidate: _Candidate, accounts: Sequence[Account], problems: list[Problem]
) -> Installation | None:
    config = candidate.config
    app_base = candidate.app_base
    if app_base is None:
        where = ", ".join(candidate.config_paths) or "a runtime process"
        problems.append(
            Problem(
                subject=f"config:{where}",
                message=f"cannot tell the project folder (app_base) from {where}"
                + (f": {config.problem}" if config.problem else ""),
                file=candidate.config_paths[-1] if candidate.config_paths else None,
            )
        )
        return None

    name = str(config.get("m2ee", "app_name") or posixpath.basename(app_base))
    problems.extend(
        Problem(
            subject=f"app:{name}",
            message=f"m2ee config {broken.path}: {broken.problem}",
            file=broken.path,
            line=broken.line,
            status="skip" if broken.status == "unreadable" else "error",
        )
        for broken in config.files
        if broken.status != "ok"
    )

    metadata, metadata_problem = _metadata(root, app_base)
    if metadata_problem and "does not exist" not in metadata_problem:
        problems.append(Problem(subject=f"app:{name}", message=metadata_problem))
    processes = candidate.processes
    runtime_version, version_source = _runtime_version(metadata, processes)
    project = files.examine(root, app_base)
    owner = next((a for a in accounts if a.uid == project.uid), None)
    m2ee_dir = _m2ee_dir(candidate, config)
    trees = _trees(root, app_base, m2ee_dir)
    account, basis = _account(root, processes, candidate, owner)
    watched = [app_base, *(f.path for f in config.files), *([m2ee_dir] if m2ee_dir else [])]

    return Installation(
        name=name,
        app_base=app_base,
        account=account,
        account_basis=basis,
        config_files=tuple(
            replace(f, facts=files.examine(root, f.path)) if f.status == "ok" else f
            for f in config.files
        ),
        config_problem=config.problem,
        settings=_settings(config, name),
        runtime_version=runtime_version,
        runtime_version_source=version_source,
        admin_user=_text(metadata.get("AdminUser")) if metadata else None,
        request_handlers=_handlers(metadata),
        metadata_problem=metadata_problem,
        project_owner=owner.name if owner else None,
        project_owner_uid=project.uid if project.kind != "missing" else None,
        home_account=candidate.home_account.name if candidate.home_account else None,
        processes=tuple(_process_facts(p, name, config) for p in processes),
        trees=trees,
        ancestors=_ancestors(root, watched),
    )


def installation_settings(path: str) -> tuple[str, Settings, str]:
    """Return the name, settings and any problem of the single m2ee config `path`."""
    config = load_m2ee([path], root=Root("/"))
    base = config.get("m2ee", "app_base")
    fallback = posixpath.basename(str(base).rstrip("/")) if isinstance(base, str) else path
    name = str(config.get("m2ee", "app_name") or fallback)
    return name, _settings(config, name), config.problem


def _account(
    root: Root, processes: Sequence[RuntimeProcess], candidate: _Candidate, owner: Account | None
) -> tuple[str | None, str]:
    # Live, the process owner is the truth; offline, the project folder's owner stands in.
    if processes:
        return processes[0].user, f"owner of process {processes[0].pid}"
    choices = [
        (candidate.home_account, "the account whose ~/.m2ee holds the config"),
        (owner, "owner of the project folder"),
    ]
    if not root.is_live:
        choices.reverse()
    for account, basis in choices:
        if account is not None:
            return account.name, basis
    return None, "no process, config home or project owner names it"


def _same_base(root: Root, left: str | None, right: str) -> bool:
    if left is None:
        return False
    try:
        return root.resolve(left) == root.resolve(right)
    except OSError:
        return posixpath.normpath(left) == posixpath.normpath(right)


def _m2ee_dir(candidate: _Candidate, config: M2eeConfig) -> str | None:
    if candidate.home_account is not None:
        return posixpath.join(candidate.home_account.home, ".m2ee")
    user_files = [
        f.path for f in config.files if posixpath.basename(posixpath.dirname(f.path)) == ".m2ee"
    ]
    return posixpath.dirname(user_files[-1]) if user_files else None


def _trees(root: Root, app_base: str, m2ee_dir: str | None) -> tuple[TreeFacts, ...]:
    named = {role: posixpath.join(app_base, role) for role in ("model", "data", "web")}
    trees = [files.walk(root, role, path, project=app_base) for role, path in named.items()]
    if m2ee_dir:
        trees.append(files.walk(root, "m2ee", m2ee_dir, project=posixpath.dirname(m2ee_dir)))
    skip = set(named.values()) | ({m2ee_dir} if m2ee_dir else set())
    trees.append(files.walk(root, "project", app_base, project=app_base, skip=skip))
    return tuple(trees)


def _ancestors(root: Root, paths: Iterable[str]) -> tuple[PathFacts, ...]:
    seen: dict[str, PathFacts] = {}
    for path in paths:
        for facts in files.ancestors(root, path):
            seen.setdefault(facts.path, facts)
    return tuple(sorted(seen.values(), key=lambda f: f.path))


def _metadata(root: Root, app_base: str) -> tuple[dict[str, Any] | None, str]:
    path = posixpath.join(app_base, "model", "metadata.json")
    try:
        with open_regular(root.open_path(path)) as handle:
            raw = handle.read(MAX_METADATA_BYTES + 1)
    except FileNotFoundError:
        return None, f"{path} does not exist"
    except OSError as exc:
        return None, f"{path}: {exc.strerror}"
    if len(raw) > MAX_METADATA_BYTES:
        return None, f"{path}: larger than {MAX_METADATA_BYTES} bytes"
    try:
        document = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        return None, f"{path}: not valid JSON ({exc})"
    if not isinstance(document, dict):
        return None, f"{path}: the top level is not an object"
    return document, ""


def _runtime_version(
    metadata: dict[str, Any] | None, processes: Sequence[RuntimeProcess]
) -> tuple[str | None, str]:
    for process in processes:
        if process.runtime_version:
            return process.runtime_version, f"command line of process {process.pid}"
    if metadata and isinstance(metadata.get("RuntimeVersion"), str):
        return metadata["RuntimeVersion"], "model/metadata.json"
    return None, ""


def _handlers(metadata: dict[str, Any] | None) -> tuple[str, ...]:
    listed = metadata.get("RequestHandlers") if metadata else None
    if not isinstance(listed, list):
        return ()
    names = []
    for handler in listed:
        value = handler.get("Name") if isinstance(handler, dict) else handler
        if isinstance(value, str):
            names.append(value)
    return tuple(names)


def _settings(config: M2eeConfig, name: str) -> Settings:
    database_password = config.get("mxruntime", "DatabasePassword")
    return Settings(
        admin_port=_port(config.get("m2ee", "admin_port")),
        runtime_port=_port(config.get("m2ee", "runtime_port")),
        admin_listen=_listen(config, "admin_listen_addresses"),
        runtime_listen=_listen(config, "runtime_listen_addresses"),
        dtap_mode=_text(config.get("mxruntime", "DTAPMode")),
        dtap_mode_source=config.source("mxruntime", "DTAPMode"),
        application_root_url=_text(config.get("mxruntime", "ApplicationRootUrl")),
        database_type=_text(config.get("mxruntime", "DatabaseType")),
        database_host=_text(config.get("mxruntime", "DatabaseHost")),
        database_name=_text(config.get("mxruntime", "DatabaseName")),
        database_user=_text(config.get("mxruntime", "DatabaseUserName")),
        database_use_ssl=_flag(config.get("mxruntime", "DatabaseUseSsl")),
        admin_password=describe_password(
            config.get("m2ee", "admin_pass"),
            source=config.source("m2ee", "admin_pass"),
            app_name=name,
            database_password=database_password,
        ),
        monitoring_password=describe_password(
            config.get("m2ee", "monitoring_pass"),
            source=config.source("m2ee", "monitoring_pass"),
            app_name=name,
            database_password=database_password,
        ),
    )


def _process_facts(process: RuntimeProcess, name: str, config: M2eeConfig) -> Process:
    environment = process.environment
    source = Source(pid=process.pid)
    admin_listen = runtime_listen = admin_password = None
    admin_port = runtime_port = None
    if environment is not None:
        admin_port = _port(environment.get("M2EE_ADMIN_PORT"))
        runtime_port = _port(environment.get("M2EE_RUNTIME_PORT"))
        admin_listen = listen_setting(environment.get("M2EE_ADMIN_LISTEN_ADDRESSES"), source)
        runtime_listen = listen_setting(environment.get("M2EE_RUNTIME_LISTEN_ADDRESSES"), source)
        if "M2EE_ADMIN_PASS" in environment:
            admin_password = describe_password(
                environment["M2EE_ADMIN_PASS"],
                source=source,
                app_name=name,
                database_password=config.get("mxruntime", "DatabasePassword"),
            )
    return Process(
        pid=process.pid,
        uid=process.uid,
        user=process.user,
        command=process.masked_command,
        generation=process.generation,
        app_base=process.app_base,
        runtime_version=process.runtime_version,
        admin_port=admin_port,
        runtime_port=runtime_port,
        admin_listen=admin_listen,
        runtime_listen=runtime_listen,
        admin_password=admin_password,
        environment_visible=environment is not None,
    )


def _listen(config: M2eeConfig, key: str) -> ListenSetting:
    return listen_setting(config.get("m2ee", key), config.source("m2ee", key))


def listen_setting(value: Any, source: Source) -> ListenSetting:
    """Return a listen-addresses setting from its configured value (a string or a list)."""
    if value is None:
        return ListenSetting(raw=None, source=source)
    items = value if isinstance(value, list) else str(value).replace(",", " ").split()
    addresses = tuple(str(item).strip() for item in items if str(item).strip())
    raw = ",".join(str(item) for item in value) if isinstance(value, list) else str(value)
    return ListenSetting(raw=raw, addresses=addresses, source=source)


def _port(value: Any) -> int | None:
    try:
        port = int(str(value))
    except (TypeError, ValueError):
        return None
    return port if 0 < port < 65536 else None


def _flag(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no"):
        return value.lower() in ("true", "yes")
    return None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _listening_sockets() -> tuple[list[Socket], Visibility]:
    try:
        connections = psutil.net_connections(kind="tcp")
    except psutil.AccessDenied:
        return [], Visibility(is_visible=False, reason="listing sockets needs root")
    sockets = {
        Socket(address=c.laddr.ip, port=c.laddr.port, pid=c.pid)
        for c in connections
        if c.status == psutil.CONN_LISTEN and c.laddr
    }
    note = "" if os.geteuid() == 0 else "not root: sockets of other accounts show no process"
    return sorted(sockets, key=lambda s: (s.port, s.address)), Visibility(
        is_visible=True, reason=note
    )


def _hostname(root: Root) -> str:
    if root.is_live:
        return socket.gethostname()
    try:
        with open_regular(
            root.open_path("/etc/hostname"), "r", encoding="utf-8", errors="replace"
        ) as f:
            name = f.read(256).strip()
    except OSError:
        name = ""
    return name or posixpath.basename(root.directory.rstrip("/")) or "offline"
