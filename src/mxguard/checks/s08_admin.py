"""§8 — the admin port is local only and protected by a long random password."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from mxguard.checks import listening
from mxguard.checks.common import app_subject, plural
from mxguard.checks.registry import Outcome, check, failed, passed, skipped
from mxguard.facts import PasswordFacts, Snapshot
from mxguard.model import Severity

MIN_LENGTH = 20
MIN_ENTROPY_BITS = 64.0


@check(
    id="admin-port-listens-beyond-loopback",
    section="8",
    title="The admin port is configured to listen beyond loopback",
    severity=Severity.HIGH,
    rationale=(
        "The admin API controls the runtime (stop it, create admin users) and speaks plain "
        "HTTP; it must be reachable only where m2ee runs."
    ),
    remediation='Set admin_listen_addresses: "127.0.0.1,::1" in the m2ee config and restart.',
)
def admin_port_listens_beyond_loopback(snapshot: Snapshot) -> Iterator[Outcome]:
    """Judge `admin_listen_addresses` as configured."""
    return listening.configured(snapshot, listening.ADMIN)


@check(
    id="admin-port-bound-beyond-loopback",
    section="8",
    title="The admin port is bound to a non-loopback address",
    severity=Severity.HIGH,
    rationale="The socket shows where the admin API really accepts connections.",
    remediation="Restart the runtime with admin_listen_addresses set to loopback.",
)
def admin_port_bound_beyond_loopback(snapshot: Snapshot) -> Iterator[Outcome]:
    """Judge where the admin port is bound."""
    return listening.bound(snapshot, listening.ADMIN)


@check(
    id="admin-listen-config-contradicts-socket",
    section="8",
    title="The running admin port disagrees with the configuration",
    severity=Severity.MEDIUM,
    rationale=(
        "A runtime started with other admin settings than its config misleads a config audit."
    ),
    remediation="Restart the runtime so that it runs with the configured settings.",
)
def admin_listen_config_contradicts_socket(snapshot: Snapshot) -> Iterator[Outcome]:
    """Compare the admin port's config, process environment and sockets."""
    return listening.contradictions(snapshot, listening.ADMIN)


def weaknesses(password: PasswordFacts) -> list[str]:
    """Return what is wrong with a password, in words; empty when it is strong."""
    if not password.is_set:
        return ["it is not set"]
    found = []
    if password.is_known_default:
        found.append("it is a well-known default")
    elif password.is_common:
        found.append("it is a common password")
    if password.equals_app_name:
        found.append("it is the application's name")
    if password.equals_database_password:
        found.append("it is the database password too")
    if password.length < MIN_LENGTH:
        found.append(f"it has {plural(password.length, 'character')}, fewer than {MIN_LENGTH}")
    if password.entropy_bits < MIN_ENTROPY_BITS:
        found.append(
            f"about {password.entropy_bits:.0f} bits of randomness, under {MIN_ENTROPY_BITS:.0f}"
        )
    return found


def _password_evidence(password: PasswordFacts) -> dict[str, object]:
    return {
        "file": password.source.file,
        "line": password.source.line,
        "pid": password.source.pid,
        "length": password.length,
        "entropy_bits": password.entropy_bits,
        "character_classes": password.character_classes,
    }


@check(
    id="admin-password-weak",
    section="8",
    title="The admin password is short, guessable or reused",
    severity=Severity.HIGH,
    rationale=(
        "Nobody types the admin password; m2ee uses it in the background. It can and must be "
        "a long random string, different from every other password."
    ),
    remediation=(
        "Set admin_pass to a long random string (for example: openssl rand -base64 36) and "
        "restart the runtime with m2ee."
    ),
)
def admin_password_weak(snapshot: Snapshot) -> Iterator[Outcome]:
    """Fail an admin password (configured or given to the process) that is weak."""
    for installation in snapshot.installations:
        subject = app_subject(installation)
        configured = installation.settings.admin_password
        given = [
            (f"process {p.pid}", p.admin_password)
            for p in installation.processes
            if p.admin_password is not None
        ]
        if installation.config_problem and not given and not (configured and configured.is_set):
            yield skipped(
                subject, f"the m2ee config could not be read: {installation.config_problem}"
            )
            continue
        # What the running process was given counts; an unset config value then adds nothing.
        if configured is not None and (configured.is_set or not given):
            yield _judge(subject, "config", configured, critical=True)
        for where, password in given:
            yield _judge(subject, where, password, critical=True)


@check(
    id="monitoring-password-weak",
    section="8",
    title="The monitoring password is short, guessable or reused",
    severity=Severity.MEDIUM,
    rationale="The monitoring password opens health and statistics actions of the admin API.",
    remediation="Set monitoring_pass to a long random string, or remove it if unused.",
)
def monitoring_password_weak(snapshot: Snapshot) -> Iterator[Outcome]:
    """Fail a monitoring password that is set and weak."""
    for installation in snapshot.installations:
        subject = app_subject(installation)
        password = installation.settings.monitoring_password
        if password is None or not password.is_set:
            yield skipped(subject, "no monitoring password is set")
            continue
        yield _judge(subject, "config", password, critical=False)


def _judge(subject: str, where: str, password: PasswordFacts, *, critical: bool) -> Outcome:
    found = weaknesses(password)
    evidence = _password_evidence(password)
    if found:
        outcome = failed(subject, f"{where}: " + "; ".join(found), **evidence)
        if critical and password.is_known_default:
            outcome = replace(outcome, severity=Severity.CRITICAL)
        return outcome
    return passed(
        subject,
        f"{where}: {password.length} characters, about {password.entropy_bits:.0f} bits",
        **evidence,
    )
