"""Who may read or write a path, decided from facts the way the Linux kernel decides it.

The kernel picks exactly one class for a process: the owner, else a matching named-user
ACL entry, else the group class (the owning group and named-group entries, any of which
may grant), else others. ACL entries other than the owner's and others' are limited by the
mask. Reaching a path also needs search permission on every folder above it.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from dataclasses import dataclass

from mxguard.facts import Account, PathFacts

READ = 4
WRITE = 2
SEARCH = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class Grant:
    """The permission bits an account holds on a path, and the class that granted them."""

    perms: int
    via: str  # owner | acl-user | group | acl-group | other | root


def grant(account: Account, facts: PathFacts) -> Grant:
    """Return the permission bits `account` holds on `facts`, ignoring the folders above."""
    if account.uid == 0:
        return Grant(perms=READ | WRITE | SEARCH, via="root")
    if account.uid == facts.uid:
        return Grant(perms=(facts.mode >> 6) & 7, via="owner")

    entries = facts.acl
    if not entries:
        if facts.gid in account.gids:
            return Grant(perms=(facts.mode >> 3) & 7, via="group")
        return Grant(perms=facts.mode & 7, via="other")

    mask = next((e.perms for e in entries if e.tag == "mask"), 7)
    named_user = next((e for e in entries if e.tag == "user" and e.qualifier == account.uid), None)
    if named_user is not None:
        return Grant(perms=named_user.perms & mask, via="acl-user")

    matching = [
        e
        for e in entries
        if (e.tag == "group_obj" and facts.gid in account.gids)
        or (e.tag == "group" and e.qualifier in account.gids)
    ]
    if matching:
        perms = 0
        for entry in matching:
            perms |= entry.perms
        named = any(e.tag == "group" for e in matching)
        return Grant(perms=perms & mask, via="acl-group" if named else "group")

    other = next((e.perms for e in entries if e.tag == "other"), facts.mode & 7)
    return Grant(perms=other, via="other")


def blocking_folder(
    account: Account, path: str, index: Mapping[str, PathFacts]
) -> str | None | bool:
    """Return the first folder above `path` that `account` cannot search.

    Returns None when every folder above is searchable, and False when a folder above is
    missing from `index`, so the answer is unknown.
    """
    current = posixpath.dirname(path.rstrip("/")) or "/"
    chain = []
    while True:
        chain.append(current)
        if current == "/":
            break
        current = posixpath.dirname(current)
    for folder in reversed(chain):
        facts = index.get(folder)
        if facts is None:
            return False
        if facts.kind == "symlink":
            continue
        if not grant(account, facts).perms & SEARCH:
            return folder
    return None


def effective(account: Account, facts: PathFacts, index: Mapping[str, PathFacts]) -> int | None:
    """Return the bits `account` can use on `facts`, folders above included; None if unknown."""
    blocked = blocking_folder(account, facts.path, index)
    if blocked is False:
        return None
    if blocked:
        return 0
    return grant(account, facts).perms
