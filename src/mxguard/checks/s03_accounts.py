"""§3 — every application runs under a dedicated, unprivileged account of its own."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from mxguard.checks.common import ADMIN_GROUPS, PROXY_ACCOUNTS, app_subject
from mxguard.checks.registry import Outcome, check, failed, passed, skipped, warned
from mxguard.facts import Account, Installation, Snapshot
from mxguard.model import Severity


@dataclass(frozen=True, slots=True)
class RuntimeAccount:
    """An account an installation runs as, with the evidence of how that is known."""

    account: Account
    evidence: dict[str, object] = field(default_factory=dict)


def runtime_accounts(snapshot: Snapshot, installation: Installation) -> list[RuntimeAccount]:
    """Return the accounts of the app's processes, or the account it would run as."""
    found = []
    for process in installation.processes:
        account = snapshot.account_by_uid(process.uid) or Account(
            name=process.user, uid=process.uid, gid=-1, home="", shell=""
        )
        evidence = {"pid": process.pid, "account": account.name, "uid": account.uid}
        found.append(RuntimeAccount(account, {**evidence, "command": process.command}))
    if found:
        return found
    named = snapshot.account(installation.account)
    if named is None:
        return []
    evidence = {"account": named.name, "uid": named.uid, "basis": installation.account_basis}
    return [RuntimeAccount(named, evidence)]


Judge = Callable[[str, RuntimeAccount], Outcome]


def _each_account(
    snapshot: Snapshot, judge: Judge, *, first_only: bool = False
) -> Iterator[Outcome]:
    # Every runtime account of every installation is judged; an app whose account cannot be
    # told is skipped, saying so.
    for installation in snapshot.installations:
        subject = app_subject(installation)
        accounts = runtime_accounts(snapshot, installation)
        if not accounts:
            yield skipped(subject, "cannot tell which account the application runs as")
            continue
        for runtime in accounts[:1] if first_only else accounts:
            yield judge(subject, runtime)


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

    def judge(subject: str, runtime: RuntimeAccount) -> Outcome:
        account = runtime.account
        verdict = failed if account.uid == 0 or account.name == "root" else passed
        return verdict(subject, f"runs as {account.name} (uid {account.uid})", **runtime.evidence)

    return _each_account(snapshot, judge)


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

    def judge(subject: str, runtime: RuntimeAccount) -> Outcome:
        account = runtime.account
        powerful = sorted(set(account.groups) & ADMIN_GROUPS)
        if powerful:
            message = f"{account.name} is a member of {', '.join(powerful)}"
            return failed(subject, message, groups=list(account.groups), **runtime.evidence)
        return passed(subject, f"{account.name} is in no administrative group", **runtime.evidence)

    return _each_account(snapshot, judge)


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
    users: dict[int, list[str]] = defaultdict(list)
    for installation in snapshot.installations:
        for runtime in runtime_accounts(snapshot, installation)[:1]:
            users[runtime.account.uid].append(installation.name)

    def judge(subject: str, runtime: RuntimeAccount) -> Outcome:
        account = runtime.account
        sharing = sorted(name for name in users[account.uid] if f"app:{name}" != subject)
        if sharing:
            message = f"account {account.name} also runs {', '.join(sharing)}"
            return failed(subject, message, shared_with=sharing, **runtime.evidence)
        return passed(
            subject, f"account {account.name} runs this application only", **runtime.evidence
        )

    return _each_account(snapshot, judge, first_only=True)


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

    def judge(subject: str, runtime: RuntimeAccount) -> Outcome:
        name = runtime.account.name
        if name in PROXY_ACCOUNTS:
            return failed(subject, f"runs as the web server account {name}", **runtime.evidence)
        return passed(subject, f"{name} is not a web server account", **runtime.evidence)

    return _each_account(snapshot, judge)


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

    def judge(subject: str, runtime: RuntimeAccount) -> Outcome:
        account, evidence = runtime.account, runtime.evidence
        reasons = []
        if account.has_login_shell:
            reasons.append(f"login shell {account.shell}")
        if account.password_state in ("usable", "empty"):
            reasons.append(f"a {account.password_state} password")
        if reasons:
            return warned(
                subject,
                f"{account.name} has {' and '.join(reasons)}",
                shell=account.shell,
                password=account.password_state,
                **evidence,
            )
        if account.password_state == "unknown" and not snapshot.shadow_visibility.is_visible:
            return skipped(
                subject,
                f"{account.name} has no login shell; its password state is unknown: "
                f"{snapshot.shadow_visibility.reason}",
                **evidence,
            )
        return passed(
            subject, f"{account.name} has no login shell and no usable password", **evidence
        )

    return _each_account(snapshot, judge, first_only=True)
