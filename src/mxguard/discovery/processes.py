"""Running Mendix runtime processes, recognised from their command lines.

Three generations of runtime look different on the process table:

- Mendix 7 and later run `…/runtime/launcher/runtimelauncher.jar APP_BASE`;
- Mendix 5 and 6 run Felix (`org.apache.felix.main.Main`) with
  `-Dfelix.config.properties=file:APP_BASE/model/felixconfig.properties`;
- Mendix 3 and 4 run the class `com.mendix.m2ee.server.HttpAdminAppContainer`.

m2ee passes the admin password and listen settings in the environment, so the environment
of a runtime (readable by its own account and by root) tells what the runtime was really
given. Only facts derived from it are kept.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass

import psutil

from mxguard.facts import Visibility

logger = logging.getLogger(__name__)

LAUNCHER_JAR = "runtimelauncher.jar"
FELIX_MAIN = "org.apache.felix.main.Main"
CONTAINER_MAIN = "com.mendix.m2ee.server.HttpAdminAppContainer"
_FELIX_CONFIG = re.compile(r"-Dfelix\.config\.properties=(?:file:)?(?P<base>.+)/model/")
_VERSION_IN_PATH = re.compile(r"/(?P<version>\d+\.\d+\.\d+(?:\.\d+)?)/runtime/")
_SECRET_ARGUMENT = re.compile(r"(?i)^(?P<name>-D?[^=]*(?:pass|secret|token|key)[^=]*=).+$")
ENVIRONMENT_KEYS = (
    "M2EE_ADMIN_PORT",
    "M2EE_ADMIN_PASS",
    "M2EE_ADMIN_LISTEN_ADDRESSES",
    "M2EE_RUNTIME_PORT",
    "M2EE_RUNTIME_LISTEN_ADDRESSES",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class RuntimeProcess:
    """A runtime process as seen on the process table; `environment` holds secrets."""

    pid: int
    uid: int
    user: str
    argv: tuple[str, ...]
    generation: str
    app_base: str | None
    runtime_version: str | None
    environment: dict[str, str] | None  # only the M2EE_* keys; None when not readable

    @property
    def masked_command(self) -> str:
        """Return the command line with values of secret-looking arguments masked."""
        return " ".join(_SECRET_ARGUMENT.sub(r"\g<name>***", arg) for arg in self.argv)


def classify(argv: Sequence[str]) -> tuple[str, str | None] | None:
    """Return the runtime generation and app base a command line shows, or None."""
    for index, arg in enumerate(argv):
        if arg.endswith(LAUNCHER_JAR):
            following = [a for a in argv[index + 1 :] if not a.startswith("-")]
            return "launcher", following[0].rstrip("/") if following else None
    if FELIX_MAIN in argv:
        base = next((m.group("base") for a in argv if (m := _FELIX_CONFIG.match(a))), None)
        return "felix", base
    if CONTAINER_MAIN in argv:
        return "container", None
    return None


def runtime_version_of(argv: Sequence[str]) -> str | None:
    """Return the runtime version named by a `…/VERSION/runtime/…` path, or None."""
    for arg in argv:
        for piece in arg.split(":"):
            if match := _VERSION_IN_PATH.search(piece):
                return match.group("version")
    return None


def find_runtime_processes() -> tuple[list[RuntimeProcess], Visibility]:
    """Return the runtime processes of this host and how completely they could be seen."""
    found = []
    hidden = 0
    parents: dict[int, int] = {}
    for process in psutil.process_iter(["pid", "ppid", "cmdline", "uids", "username", "cwd"]):
        try:
            argv = process.info["cmdline"] or []
            recognised = classify(argv)
            if recognised is None:
                continue
            generation, app_base = recognised
            parents[process.pid] = process.info["ppid"]
            if app_base is None and generation == "container":
                app_base = process.info["cwd"]
            found.append(
                RuntimeProcess(
                    pid=process.pid,
                    uid=process.info["uids"].real,
                    user=process.info["username"] or str(process.info["uids"].real),
                    argv=tuple(argv),
                    generation=generation,
                    app_base=app_base,
                    runtime_version=runtime_version_of(argv),
                    environment=_environment(process),
                )
            )
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
        except psutil.AccessDenied:
            hidden += 1

    # A wrapper (runuser, sudo, a shell) shows its child's command line; the child is the
    # runtime, so a recognised process whose child is recognised too is left out.
    wrappers = set(parents.values())
    found = [process for process in found if process.pid not in wrappers]

    if hidden:
        reason = f"{hidden} processes could not be examined; run as root to see them all"
        return found, Visibility(is_visible=True, reason=reason)
    return found, Visibility(is_visible=True)


def _environment(process: psutil.Process) -> dict[str, str] | None:
    try:
        environment = process.environ()
    except (psutil.AccessDenied, psutil.ZombieProcess):
        return None
    return {key: environment[key] for key in ENVIRONMENT_KEYS if key in environment}
