"""Accounts and groups of the audited host, from NSS when live or from a tree's files."""

from __future__ import annotations

import grp
import logging
import pwd
from collections import defaultdict
from collections.abc import Iterable

from mxguard.discovery.rootfs import Root
from mxguard.facts import Account, Visibility
from mxguard.safeio import open_regular

logger = logging.getLogger(__name__)

_NO_LOGIN_SHELLS = frozenset(
    {"/usr/sbin/nologin", "/sbin/nologin", "/bin/false", "/usr/bin/false", "/bin/sync", ""}
)


def read_accounts(root: Root) -> tuple[tuple[Account, ...], Visibility]:
    """Return every account of the host and whether password states could be read."""
    if root.is_live:
        users = [(p.pw_name, p.pw_uid, p.pw_gid, p.pw_dir, p.pw_shell) for p in pwd.getpwall()]
        groups = [(g.gr_name, g.gr_gid, tuple(g.gr_mem)) for g in grp.getgrall()]
    else:
        users = list(_passwd_file(root.open_path("/etc/passwd")))
        groups = list(_group_file(root.open_path("/etc/group")))
    states, shadow = _password_states(root)

    names_by_gid = {gid: name for name, gid, _ in groups}
    member_of: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for name, gid, members in groups:
        for member in members:
            member_of[member].append((name, gid))

    accounts = []
    for name, uid, gid, home, shell in users:
        primary = [(names_by_gid.get(gid, str(gid)), gid)]
        memberships = primary + [m for m in member_of.get(name, []) if m[1] != gid]
        accounts.append(
            Account(
                name=name,
                uid=uid,
                gid=gid,
                home=home,
                shell=shell,
                groups=tuple(group for group, _ in memberships),
                gids=tuple(group_id for _, group_id in memberships),
                has_login_shell=shell not in _NO_LOGIN_SHELLS,
                password_state=states.get(name, "unknown"),
            )
        )
    return tuple(accounts), shadow


def _passwd_file(path: str) -> Iterable[tuple[str, int, int, str, str]]:
    for fields in _colon_file(path, 7):
        try:
            yield fields[0], int(fields[2]), int(fields[3]), fields[5], fields[6]
        except ValueError:
            logger.warning("%s: skipping an entry with a non-numeric id: %s", path, fields[0])


def _group_file(path: str) -> Iterable[tuple[str, int, tuple[str, ...]]]:
    for fields in _colon_file(path, 4):
        try:
            members = tuple(member for member in fields[3].split(",") if member)
            yield fields[0], int(fields[2]), members
        except ValueError:
            logger.warning("%s: skipping an entry with a non-numeric id: %s", path, fields[0])


def _colon_file(path: str, width: int) -> Iterable[list[str]]:
    try:
        with open_regular(path, "r", encoding="utf-8", errors="replace") as handle:
            lines = handle.read(16 * 1024 * 1024).splitlines()
    except OSError as exc:
        logger.warning("cannot read %s: %s", path, exc.strerror)
        return
    for line in lines:
        if not line or line.startswith("#"):
            continue
        fields = line.split(":")
        if len(fields) >= width:
            yield fields


def _password_states(root: Root) -> tuple[dict[str, str], Visibility]:
    # Only the state is kept: whether a password could be used to log in, never the hash.
    path = root.open_path("/etc/shadow")
    try:
        with open_regular(path, "r", encoding="utf-8", errors="replace") as handle:
            lines = handle.read(16 * 1024 * 1024).splitlines()
    except PermissionError:
        return {}, Visibility(is_visible=False, reason="/etc/shadow is readable only by root")
    except OSError as exc:
        return {}, Visibility(is_visible=False, reason=f"/etc/shadow: {exc.strerror}")

    states = {}
    for line in lines:
        fields = line.split(":")
        if len(fields) < 2:
            continue
        hashed = fields[1]
        if hashed == "":
            states[fields[0]] = "empty"
        elif hashed.startswith(("!", "*")):
            states[fields[0]] = "locked"
        else:
            states[fields[0]] = "usable"
    return states, Visibility(is_visible=True)
