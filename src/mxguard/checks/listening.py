"""Shared verdicts for §6 and §8: where a port is configured to listen and where it is bound."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from mxguard.checks.common import (
    app_subject,
    exposed_addresses,
    is_loopback,
    is_wildcard,
    parse_version,
)
from mxguard.checks.registry import Outcome, failed, passed, skipped, warned
from mxguard.facts import Installation, ListenSetting, Snapshot, Socket

# Runtimes before 4.3 bind every address when no listen address is configured.
LOOPBACK_DEFAULT_SINCE = (4, 3)


@dataclass(frozen=True, slots=True)
class Port:
    """Which of the two ports of a runtime a verdict is about."""

    role: str  # runtime | admin
    key: str  # the m2ee key of its listen addresses

    def setting(self, installation: Installation) -> ListenSetting:
        """Return the configured listen addresses for this port."""
        settings = installation.settings
        return settings.runtime_listen if self.role == "runtime" else settings.admin_listen

    def told(self, installation: Installation) -> ListenSetting | None:
        """Return the listen addresses the first running process was given, if visible."""
        for process in installation.processes:
            told = process.runtime_listen if self.role == "runtime" else process.admin_listen
            if told is not None and told.raw is not None:
                return told
        return None

    def number(self, installation: Installation) -> int | None:
        """Return the port number, as the running process was told or else as configured."""
        for process in installation.processes:
            told = process.runtime_port if self.role == "runtime" else process.admin_port
            if told:
                return told
        settings = installation.settings
        return settings.runtime_port if self.role == "runtime" else settings.admin_port


RUNTIME = Port("runtime", "runtime_listen_addresses")
ADMIN = Port("admin", "admin_listen_addresses")


def configured(snapshot: Snapshot, port: Port) -> Iterator[Outcome]:
    """Judge the configured listen addresses of `port` for every installation."""
    for installation in snapshot.installations:
        subject = app_subject(installation)
        setting = port.setting(installation)
        # Without a configured value, what the running runtime was given is the truth.
        if setting.raw is None and (told := port.told(installation)) is not None:
            setting = told
        evidence = {
            "pid": setting.source.pid,
            "file": setting.source.file,
            "line": setting.source.line,
            "key": port.key,
            "value": setting.raw,
        }
        if installation.config_problem and setting.raw is None:
            yield skipped(
                subject, f"the m2ee config could not be read: {installation.config_problem}"
            )
            continue
        if setting.raw is None:
            yield _unset(installation, port)
            continue
        wide = [a for a in setting.addresses if is_wildcard(a)]
        exposed = exposed_addresses(setting)
        if wide:
            yield failed(
                subject,
                f"{port.key} is {setting.raw!r}: the {port.role} port listens on every address",
                **evidence,
            )
        elif exposed:
            yield warned(
                subject,
                f"{port.key} names non-loopback addresses {', '.join(exposed)}; "
                "only acceptable when a firewall admits nothing but the proxy host",
                **evidence,
            )
        else:
            yield passed(subject, f"{port.key} is loopback only ({setting.raw})", **evidence)


def _unset(installation: Installation, port: Port) -> Outcome:
    subject = app_subject(installation)
    version = parse_version(installation.runtime_version)
    evidence = {
        "key": port.key,
        "runtime_version": installation.runtime_version,
        "version_source": installation.runtime_version_source or None,
    }
    if version is None:
        return warned(
            subject,
            f"{port.key} is not set and the runtime version is unknown; "
            "runtimes before 4.3 then listen on every address",
            **evidence,
        )
    if version[:2] < LOOPBACK_DEFAULT_SINCE:
        return failed(
            subject,
            f"{port.key} is not set; Mendix {installation.runtime_version} then "
            "listens on every address",
            **evidence,
        )
    return passed(
        subject,
        f"{port.key} is not set; Mendix {installation.runtime_version} then "
        "listens on loopback only",
        **evidence,
    )


def bound(snapshot: Snapshot, port: Port) -> Iterator[Outcome]:
    """Judge where `port` is actually bound, from the host's listening sockets."""
    for installation in snapshot.installations:
        subject = app_subject(installation)
        sockets, reason = _sockets(snapshot, installation, port)
        if reason:
            yield skipped(subject, reason)
            continue
        exposed = [s for s in sockets if not is_loopback(s.address)]
        evidence = {"port": sockets[0].port, "bound": [_where(s) for s in sockets]}
        if exposed:
            yield failed(
                subject,
                f"the {port.role} port is bound to {', '.join(_where(s) for s in exposed)}",
                **evidence,
            )
        else:
            yield passed(subject, f"the {port.role} port is bound to loopback only", **evidence)


def contradictions(snapshot: Snapshot, port: Port) -> Iterator[Outcome]:
    """Report where the bound sockets or the process disagree with the configuration."""
    for installation in snapshot.installations:
        subject = app_subject(installation)
        setting = port.setting(installation)
        found = []

        configured_port = (
            installation.settings.runtime_port
            if port.role == "runtime"
            else installation.settings.admin_port
        )
        running_port = port.number(installation)
        if configured_port and running_port and configured_port != running_port:
            found.append(
                f"the config says port {configured_port}, the process was given {running_port}"
            )

        for process in installation.processes:
            told = process.runtime_listen if port.role == "runtime" else process.admin_listen
            if setting.raw is None or told is None or told.raw is None:
                continue
            if set(told.addresses) != set(setting.addresses):
                found.append(
                    f"process {process.pid} was started with {port.key}={told.raw!r}, "
                    f"the config now says {setting.raw!r}"
                )

        sockets, reason = _sockets(snapshot, installation, port)
        if not reason and setting.raw is not None:
            config_exposed = bool(exposed_addresses(setting))
            socket_exposed = any(not is_loopback(s.address) for s in sockets)
            if config_exposed != socket_exposed:
                found.append(
                    f"the config says {setting.raw!r}, the sockets are bound to "
                    f"{', '.join(_where(s) for s in sockets)}"
                )

        evidence = {"file": setting.source.file, "line": setting.source.line, "key": port.key}
        if found:
            yield failed(subject, "; ".join(found), **evidence)
        elif reason and not installation.processes:
            yield skipped(subject, reason)
        else:
            yield passed(
                subject, f"the running {port.role} port agrees with the config", **evidence
            )


def _sockets(
    snapshot: Snapshot, installation: Installation, port: Port
) -> tuple[list[Socket], str]:
    if not snapshot.sockets_visibility.is_visible:
        return [], snapshot.sockets_visibility.reason
    number = port.number(installation)
    if number is None:
        return [], f"the {port.role} port is not configured"
    pids = {p.pid for p in installation.processes}
    sockets = [s for s in snapshot.sockets if s.port == number]
    owned = [s for s in sockets if s.pid in pids]
    sockets = owned or [s for s in sockets if s.pid is None or not pids]
    if not sockets:
        return [], f"nothing of this application listens on port {number} (is it running?)"
    return sockets, ""


def _where(sock: Socket) -> str:
    address = f"[{sock.address}]" if ":" in sock.address else sock.address
    return f"{address}:{sock.port}" + (f" (pid {sock.pid})" if sock.pid else "")
