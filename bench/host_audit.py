"""How long the host audit takes for many applications, and what a peer takes on one host.

Builds a `--root` tree with N example applications (half hardened, half not), then times
`collect` + `evaluate` in this process, best of several rounds. When Lynis is installed, it
also times Lynis's file-permission tests on this machine for scale: Lynis cannot audit a
tree, does not know Mendix, and checks other things, so the figure is context, not a race.

    .venv/bin/python bench/host_audit.py [--apps 48] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
import time

from mxguard import engine
from mxguard.lab.example import AppLayout, write_app


def build(folder: str, apps: int) -> None:
    os.chmod(folder, 0o755)
    os.makedirs(f"{folder}/etc")
    passwd = ["root:x:0:0:root:/root:/bin/bash\n"]
    group = ["root:x:0:\n"]
    for index in range(apps):
        uid = 2000 + index
        name = f"app{index:03d}"
        passwd.append(f"{name}:x:{uid}:{uid}::/srv/{name}:/usr/sbin/nologin\n")
        group.append(f"{name}:x:{uid}:\n")
        write_app(
            folder,
            AppLayout(
                name=name,
                home=f"/srv/{name}",
                uid=uid,
                gid=uid,
                runtime_port=8000 + index,
                admin_port=9000 + index,
                hardened=index % 2 == 0,
                intruder_uid=2000,
            ),
        )
    with open(f"{folder}/etc/passwd", "w") as handle:
        handle.writelines(passwd)
    with open(f"{folder}/etc/group", "w") as handle:
        handle.writelines(group)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--apps", type=int, default=48)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    folder = tempfile.mkdtemp(prefix="mxguard-bench-")
    try:
        build(folder, args.apps)
        timings = []
        for _ in range(args.rounds):
            started = time.perf_counter()
            snapshot = engine.collect(engine.AuditOptions(root=folder))
            report = engine.evaluate([snapshot])
            timings.append(time.perf_counter() - started)
        paths = sum(len(t.entries) for i in snapshot.installations for t in i.trees)
        median = sorted(timings)[len(timings) // 2]
        print(
            f"mxguard: {args.apps} apps, {paths} paths, {len(report.findings)} findings: "
            f"best {min(timings) * 1000:.0f} ms, median {median * 1000:.0f} ms"
        )
    finally:
        shutil.rmtree(folder)

    lynis = shutil.which("lynis")
    if lynis:
        started = time.perf_counter()
        subprocess.run(
            [
                lynis,
                "audit",
                "system",
                "--quick",
                "--no-colors",
                "--tests-from-group",
                "file_permissions",
            ],
            capture_output=True,
            check=False,
        )
        print(f"lynis file_permissions group on this host: {time.perf_counter() - started:.2f} s")
    else:
        print("lynis: not installed (apt-get install lynis) — no peer figure")


if __name__ == "__main__":
    main()
