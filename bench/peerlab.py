"""What the benchmark scripts share: a throw-away venv for peer tools, timing, stopping, tables.

Peer tools are run only as outside processes. The Python ones (sslyze, gixy-ng) go into a
venv of their own under bench/.venv-peers/, never into the project's lock: their licences
(AGPL-3.0, MPL-2.0) differ from ours, and a benchmark must not change what mxguard ships.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
PEER_VENV = BENCH / ".venv-peers"
SYSTEM_PYTHON = "/usr/bin/python3"


def peer_venv(packages: Sequence[str]) -> Path | None:
    """Return the peer venv's bin folder with `packages` installed, or None when pip fails.

    The venv is made with the system Python on first use; packages already there are not
    fetched again. pip's certificate comes from PIP_CERT when set (as on the build machine).
    """
    python = PEER_VENV / "bin" / "python"
    if not python.exists():
        made = subprocess.run(
            [SYSTEM_PYTHON, "-m", "venv", str(PEER_VENV)], capture_output=True, text=True
        )
        if made.returncode != 0:
            print(f"cannot make {PEER_VENV}: {made.stderr.strip()[-500:]}")
            return None
    missing = [p for p in packages if not _installed(python, p)]
    if missing:
        print(f"installing {', '.join(missing)} into {PEER_VENV} ...", file=sys.stderr)
        command = [str(python), "-m", "pip", "install", "--quiet", *missing]
        cert = os.environ.get("PIP_CERT")
        if cert:
            command[4:4] = ["--cert", cert]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            print(f"pip install {' '.join(missing)} failed:\n{done.stderr[-2000:]}")
            return None
    return python.parent


def _installed(python: Path, package: str) -> bool:
    done = subprocess.run(
        [str(python), "-m", "pip", "show", "--quiet", package],
        capture_output=True,
        check=False,
    )
    return done.returncode == 0


def package_version(bin_folder: Path, package: str) -> str:
    """Return the installed version of `package` in the venv of `bin_folder`."""
    done = subprocess.run(
        [str(bin_folder / "python"), "-m", "pip", "show", package],
        capture_output=True,
        text=True,
        check=False,
    )
    for line in done.stdout.splitlines():
        if line.startswith("Version:"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def debian_package(name: str, command: str) -> str | None:
    """Return the path of `command`, installing Debian package `name` when root and missing."""
    found = shutil.which(command)
    if found or os.geteuid() != 0:
        return found
    print(f"installing Debian package {name} ...", file=sys.stderr)
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", name],
        capture_output=True,
        env=environment,
        check=False,
    )
    return shutil.which(command)


def free_port(address: str = "127.0.0.1") -> int:
    """Return a TCP port on `address` that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind((address, 0))
        return int(probe.getsockname()[1])


def wait_for_port(address: str, port: int, timeout: float = 15.0) -> None:
    """Wait until something accepts connections on `address:port`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((address, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {address}:{port}")


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a process this script started, by its pid (TERM, then KILL after 5 s)."""
    if process.poll() is None:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


@dataclass
class Timed:
    """One timed run of an outside command."""

    seconds: float
    returncode: int
    stdout: str
    stderr: str


def run_timed(command: Sequence[str], *, timeout: float, cwd: str | None = None) -> Timed:
    """Run `command`, wall-clock timed; a run over `timeout` is killed and reported as -9."""
    started = time.perf_counter()
    process = subprocess.Popen(
        list(command),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        start_new_session=True,  # its children (testssl forks many) are its own group
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # the group this script just created
        stdout, stderr = process.communicate()
        return Timed(time.perf_counter() - started, -9, stdout, stderr)
    return Timed(time.perf_counter() - started, process.returncode, stdout, stderr)


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Return a small Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def seconds(value: float) -> str:
    """Format a duration: ms below 1 s, else seconds with one decimal."""
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.1f} s"
