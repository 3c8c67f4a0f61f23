"""Real accounts, real project folders and runtime-like processes for host-audit tests.

Everything is created with a random suffix under a fresh folder in /var/tmp, and removed
again: tests on the same machine may run at the same time.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from mxguard.lab.example import RUNTIME_VERSION, AppLayout, write_app

SYSTEM_PYTHON = "/usr/bin/python3"
HERE = os.path.dirname(os.path.abspath(__file__))


@dataclass(slots=True)
class TestAccount:
    name: str
    uid: int
    gid: int


@dataclass(slots=True)
class PreparedHost:
    """Two applications on this host: `good` hardened, `bad` wrong in every way."""

    base: str
    good: AppLayout
    bad: AppLayout
    shared: str  # a project run by `bad`'s account too, found from its process only
    rooted: str  # a project whose runtime runs as root
    webserver: str  # a project whose runtime runs as the web server's account, www-data
    accounts: dict[str, TestAccount] = field(default_factory=dict)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def create_account(name: str, home: str, *, shell: str, groups: Sequence[str] = ()) -> TestAccount:
    command = ["useradd", "--no-create-home", "--home-dir", home, "--shell", shell, "--user-group"]
    if groups:
        command += ["--groups", ",".join(groups)]
    subprocess.run([*command, name], check=True)
    import pwd

    entry = pwd.getpwnam(name)
    return TestAccount(name=name, uid=entry.pw_uid, gid=entry.pw_gid)


def remove_account(name: str) -> None:
    subprocess.run(["userdel", name], check=False, capture_output=True)


def start_runtime_like(
    account: str,
    app_base: str,
    *,
    runtime: tuple[str, int],
    admin: tuple[str, int],
    password: str,
    wrapper: str = "setpriv",
) -> subprocess.Popen[bytes]:
    """Start a process that looks like a Mendix launcher, as `account`, and wait until it listens.

    `setpriv` changes account and executes the process itself; `runuser` stays as a parent
    with the same command line, as `sudo -u` does, which discovery must see through.
    """
    launcher = f"{app_base}/runtimes/{RUNTIME_VERSION}/runtime/launcher/runtimelauncher.jar"
    script = os.path.join(os.path.dirname(app_base), "runtime_like.py")
    if not os.path.exists(script):
        shutil.copy(os.path.join(HERE, "runtime_like.py"), script)
        os.chmod(script, 0o644)
    environment = {
        "PATH": "/usr/bin:/bin",
        "M2EE_RUNTIME_LISTEN_ADDRESSES": runtime[0],
        "M2EE_RUNTIME_PORT": str(runtime[1]),
        "M2EE_ADMIN_LISTEN_ADDRESSES": admin[0],
        "M2EE_ADMIN_PORT": str(admin[1]),
        "M2EE_ADMIN_PASS": password,
    }
    command = [SYSTEM_PYTHON, script, "-jar", launcher, app_base]
    if account != "root" and wrapper == "runuser":
        command = ["/usr/sbin/runuser", "-u", account, "--", *command]
    elif account != "root":
        command = [
            "/usr/bin/setpriv",
            f"--reuid={account}",
            f"--regid={account}",
            "--init-groups",
            *command,
        ]
    process = subprocess.Popen(command, env=environment, stdout=subprocess.PIPE)
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line.strip() == b"ready", f"runtime-like process did not start: {line!r}"
    return process


def attempt_access(account: str, paths: Sequence[str]) -> dict[str, dict[str, bool]]:
    """Really try to read and write each path as `account`; return what the kernel allowed."""
    probe = r"""
import json, os, sys
results = {}
for path in json.load(sys.stdin):
    outcome = {"read": False, "write": False}
    try:
        if os.path.isdir(path):
            os.listdir(path)
        else:
            with open(path, "rb") as handle:
                handle.read(1)
        outcome["read"] = True
    except OSError:
        pass
    try:
        if os.path.isdir(path):
            probe = os.path.join(path, ".mxguard-write-probe")
            with open(probe, "x"):
                pass
            os.unlink(probe)
        else:
            with open(path, "r+b"):
                pass
        outcome["write"] = True
    except OSError:
        pass
    results[path] = outcome
json.dump(results, sys.stdout)
"""
    done = subprocess.run(
        ["/usr/sbin/runuser", "-u", account, "--", SYSTEM_PYTHON, "-c", probe],
        input=json.dumps(list(paths)).encode(),
        capture_output=True,
        check=True,
        timeout=60,
    )
    return dict(json.loads(done.stdout))


@contextlib.contextmanager
def prepared_host() -> Iterator[PreparedHost]:
    """Create the two applications, their accounts and their processes; remove them after."""
    suffix = secrets.token_hex(3)
    base = tempfile.mkdtemp(prefix="mxguard-host-", dir="/var/tmp")
    os.chmod(base, 0o755)
    good_home, bad_home = f"{base}/good", f"{base}/bad"
    names = {"good": f"mxg{suffix}g", "bad": f"mxg{suffix}b"}
    host: PreparedHost | None = None
    try:
        good = create_account(names["good"], good_home, shell="/usr/sbin/nologin")
        bad = create_account(names["bad"], bad_home, shell="/bin/bash", groups=["sudo"])
        subprocess.run(["usermod", "--password", "$6$mxguard$notarealhash", bad.name], check=True)

        good_app = AppLayout(
            name=f"good{suffix}",
            home=good_home,
            uid=good.uid,
            gid=good.gid,
            runtime_port=free_port(),
            admin_port=free_port(),
            hardened=True,
        )
        bad_app = AppLayout(
            name=f"bad{suffix}",
            home=bad_home,
            uid=bad.uid,
            gid=bad.gid,
            runtime_port=free_port(),
            admin_port=free_port(),
            hardened=False,
            admin_pass="password",
            intruder_uid=good.uid,
        )
        write_app("/", good_app)
        write_app("/", bad_app)
        shared, rooted, webserver = f"{base}/shared", f"{base}/rooted", f"{base}/webserver"
        for folder, owner in ((shared, bad), (rooted, None), (webserver, None)):
            os.makedirs(f"{folder}/model", mode=0o700)
            if owner is not None:
                for path in (folder, f"{folder}/model"):
                    os.chown(path, owner.uid, owner.gid)

        host = PreparedHost(
            base=base,
            good=good_app,
            bad=bad_app,
            shared=shared,
            rooted=rooted,
            webserver=webserver,
            accounts={"good": good, "bad": bad},
        )
        host.processes.append(
            start_runtime_like(
                good.name,
                good_home,
                runtime=("127.0.0.1,::1", good_app.runtime_port),
                admin=("127.0.0.1,::1", good_app.admin_port),
                password=good_app.admin_pass,
            )
        )
        # Started with loopback although its config now says "*": a contradiction to find.
        host.processes.append(
            start_runtime_like(
                bad.name,
                bad_home,
                runtime=("127.0.0.1", bad_app.runtime_port),
                admin=("0.0.0.0", bad_app.admin_port),
                password="password",
            )
        )
        host.processes.append(
            start_runtime_like(
                bad.name,
                shared,
                runtime=("0.0.0.0", free_port()),
                admin=("127.0.0.1", free_port()),
                password="shared-admin-password",
                wrapper="runuser",
            )
        )
        host.processes.append(
            start_runtime_like(
                "www-data",
                webserver,
                runtime=("127.0.0.1", free_port()),
                admin=("127.0.0.1", free_port()),
                password=secrets.token_urlsafe(32),
            )
        )
        host.processes.append(
            start_runtime_like(
                "root",
                rooted,
                runtime=("127.0.0.1", free_port()),
                admin=("127.0.0.1", free_port()),
                password=secrets.token_urlsafe(32),
            )
        )
        yield host
    finally:
        if host is not None:
            for process in host.processes:
                process.terminate()
            for process in host.processes:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=10)
                if process.stdout is not None:
                    process.stdout.close()
        for name in names.values():
            remove_account(name)
        shutil.rmtree(base, ignore_errors=True)


def copy_tree(host: PreparedHost, destination: str) -> None:
    """Copy the host's account files and the test's projects into an offline tree."""
    os.chmod(destination, 0o755)
    etc = os.path.join(destination, "etc")
    os.makedirs(etc)
    for name in ("passwd", "group", "shadow", "hostname"):
        if os.path.exists(f"/etc/{name}"):
            subprocess.run(["cp", "-a", f"/etc/{name}", etc], check=True)
    parent = destination + os.path.dirname(host.base)
    os.makedirs(parent)
    for original in ("/var", "/var/tmp"):
        os.chmod(destination + original, os.stat(original).st_mode & 0o7777)
    subprocess.run(["cp", "-a", host.base, parent], check=True)
