"""Opening files that other accounts may control, without hanging on them.

A configuration, an include or a certificate path can name a FIFO, a terminal or a device
instead of a file, by mistake or on purpose: opening a FIFO blocks until someone writes, and
`/dev/zero` never ends. Every file mxguard reads from the audited host is opened here, and
anything but a regular file is refused with an `OSError` whose `strerror` says what it is.
The check is made on the open descriptor, so the file cannot be swapped in between.
"""

from __future__ import annotations

import errno
import os
import stat
from typing import IO, Any, BinaryIO, Literal, TextIO, overload

_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC


class NotRegularFileError(OSError):
    """The path names a folder, device, pipe or socket rather than a file."""


@overload
def open_regular(path: str, mode: Literal["rb"] = "rb") -> BinaryIO: ...


@overload
def open_regular(
    path: str, mode: Literal["r"], *, encoding: str, errors: str | None = None
) -> TextIO: ...


def open_regular(
    path: str, mode: str = "rb", *, encoding: str | None = None, errors: str | None = None
) -> IO[Any]:
    """Open `path` for reading like `open()`, refusing anything but a regular file."""
    descriptor = os.open(path, _FLAGS)
    try:
        kind = os.fstat(descriptor).st_mode
        if not stat.S_ISREG(kind):
            what = "a folder" if stat.S_ISDIR(kind) else "a device, pipe or socket"
            raise NotRegularFileError(errno.EINVAL, f"not a regular file ({what})", path)
        os.set_blocking(descriptor, True)
        return open(descriptor, mode, encoding=encoding, errors=errors)  # noqa: SIM115
    except BaseException:
        os.close(descriptor)
        raise
