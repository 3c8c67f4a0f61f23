"""The exceptions mxguard raises, in one tree.

```
MxguardError                 anything mxguard raises on purpose
├── UsageError               the command line or an option is wrong (exit code 2)
├── ConfigError              a configuration file cannot be read or understood
│   └── UnsafeConfigError    the file is hostile: too big, too deep, alias bombs, tags
├── FactsError               a facts snapshot cannot be read or is of another version
└── CollectError             a collector could not gather what it needed
```

Exceptions from libraries are wrapped with `raise ... from` at the boundary where mxguard
knows which file, URL or account was involved, so that messages name it.
"""

from __future__ import annotations


class MxguardError(Exception):
    """Base class of every error mxguard raises on purpose."""


class UsageError(MxguardError):
    """The command line or an option value is wrong."""


class ConfigError(MxguardError):
    """A configuration file cannot be read or understood.

    `path` names the file and `line` the line (1-based) when it is known.
    """

    def __init__(self, message: str, *, path: str, line: int | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.line = line

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.args[0]}"


class UnsafeConfigError(ConfigError):
    """A configuration file was refused because reading it could exhaust the machine."""


class FactsError(MxguardError):
    """A facts snapshot cannot be read, or was written by an incompatible version."""


class CollectError(MxguardError):
    """A collector could not gather the facts it is responsible for."""
