"""§3 — every application runs under a dedicated, unprivileged account of its own."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from mxguard.checks.common import ADMIN_GROUPS, PROXY_ACCOUNTS, app_subject
from mxguard.checks.registry import Outcome, check, failed, passed, skipped, warned
from mxguard.facts import Account, Installation, Snapshot
from mxguard.model import Severity

_NO_ACCOUNT = "cannot tell which account the application runs as"


def _runtime_accounts(
    snapshot: Snapshot, installation: Installation
) -> list[tuple[Account, dict[str, object]]]:
    # Every running process counts; without one, the account the app would run as stands in.
    found = []
    for process in installation.processes:
        account: Account = snapshot.account_by_uid(process.uid) or Account(
            name=process.user, uid=process.uid, gid=-1, home="", shell=""
        )
        found.append(
            (
                account,
                {
                    "pid": process.pid,
                    "account": account.name,
                    "uid": account.uid,
                    "command": process.command,
                },
            )
        )
    if found:
        return found
    named = snapshot.account(installation.account)
    if named is not None:
        account = named
        found.append(
            (
                account,
                {"account": account.name, "uid": account.uid, "basis": installation.account_basis},
            )
        )
    return found


@check(
    id="runtime-runs-as-root",
    section="3",
    title="The runtime runs as root",
    severity=Severity.CRITICAL,
    rationale=(
        "A runtime running as root turns any flaw in the application into control of the "
        "whole server."
    ),
    remediation=(
        "Create an unprivileged account for the application (useradd --system), give it the "
        "project folder, and start the runtime as that account (m2ee as that user, or User= in "
        "its systemd unit)."
    ),
)
def runtime_runs_as_root(snapshot: Snapshot) -> Iterator[Outcome]:
    """Fail every installation whose runtime account is root or has user id 0."""
    for installation in snapshot.installations:
        subject = app_subject(installation)
        accounts = _runtime_accounts(snapshot, installation)
        if not accounts:
            yield skipped(subject, _NO_ACCOUNT)
            continue
        for account, evidence in accounts:
            if account.uid == 0 or account.name == "root":
                yield failed(subject, f"runs as {account.name} (uid {account.uid})", **evidence)
            else:
                yield passed(subject, f"runs as {account.name} (uid {account.uid})", **evidence)


@check(
    id="runtime-account-is-administrator",
    section="3",
    title="The runtime account belongs to an administrative group",
    severity=Severity.HIGH,
    rationale=(
        "Members of sudo, wheel, adm, root and similar groups can become root or read every "
        "log and secret on the host; the runtime account must have no such power."
    ),
    remediation="Remove the account from the group: gpasswd -d ACCOUNT GROUP.",
)
def runtime_account_is_administrator(snapshot: Snapshot) -> Iterator[Outcome]:
    """Fail an installation whose account is in an administrative group."""
    for installation in snapshot.installations:
        subject = app_subject(installation)
        accounts = _runtime_accounts(snapshot, installation)
        if not accounts:
            yield skipped(subject, _NO_ACCOUNT)
            continue
        for account, evidence in accounts:
            powerful = sorted(set(account.groups) & ADMIN_GROUPS)
            if powerful:
                yield failed(
                    subject,
                    f"{account.name} is a member of {', '.join(powerful)}",
                    groups=list(account.groups),
                    **evidence,
                )
            else:
                yield passed(subject, f"{account.name} is in no administrative group", **evidence)


@check(
    id="account-shared-between-apps",
    section="3",
    title="Several applications run under one account",
    severity=Severity.HIGH,
    rationale=(
        "Applications that share an account can read each other's files and the process "
        "environment, which holds the admin password."
    ),
    remediation="Give every application its own account and project folder.",
)
def account_shared_between_apps(snapshot: Snapshot) -> Iterator[Outcome]:
    """Fail installations that share their runtime account with another installation."""
    users: dict[int, list[Installation]] = defaultdict(list)
    for installation in snapshot.installations:
        for account, _ in _runtime_accounts(snapshot, installation)[:1]:
            users[account.uid].append(installation)

    for installation in snapshot.installations:
        subject = app_subject(installation)
        accounts = _runtime_accounts(snapshot, installation)
        if not accounts:
            yield skipped(subject, _NO_ACCOUNT)
            continue
        account, evidence = accounts[0]
        sharing = [other.name for other in users[account.uid] if other is not installation]
        if sharing:
            yield failed(
                subject,
                f"account {account.name} also runs {', '.join(sorted(sharing))}",
                shared_with=sorted(sharing),
                **evidence,
            )
        else:
            yield passed(subject, f"account {account.name} runs this application only", **evidence)


@check(
    id="app-account-is-proxy-account",
    section="3",
    title="The application runs as the web server's account",
    severity=Severity.HIGH,
    rationale=(
        "The proxy's account (www-data, nginx, apache, nobody) is shared by every site it "
        "serves; an application running as it exposes its files to all of them."
    ),
    remediation="Run the application under an account of its own, not the web server's.",
)
def app_account_is_proxy_account(snapshot: Snapshot) -> Iterator[Outcome]:
    """Fail an installation whose account is a well-known web-server account."""
    for installation in snapshot.installations:
        subject = app_subject(installation)
        accounts = _runtime_accounts(snapshot, installation)
        if not accounts:
            yield skipped(subject, _NO_ACCOUNT)
            continue
        for account, evidence in accounts:
            if account.name in PROXY_ACCOUNTS:
                yield failed(subject, f"runs as the web server account {account.name}", **evidence)
            else:
                yield passed(subject, f"{account.name} is not a web server account", **evidence)


@check(
    id="app-account-can-log-in",
    section="3",
    title="The application account can log in",
    severity=Severity.LOW,
    rationale=(
        "A service account needs neither a login shell nor a password; either one is a way "
        "in for someone who guesses or steals it."
    ),
    remediation=(
        "usermod --shell /usr/sbin/nologin ACCOUNT and passwd --lock ACCOUNT; administrators "
        "use sudo -u ACCOUNT instead."
    ),
)
def app_account_can_log_in(snapshot: Snapshot) -> Iterator[Outcome]:
    """Warn about an installation account with a login shell or a usable password."""
    for installation in snapshot.installations:
        subject = app_subject(installation)
        accounts = _runtime_accounts(snapshot, installation)
        if not accounts:
            yield skipped(subject, _NO_ACCOUNT)
            continue
        account, evidence = accounts[0]
        reasons = []
        if account.has_login_shell:
            reasons.append(f"login shell {account.shell}")
        if account.password_state in ("usable", "empty"):
            reasons.append(f"a {account.password_state} password")
        if reasons:
            yield warned(
                subject,
                f"{account.name} has {' and '.join(reasons)}",
                shell=account.shell,
                password=account.password_state,
                **evidence,
            )
        elif account.password_state == "unknown" and not snapshot.shadow_visibility.is_visible:
            yield skipped(
                subject,
                f"{account.name} has no login shell; its password state is unknown: "
                f"{snapshot.shadow_visibility.reason}",
                **evidence,
            )
        else:
            yield passed(
                subject, f"{account.name} has no login shell and no usable password", **evidence
            )
