"""Ownership, modes and POSIX ACLs of an installation's files, read without following links."""

from __future__ import annotations

import logging
import os
import posixpath
import stat
from collections.abc import Collection, Iterator

import posix1e

from mxguard.discovery.rootfs import Root
from mxguard.facts import AclEntry, PathFacts, TreeFacts

logger = logging.getLogger(__name__)

MAX_ENTRIES_PER_TREE = 20_000
MAX_DEPTH = 64

_ACL_TAGS = {
    posix1e.ACL_USER_OBJ: "user_obj",
    posix1e.ACL_USER: "user",
    posix1e.ACL_GROUP_OBJ: "group_obj",
    posix1e.ACL_GROUP: "group",
    posix1e.ACL_MASK: "mask",
    posix1e.ACL_OTHER: "other",
}


def examine(root: Root, host_path: str, *, project: str | None = None) -> PathFacts:
    """Return the facts of `host_path`; a symlink is described, never followed."""
    real = root.real(host_path)
    try:
        info = os.lstat(real)
    except FileNotFoundError:
        return PathFacts(path=host_path, kind="missing")
    except OSError as exc:
        return PathFacts(path=host_path, kind="other", error=exc.strerror or str(exc))

    mode = stat.S_IMODE(info.st_mode)
    if stat.S_ISLNK(info.st_mode):
        return _symlink(real, host_path, project=project, uid=info.st_uid, gid=info.st_gid)

    kind = (
        "dir" if stat.S_ISDIR(info.st_mode) else "file" if stat.S_ISREG(info.st_mode) else "other"
    )
    acl, acl_error = _acl(real)
    return PathFacts(
        path=host_path,
        kind=kind,
        uid=info.st_uid,
        gid=info.st_gid,
        mode=mode,
        acl=acl,
        acl_error=acl_error,
    )


def walk(
    root: Root, role: str, host_root: str, *, project: str, skip: Collection[str] = ()
) -> TreeFacts:
    """Return the facts of `host_root` and everything below it, up to a limit.

    Paths in `skip` are left out with everything below them (another tree covers them).
    """
    top = examine(root, host_root, project=project)
    if top.kind == "missing":
        return TreeFacts(role=role, root=host_root, is_present=False)

    entries = [top]
    truncated = False
    unlisted: list[str] = []
    for path in _below(root, host_root, skip, unlisted) if top.kind == "dir" else ():
        if len(entries) >= MAX_ENTRIES_PER_TREE:
            truncated = True
            logger.warning("%s: stopped after %d entries", host_root, MAX_ENTRIES_PER_TREE)
            break
        entries.append(examine(root, path, project=project))
    return TreeFacts(
        role=role,
        root=host_root,
        entries=tuple(entries),
        is_truncated=truncated,
        unlisted=tuple(unlisted),
    )


def ancestors(root: Root, host_path: str) -> list[PathFacts]:
    """Return the facts of every folder above `host_path`, from `/` down."""
    chain = []
    current = posixpath.dirname(host_path.rstrip("/")) or "/"
    while True:
        chain.append(examine(root, current))
        if current == "/":
            break
        current = posixpath.dirname(current)
    return chain[::-1]


def _below(root: Root, host_root: str, skip: Collection[str], unlisted: list[str]) -> Iterator[str]:
    # An explicit stack instead of recursion: deep trees must not exhaust the interpreter.
    stack = [(host_root, 0)]
    while stack:
        folder, depth = stack.pop()
        try:
            with os.scandir(root.real(folder)) as listing:
                children = sorted(listing, key=lambda entry: entry.name)
        except OSError as exc:
            logger.warning("cannot list %s: %s", folder, exc.strerror)
            unlisted.append(folder)
            continue
        for child in children:
            path = posixpath.join(folder, child.name)
            if path in skip:
                continue
            yield path
            if not child.is_dir(follow_symlinks=False):
                continue
            if depth < MAX_DEPTH:
                stack.append((path, depth + 1))
            else:
                logger.warning("%s: deeper than %d levels; not examined", path, MAX_DEPTH)
                unlisted.append(path)


def _symlink(real: str, host_path: str, *, project: str | None, uid: int, gid: int) -> PathFacts:
    try:
        target = os.readlink(real)
    except OSError as exc:
        return PathFacts(path=host_path, kind="symlink", uid=uid, gid=gid, error=exc.strerror or "")
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(host_path), target))
    leaves = project is not None and not (
        resolved == project or resolved.startswith(project.rstrip("/") + "/")
    )
    return PathFacts(
        path=host_path,
        kind="symlink",
        uid=uid,
        gid=gid,
        link_target=target,
        link_leaves_project=leaves,
    )


def _acl(real: str) -> tuple[tuple[AclEntry, ...], str]:
    try:
        if not posix1e.has_extended(real):
            return (), ""
        acl = posix1e.ACL(file=real)
    except OSError as exc:
        return (), f"cannot read the ACL: {exc.strerror}"

    entries = []
    for entry in acl:
        perms = (
            (4 if entry.permset.read else 0)
            | (2 if entry.permset.write else 0)
            | (1 if entry.permset.execute else 0)
        )
        qualifier = (
            entry.qualifier if entry.tag_type in (posix1e.ACL_USER, posix1e.ACL_GROUP) else None
        )
        entries.append(
            AclEntry(tag=_ACL_TAGS.get(entry.tag_type, "unknown"), qualifier=qualifier, perms=perms)
        )
    return tuple(entries), ""
