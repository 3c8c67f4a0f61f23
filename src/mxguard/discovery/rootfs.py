"""Paths of the audited host, seen either live (`/`) or inside a `--root` tree.

Facts name paths as the audited host sees them (`/srv/shop/model`); `Root` turns such a
path into the path to open on this machine. Inside a tree, symlinks are resolved as if the
tree were `/`, so a hostile image cannot make mxguard read this machine's own files.
"""

from __future__ import annotations

import os
import posixpath

MAX_LINK_HOPS = 40


class Root:
    """The top of the filesystem being audited."""

    def __init__(self, directory: str = "/") -> None:
        self.directory = os.path.abspath(directory)
        self.is_live = self.directory == "/"

    def real(self, host_path: str) -> str:
        """Return where `host_path` is on this machine, without resolving symlinks."""
        if self.is_live:
            return host_path
        return os.path.join(self.directory, host_path.lstrip("/"))

    def view_of(self, path: str) -> str:
        """Return a path named on this machine as the audited host sees it.

        A path inside the tree loses the tree's folder (`/mnt/image/etc/x` is `/etc/x`);
        any other path is taken as already written the host's way.
        """
        absolute = os.path.abspath(path)
        top = self.directory.rstrip("/") + "/"
        if not self.is_live and absolute.startswith(top):
            return "/" + absolute[len(top) :]
        return absolute

    def resolve(self, host_path: str) -> str:
        """Return `host_path` with every symlink resolved inside the tree, as a host path.

        Raises `OSError` (ELOOP) after too many links, as the kernel would.
        """
        if self.is_live:
            return os.path.realpath(host_path)

        pending = [part for part in host_path.split("/") if part]
        resolved = "/"
        hops = 0
        while pending:
            part = pending.pop(0)
            if part == ".":
                continue
            if part == "..":
                resolved = posixpath.dirname(resolved)
                continue
            candidate = posixpath.join(resolved, part)
            real = self.real(candidate)
            if not os.path.islink(real):
                resolved = candidate
                continue
            hops += 1
            if hops > MAX_LINK_HOPS:
                raise OSError(40, "too many levels of symbolic links", host_path)
            target = os.readlink(real)
            if target.startswith("/"):
                resolved = "/"
            pending = [p for p in target.split("/") if p] + pending
        return resolved

    def open_path(self, host_path: str) -> str:
        """Return the path on this machine to open for `host_path`, links resolved safely."""
        return self.real(self.resolve(host_path))
