"""§4 — only the application's account can read or write its data, model and configuration."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from mxguard import access
from mxguard.checks.common import (
    app_subject,
    mode_text,
    other_installations,
    path_index,
    plural,
)
from mxguard.checks.registry import Outcome, check, failed, passed, skipped, warned
from mxguard.facts import Account, Installation, PathFacts, Snapshot, TreeFacts
from mxguard.model import Severity

PRIVATE_ROLES = ("model", "data", "m2ee")
MAX_LISTED = 20


def _private_roots(installation: Installation) -> list[PathFacts]:
    # The private folders themselves, and every config file that holds a secret.
    roots = [
        tree.entries[0]
        for tree in installation.trees
        if tree.role in PRIVATE_ROLES and tree.is_present and tree.entries
    ]
    roots += [c.facts for c in installation.config_files if c.holds_secrets and c.facts]
    return roots


def _private_entries(installation: Installation) -> list[PathFacts]:
    entries = [e for t in installation.trees if t.role in PRIVATE_ROLES for e in t.entries]
    seen = {e.path for e in entries}
    entries += [r for r in _private_roots(installation) if r.path not in seen]
    return entries


def _blind_spots(trees: Iterable[TreeFacts]) -> list[str]:
    spots = []
    for tree in trees:
        if tree.is_truncated:
            spots.append(f"{tree.root}: only the first {len(tree.entries)} entries were examined")
        spots += [f"{folder}: its contents could not be examined" for folder in tree.unlisted]
    return spots


def _gives_away(facts: PathFacts) -> list[str]:
    """Return what `facts` grants to anyone but its owner, in words."""
    if facts.kind == "symlink":
        return []
    if not facts.acl:
        granted = []
        if facts.mode & 0o070:
            granted.append(f"group {_rwx(facts.mode >> 3)}")
        if facts.mode & 0o007:
            granted.append(f"others {_rwx(facts.mode)}")
        return granted

    mask = next((e.perms for e in facts.acl if e.tag == "mask"), 7)
    granted = []
    for entry in facts.acl:
        perms = entry.perms if entry.tag == "other" else entry.perms & mask
        if entry.tag in ("user_obj", "mask") or not perms:
            continue
        who = entry.tag.replace("_obj", "") + (
            f":{entry.qualifier}" if entry.qualifier is not None else ""
        )
        granted.append(f"ACL {who} {_rwx(perms)}")
    return granted


def _rwx(bits: int) -> str:
    return "".join(flag if bits & value else "-" for flag, value in (("r", 4), ("w", 2), ("x", 1)))


def _app_account(snapshot: Snapshot, installation: Installation) -> Account | None:
    return snapshot.account(installation.account)


@check(
    id="private-files-owned-by-another-account",
    section="4",
    title="Private application files are not owned by the application's account",
    severity=Severity.HIGH,
    rationale=(
        "The model, the data folder, the .m2ee folder and every config holding a password "
        "belong to the application's own account; another owner can change their modes and "
        "read or replace them."
    ),
    remediation="chown -R ACCOUNT: the folder or file named in the finding.",
)
def private_files_owned_by_another_account(snapshot: Snapshot) -> Iterator[Outcome]:
    """Fail private folders and secret-holding configs owned by another account."""
    for installation in snapshot.installations:
        subject = app_subject(installation)
        account = _app_account(snapshot, installation)
        roots = _private_roots(installation)
        if account is None:
            yield skipped(subject, "cannot tell which account the application runs as")
            continue
        if not roots:
            yield skipped(subject, "no model, data or .m2ee folder was found")
            continue
        wrong = [r for r in roots if r.uid != account.uid and r.kind != "missing"]
        for facts in wrong:
            owner = snapshot.account_by_uid(facts.uid)
            yield failed(
                f"file:{facts.path}",
                f"owned by {owner.name if owner else facts.uid}, not {account.name}",
                app=installation.name,
                file=facts.path,
                owner=owner.name if owner else facts.uid,
                expected_owner=account.name,
                mode=mode_text(facts.mode),
            )
        if not wrong:
            yield passed(
                subject,
                f"{plural(len(roots), 'private path')} owned by {account.name}",
                paths=[r.path for r in roots],
            )


@check(
    id="private-files-open-to-group-or-others",
    section="4",
    title="Private application files give access to group or others",
    severity=Severity.HIGH,
    rationale=(
        "The model holds the application's logic and the data folder its uploaded files and "
        "database; configs hold the admin and database passwords. Any bit for group or "
        "others, or any extra ACL entry, opens them to other accounts."
    ),
    remediation=(
        "chmod 0700 on the folders and 0600 on the config files named, and setfacl -b to drop "
        "extra ACL entries."
    ),
)
def private_files_open_to_group_or_others(snapshot: Snapshot) -> Iterator[Outcome]:
    """Fail private folders and secret-holding configs that grant group, other or ACL access."""
    for installation in snapshot.installations:
        subject = app_subject(installation)
        roots = _private_roots(installation)
        if not roots:
            yield skipped(subject, "no model, data or .m2ee folder was found")
            continue
        open_ones = [(r, _gives_away(r)) for r in roots]
        open_ones = [(r, granted) for r, granted in open_ones if granted]
        for facts, granted in open_ones:
            yield failed(
                f"file:{facts.path}",
                f"gives {', '.join(granted)}",
                app=installation.name,
                file=facts.path,
                mode=mode_text(facts.mode),
                acl=[
                    f"{e.tag}:{'' if e.qualifier is None else e.qualifier}:{_rwx(e.perms)}"
                    for e in facts.acl
                ]
                or None,
            )
        unknown = [r for r in roots if r.acl_error]
        for facts in unknown:
            yield skipped(f"file:{facts.path}", facts.acl_error, app=installation.name)
        if not open_ones and not unknown:
            yield passed(
                subject,
                f"{plural(len(roots), 'private path')} giving nothing to group or others",
                paths=[r.path for r in roots],
            )


@check(
    id="private-files-reachable-by-other-app",
    section="4",
    title="Another application's account can read or write this application's private files",
    severity=Severity.HIGH,
    rationale=(
        "Applications must not read each other's files or configuration. Decided as the kernel "
        "decides: owner, groups, ACL entries and mask, and search permission on every folder "
        "above."
    ),
    remediation=(
        "Remove the other account from the groups that grant access, drop the ACL entries, "
        "or close the folders: chmod 0700 model data ~/.m2ee."
    ),
)
def private_files_reachable_by_other_app(snapshot: Snapshot) -> Iterator[Outcome]:
    """Fail each pair of applications where one account reaches the other's private files."""
    for installation in snapshot.installations:
        subject = app_subject(installation)
        owner = _app_account(snapshot, installation)
        others = _other_accounts(snapshot, installation, owner)
        entries = _private_entries(installation)
        if not entries:
            yield skipped(subject, "no model, data or .m2ee folder was found")
            continue
        if not others:
            yield passed(subject, "no other application account on this host")
            continue

        index = path_index(installation)
        failing = False
        unknown: set[str] = set()
        for other_app, account in others:
            reached, undecided = _reached(account, entries, index)
            unknown.update(undecided)
            if reached:
                failing = True
                yield failed(
                    subject,
                    f"{account.name}, the account {other_app} runs as, can "
                    + _reach_words(reached),
                    account=account.name,
                    other_app=other_app,
                    paths=[f"{path} ({how})" for path, how in reached[:MAX_LISTED]],
                    count=len(reached),
                )
        spots = _blind_spots(t for t in installation.trees if t.role in PRIVATE_ROLES)
        if failing:
            continue
        if unknown or spots:
            yield skipped(
                subject,
                "could not decide for every path: "
                + "; ".join([*spots, *sorted(unknown)][:MAX_LISTED]),
            )
        else:
            yield passed(
                subject,
                f"no other application account ({len(others)} checked) reaches the "
                f"{plural(len(entries), 'private path')}",
                accounts=[account.name for _, account in others],
            )


def _reach_words(reached: list[tuple[str, str]]) -> str:
    """Say how many paths were readable and how many writable, in words."""
    readable = sum("r" in how for _, how in reached)
    writable = sum("w" in how for _, how in reached)
    if not writable:
        return f"read {plural(readable, 'private path')}"
    if not readable:
        return f"write {plural(writable, 'private path')}"
    if readable == writable == len(reached):
        return f"read and write {plural(readable, 'private path')}"
    return f"read {readable} and write {writable} of {plural(len(reached), 'private path')}"


def _other_accounts(
    snapshot: Snapshot, installation: Installation, owner: Account | None
) -> list[tuple[str, Account]]:
    found = []
    for other in other_installations(snapshot, installation):
        account = snapshot.account(other.account)
        if account is None or account.uid == 0:
            continue
        if owner is not None and account.uid == owner.uid:
            continue  # a shared account is its own failure under §3
        found.append((other.name, account))
    return found


def _reached(
    account: Account, entries: Iterable[PathFacts], index: Mapping[str, PathFacts]
) -> tuple[list[tuple[str, str]], list[str]]:
    reached = []
    undecided = []
    for facts in entries:
        if facts.kind in ("symlink", "missing"):
            continue
        if facts.acl_error:
            undecided.append(f"{facts.path}: {facts.acl_error}")
            continue
        perms = access.effective(account, facts, index)
        if perms is None:
            undecided.append(f"{facts.path}: a folder above it was not examined")
            continue
        how = "".join(f for f, bit in (("r", access.READ), ("w", access.WRITE)) if perms & bit)
        if how:
            reached.append((facts.path, how))
    return reached, undecided


@check(
    id="web-folder-writable-by-others",
    section="4",
    title="Someone besides the application's account can write the public web folder",
    severity=Severity.HIGH,
    rationale=(
        "The web folder may be readable by everyone so the proxy can serve it, but whoever "
        "can write it can plant scripts that every user's browser runs."
    ),
    remediation="chown -R ACCOUNT: web and chmod -R go-w web; drop ACL entries that grant w.",
)
def web_folder_writable_by_others(snapshot: Snapshot) -> Iterator[Outcome]:
    """Fail entries of `web/` that a non-owner, or an owner other than the app, can write."""
    for installation in snapshot.installations:
        subject = app_subject(installation)
        tree = next((t for t in installation.trees if t.role == "web"), None)
        account = _app_account(snapshot, installation)
        if tree is None or not tree.is_present:
            yield skipped(subject, "the project has no web folder")
            continue
        if account is None:
            yield skipped(subject, "cannot tell which account the application runs as")
            continue
        writable = []
        for facts in tree.entries:
            writers = _writers(facts, account, snapshot)
            if writers:
                writable.append(f"{facts.path} ({', '.join(writers)})")
        if writable:
            yield failed(
                subject,
                f"{plural(len(writable), 'path')} in web/ can be written by others",
                paths=writable[:MAX_LISTED],
                count=len(writable),
                folder=tree.root,
            )
        elif spots := _blind_spots([tree]):
            yield skipped(subject, "; ".join(spots))
        else:
            yield passed(
                subject,
                f"only {account.name} can write the {plural(len(tree.entries), 'path')} in web/",
                folder=tree.root,
            )


def _writers(facts: PathFacts, account: Account, snapshot: Snapshot) -> list[str]:
    """Return who besides `account` and root can write `facts`, in words."""
    if facts.kind in ("symlink", "missing"):
        return []
    writers = []
    if facts.uid not in (account.uid, 0) and facts.mode & 0o200:
        writers.append(f"owner {_name(snapshot, facts.uid)}")

    if not facts.acl:
        group_bits, other_bits = (facts.mode >> 3) & 7, facts.mode & 7
        named: list[tuple[str, int | None, int]] = [("group_obj", facts.gid, group_bits)]
    else:
        mask = next((e.perms for e in facts.acl if e.tag == "mask"), 7)
        other_bits = next((e.perms for e in facts.acl if e.tag == "other"), facts.mode & 7)
        named = [
            (e.tag, facts.gid if e.tag == "group_obj" else e.qualifier, e.perms & mask)
            for e in facts.acl
            if e.tag in ("user", "group", "group_obj")
        ]

    for tag, qualifier, perms in named:
        if not perms & 2:
            continue
        if tag == "user":
            if qualifier not in (account.uid, 0):
                writers.append(f"ACL user {_name(snapshot, qualifier)}")
            continue
        # A group counts only through members other than the application and root.
        members = [
            a.name
            for a in snapshot.accounts
            if qualifier in a.gids and a.uid not in (account.uid, 0)
        ]
        if members:
            writers.append(f"group {qualifier} ({', '.join(sorted(members)[:5])})")
    if other_bits & 2:
        writers.append("everyone")
    return writers


def _name(snapshot: Snapshot, uid: int | None) -> str:
    found = snapshot.account_by_uid(uid)
    return found.name if found else str(uid)


@check(
    id="project-path-world-writable",
    section="4",
    title="A file or folder in the project is writable by everyone",
    severity=Severity.HIGH,
    rationale="Any account on the host can change or replace a world-writable path.",
    remediation="chmod o-w on every path named (find APP_BASE -perm -o+w).",
)
def project_path_world_writable(snapshot: Snapshot) -> Iterator[Outcome]:
    """Fail every world-writable path in the project and the .m2ee folder."""
    for installation in snapshot.installations:
        subject = app_subject(installation)
        entries = [e for tree in installation.trees for e in tree.entries]
        if not entries:
            yield skipped(subject, f"the project folder {installation.app_base} was not found")
            continue
        loose = [e for e in entries if e.kind not in ("symlink", "missing") and _world_writable(e)]
        for facts in loose[:MAX_LISTED]:
            yield failed(
                f"file:{facts.path}",
                f"writable by everyone (mode {mode_text(facts.mode)})",
                app=installation.name,
                file=facts.path,
                mode=mode_text(facts.mode),
            )
        if len(loose) > MAX_LISTED:
            yield failed(
                subject, f"{len(loose) - MAX_LISTED} more world-writable paths", count=len(loose)
            )
        if not loose:
            if spots := _blind_spots(installation.trees):
                yield skipped(subject, "; ".join(spots))
            else:
                yield passed(subject, f"none of {len(entries)} paths is world-writable")


def _world_writable(facts: PathFacts) -> bool:
    if not facts.acl:
        return bool(facts.mode & 0o002)
    return any(e.tag == "other" and e.perms & 2 for e in facts.acl)


@check(
    id="symlink-leaves-project",
    section="4",
    title="A symlink in the project points outside it",
    severity=Severity.LOW,
    rationale=(
        "A link out of the project lets the protections of another folder decide what the "
        "application and the proxy serve; mxguard reports such links and never follows them."
    ),
    remediation="Check that the target is meant to be shared; otherwise copy it into the project.",
)
def symlink_leaves_project(snapshot: Snapshot) -> Iterator[Outcome]:
    """Warn about each symlink in the project whose target lies outside it."""
    for installation in snapshot.installations:
        subject = app_subject(installation)
        links = [e for tree in installation.trees for e in tree.entries if e.link_leaves_project]
        for facts in links[:MAX_LISTED]:
            yield warned(
                f"file:{facts.path}",
                f"points outside the project to {facts.link_target}",
                app=installation.name,
                file=facts.path,
                target=facts.link_target,
            )
        if not links:
            yield passed(subject, "no symlink leads out of the project")
