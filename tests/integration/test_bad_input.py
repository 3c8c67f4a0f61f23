"""Malformed, hostile and unreadable input: a finding that names the file, and the run goes on."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

from mxguard.lab import example

HOSTILE = {
    "bomb.yaml": b"a: &a [x, x, x, x, x, x, x, x, x]\n"
    + b"".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n".encode()
        for i in range(8)
    ),
    "tag.yaml": b"m2ee: !!python/object/apply:os.system ['touch /tmp/mxguard-pwned']\n",
    "latin1.yaml": b"m2ee:\n  app_name: caf\xe9\n",
    "truncated.yaml": b"m2ee:\n  app_base: /srv/x\n  admin_pass: [\n",
    "list.yaml": b"- just\n- a list\n",
    "huge.yaml": b"#" * (2 * 1024 * 1024),
    "deep.yaml": b"a: " + b"[" * 5000 + b"\n",
    "empty.yaml": b"",
    "control.yaml": b"m2ee:\n  app_name: bell\x07\n",
}


def run(*args: str, user: str | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "mxguard", *args]
    if user is not None:
        command = ["/usr/sbin/runuser", "-u", user, "--", *command]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def test_every_hostile_config_becomes_a_finding_naming_it(tmp_path: Path) -> None:
    for name, raw in HOSTILE.items():
        (tmp_path / name).write_bytes(raw)
    args = [arg for name in HOSTILE for arg in ("--config", str(tmp_path / name))]

    done = run("audit", *args, "--format", "json")

    assert done.returncode in (0, 1), done.stderr
    assert "Traceback" not in done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    problems = [f for f in report["findings"] if f["check"] == "collection-problem"]
    for name in HOSTILE:
        named = [f for f in problems if name in f["message"]]
        assert named, f"no finding names {name}"
        assert all(f["status"] == "error" for f in named)
    assert not os.path.exists("/tmp/mxguard-pwned")


def test_a_broken_config_does_not_stop_the_audit_of_the_others(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root: sets file owners")
    tree = tmp_path / "tree"
    tree.mkdir()
    example.build(str(tree))
    (tree / "srv/ledger/.m2ee/m2ee.yaml").write_bytes(HOSTILE["bomb.yaml"])

    report = json.loads(run("audit", "--root", str(tree), "--format", "json").stdout)

    problems = [f for f in report["findings"] if f["check"] == "collection-problem"]
    assert any("/srv/ledger/.m2ee/m2ee.yaml" in f["message"] for f in problems)
    shop = [f for f in report["findings"] if f["subject"] == "app:shop"]
    assert {f["status"] for f in shop} >= {"pass"}


def test_unreadable_files_are_skipped_with_the_reason_never_passed(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root: builds a tree owned by other accounts")
    probe = subprocess.run(
        ["/usr/sbin/runuser", "-u", "nobody", "--", sys.executable, "-c", "import mxguard"],
        capture_output=True,
    )
    if probe.returncode != 0:
        pytest.skip("the account nobody cannot run this checkout's Python")
    # pytest's own temporary folders are closed to other accounts; this one is not.
    tree = Path(tempfile.mkdtemp(prefix="mxguard-tree-", dir="/var/tmp"))
    try:
        example.build(str(tree))
        done = run("audit", "--root", str(tree), "--format", "json", user="nobody")
    finally:
        shutil.rmtree(tree)

    assert "Traceback" not in done.stderr
    report = json.loads(done.stdout)
    # The homes of shop and reports are closed: their configs cannot even be looked for,
    # and the report says so instead of passing them.
    problem = [f for f in report["findings"] if f["check"] == "collection-problem"]
    hidden = [f for f in problem if f["status"] == "skip" and "run as root" in f["message"]]
    assert hidden and "shop" in hidden[0]["message"] and "www-data" in hidden[0]["message"]
    # ledger's config is readable but its data folder is not: that check cannot pass.
    ledger = {f["check"]: f for f in report["findings"] if f["subject"] == "app:ledger"}
    assert ledger["project-path-world-writable"]["status"] in ("skip", "fail")
    assert all(f["status"] != "pass" for f in report["findings"] if f["subject"] == "app:shop")


def test_a_broken_metadata_file_is_an_error_naming_it(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    example.build(str(tree))
    (tree / "srv/shop/model/metadata.json").write_bytes(b'{"RuntimeVersion": "9.\xff')

    report = json.loads(run("audit", "--root", str(tree), "--format", "json").stdout)

    errors = [f for f in report["findings"] if f["status"] == "error"]
    assert any("/srv/shop/model/metadata.json" in f["message"] for f in errors)


def test_a_pipe_or_device_named_as_a_file_is_refused_without_waiting(tmp_path: Path) -> None:
    # Given configs whose includes and certificate name a FIFO nobody writes to and /dev/zero
    # (opening the one blocks for ever; reading the other never ends)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    app = tmp_path / "m2ee.yaml"
    app.write_text(
        f"m2ee:\n  app_name: piped\n  app_base: {tmp_path}\ninclude:\n  - {fifo}\n  - /dev/zero\n"
    )
    nginx = tmp_path / "nginx.conf"
    nginx.write_text(
        f"events {{}}\nhttp {{ include {fifo}; include /dev/zero;\n"
        f"server {{ listen 443 ssl; ssl_certificate {fifo}; ssl_certificate_key /dev/zero;\n"
        "location / { proxy_pass http://127.0.0.1:8000; } } }\n"
    )
    apache = tmp_path / "httpd.conf"
    apache.write_text(f"Listen 443\nInclude {fifo}\nInclude /dev/zero\n")

    # When audited (the subprocess deadline in `run` is the hang detector)
    done = run(
        "audit",
        *("--config", str(app), "--proxy-config", str(nginx), "--proxy-config", str(apache)),
        "--format",
        "json",
    )

    # Then each one is a finding that names it and says what it is, and the run finishes
    assert done.returncode in (0, 1), done.stderr
    assert "Traceback" not in done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    said = [(f["check"], f["message"]) for f in report["findings"] if f["status"] != "pass"]
    for where in (str(fifo), "/dev/zero"):
        about = [check for check, message in said if where in message and "regular" in message]
        assert {"collection-problem", "proxy-config-unreadable"} <= set(about), (where, said)
    certificate = [f for f in report["findings"] if f["check"] == "tls-certificate-unusable"]
    assert certificate and all("regular" in f["message"] for f in certificate)
