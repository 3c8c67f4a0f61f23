"""The host audit on a real host: real accounts, files, ACLs and runtime-like processes.

Given two applications prepared on this machine — one hardened, one wrong in every way the
host audit looks for — plus a project sharing the bad one's account and one run by root,
`mxguard audit` must report every misconfiguration with its evidence, nothing against the
hardened one, and every permission verdict must agree with what the kernel really allows.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from typing import Any

import pytest
from hostlab import PreparedHost, attempt_access, copy_tree, prepared_host

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root: creates accounts")


def mxguard(*args: str, user: str | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "mxguard", *args]
    if user is not None and _can_run_as(user):
        command = ["/usr/sbin/runuser", "-u", user, "--", *command]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def _can_run_as(user: str) -> bool:
    # A clone under a folder closed to other accounts cannot be run by them; then as root.
    probe = ["/usr/sbin/runuser", "-u", user, "--", sys.executable, "-c", "import mxguard"]
    return subprocess.run(probe, capture_output=True).returncode == 0


@pytest.fixture(scope="module")
def host() -> Iterator[PreparedHost]:
    with prepared_host() as prepared:
        yield prepared


@pytest.fixture(scope="module")
def report(host: PreparedHost) -> dict[str, Any]:
    done = mxguard("audit", "--format", "json")
    assert done.returncode == 1, done.stderr  # failures at or above `high` exist
    return dict(json.loads(done.stdout))


def about(report: dict[str, Any], name: str, base: str) -> list[dict[str, Any]]:
    """Return the findings about the application `name` whose project is `base`."""
    return [
        f
        for f in report["findings"]
        if f["subject"] == f"app:{name}"
        or f["evidence"].get("app") == name
        or f["subject"].startswith(f"file:{base}/")
        or f["subject"] == f"file:{base}"
    ]


def statuses(findings: list[dict[str, Any]], status: str) -> set[str]:
    return {f["check"] for f in findings if f["status"] == status}


def test_the_hardened_application_has_no_failure(
    host: PreparedHost, report: dict[str, Any]
) -> None:
    # Given the hardened application, when audited, then nothing fails or warns about it.
    good = about(report, host.good.name, host.good.app_base)
    assert statuses(good, "fail") == set()
    assert statuses(good, "warn") == set()
    assert statuses(good, "error") == set()
    assert "private-files-reachable-by-other-app" in statuses(good, "pass")
    assert "admin-port-bound-beyond-loopback" in statuses(good, "pass")
    assert {
        "runtime-listen-config-contradicts-socket",
        "admin-listen-config-contradicts-socket",
    } <= statuses(good, "pass")


def test_every_misconfiguration_of_the_bad_application_is_reported(
    host: PreparedHost, report: dict[str, Any]
) -> None:
    bad = about(report, host.bad.name, host.bad.app_base)
    assert statuses(bad, "fail") >= {
        "runtime-account-is-administrator",
        "account-shared-between-apps",
        "private-files-owned-by-another-account",
        "private-files-open-to-group-or-others",
        "private-files-reachable-by-other-app",
        "web-folder-writable-by-others",
        "project-path-world-writable",
        "runtime-port-listens-beyond-loopback",
        "runtime-listen-config-contradicts-socket",
        "admin-port-listens-beyond-loopback",
        "admin-port-bound-beyond-loopback",
        "admin-password-weak",
        "monitoring-password-weak",
        "dtap-mode-not-production",
    }
    assert statuses(bad, "warn") >= {"app-account-can-log-in", "symlink-leaves-project"}


def test_findings_carry_evidence_naming_file_process_and_account(
    host: PreparedHost, report: dict[str, Any]
) -> None:
    bad = about(report, host.bad.name, host.bad.app_base)
    config = f"{host.bad.app_base}/.m2ee/m2ee.yaml"
    by_check = {f["check"]: f for f in bad if f["status"] == "fail"}

    listen = by_check["admin-port-listens-beyond-loopback"]["evidence"]
    assert listen["file"] == config and listen["line"] == 7

    bound = by_check["admin-port-bound-beyond-loopback"]["evidence"]
    assert any(entry.startswith(f"0.0.0.0:{host.bad.admin_port} (pid ") for entry in bound["bound"])

    admin = by_check["runtime-account-is-administrator"]["evidence"]
    assert admin["account"] == host.accounts["bad"].name and "sudo" in admin["groups"]
    assert admin["pid"] > 0 and "runtimelauncher.jar" in admin["command"]

    password = [f for f in bad if f["check"] == "admin-password-weak" and f["status"] == "fail"]
    assert {f["severity"] for f in password} == {"critical"}  # "password" is a known default


def test_the_shared_account_and_the_root_runtime_are_reported(
    host: PreparedHost, report: dict[str, Any]
) -> None:
    shared = about(report, "shared", host.shared)
    assert {"account-shared-between-apps", "runtime-port-bound-beyond-loopback"} <= statuses(
        shared, "fail"
    )
    rooted = about(report, "rooted", host.rooted)
    assert "runtime-runs-as-root" in statuses(rooted, "fail")
    webserver = about(report, "webserver", host.webserver)
    assert "app-account-is-proxy-account" in statuses(webserver, "fail")


def test_no_secret_reaches_the_report(host: PreparedHost, report: dict[str, Any]) -> None:
    text = json.dumps(report)
    assert host.good.admin_pass not in text
    assert "shared-admin-password" not in text


def test_reachability_verdicts_agree_with_real_access_attempts(
    host: PreparedHost, report: dict[str, Any]
) -> None:
    # Given the verdict that the good app's account reaches the bad app's private files,
    verdict = next(
        f
        for f in about(report, host.bad.name, host.bad.app_base)
        if f["check"] == "private-files-reachable-by-other-app" and f["status"] == "fail"
    )
    claimed = dict(entry.rsplit(" (", 1) for entry in verdict["evidence"]["paths"])
    claimed = {path: how.rstrip(")") for path, how in claimed.items()}

    # when the good account really tries every private path of the bad app,
    private = _private_paths(host.bad.app_base)
    actual = attempt_access(host.accounts["good"].name, private)

    # then exactly the paths the verdict names are readable or writable, with those rights.
    for path in private:
        expected = claimed.get(path, "")
        assert actual[path]["read"] == ("r" in expected), path
        assert actual[path]["write"] == ("w" in expected), path
    assert claimed  # the bad layout does let the other account in


def test_the_hardened_application_is_unreachable_when_really_tried(host: PreparedHost) -> None:
    actual = attempt_access(host.accounts["bad"].name, _private_paths(host.good.app_base))
    assert not any(result["read"] or result["write"] for result in actual.values())


def test_web_folder_verdict_agrees_with_a_real_write(
    host: PreparedHost, report: dict[str, Any]
) -> None:
    web = f"{host.bad.app_base}/web"
    assert attempt_access(host.accounts["good"].name, [web])[web]["write"]
    good_web = f"{host.good.app_base}/web"
    assert not attempt_access(host.accounts["bad"].name, [good_web])[good_web]["write"]


def test_collect_then_evaluate_elsewhere_gives_the_same_findings(
    host: PreparedHost, report: dict[str, Any], tmp_path: Any
) -> None:
    facts = tmp_path / "facts.json"
    assert mxguard("collect", "--output", str(facts)).returncode == 0
    text = facts.read_text()
    assert host.good.admin_pass not in text and "shared-admin-password" not in text

    # Elsewhere: an account that can read none of the host's files evaluates the snapshot.
    shared = tempfile.mkdtemp(prefix="mxguard-facts-", dir="/var/tmp")
    try:
        copy = shutil.copy(facts, shared)
        os.chmod(shared, 0o755)
        os.chmod(copy, 0o644)
        evaluated = mxguard("evaluate", copy, "--format", "json", user="nobody")
    finally:
        shutil.rmtree(shared)
    assert evaluated.returncode == 1, evaluated.stderr
    # Other tests on this machine start and stop runtimes too; compare this test's apps.
    later = json.loads(evaluated.stdout)
    for name, base in _apps(host):
        assert _comparable(about(later, name, base)) == _comparable(about(report, name, base))


def test_a_root_copy_of_the_tree_gives_the_same_file_and_config_verdicts(
    host: PreparedHost, report: dict[str, Any], tmp_path: Any
) -> None:
    copy = tmp_path / "tree"
    copy.mkdir()
    copy_tree(host, str(copy))
    offline = json.loads(mxguard("audit", "--root", str(copy), "--format", "json").stdout)

    for app in (host.good, host.bad):
        live = about(report, app.name, app.app_base)
        seen = about(offline, app.name, app.app_base)
        # Sections 4, 8 (config) and 10 come from files alone and must agree.
        for section in ("4", "10"):
            assert _verdicts(live, section) == _verdicts(seen, section), (app.name, section)
        assert _verdicts(live, "8", "admin-port-listens-beyond-loopback") == _verdicts(
            seen, "8", "admin-port-listens-beyond-loopback"
        )
        # Processes and sockets do not exist offline, and say so.
        bound = [f for f in seen if f["check"] == "admin-port-bound-beyond-loopback"]
        assert bound and all(f["status"] == "skip" for f in bound)
    # The project owner stands in for the process owner.
    bad_offline = about(offline, host.bad.name, host.bad.app_base)
    assert "runtime-account-is-administrator" in statuses(bad_offline, "fail")


def _private_paths(app_base: str) -> list[str]:
    paths = []
    for folder in ("model", "data", ".m2ee"):
        for top, folders, files in os.walk(f"{app_base}/{folder}"):
            paths.append(top)
            paths += [os.path.join(top, name) for name in files]
            folders.sort()
    return paths


def _verdicts(
    findings: list[dict[str, Any]], section: str, check: str | None = None
) -> set[tuple[str, str, str]]:
    # Messages may count the other applications, which differ offline; verdicts may not.
    return {
        (f["check"], f["subject"], f["status"])
        for f in findings
        if f["section"] == section and (check is None or f["check"] == check)
    }


def _apps(host: PreparedHost) -> list[tuple[str, str]]:
    return [
        (host.good.name, host.good.app_base),
        (host.bad.name, host.bad.app_base),
        ("shared", host.shared),
        ("rooted", host.rooted),
        ("webserver", host.webserver),
    ]


def _comparable(findings: list[dict[str, Any]]) -> list[tuple[str, str, str, str]]:
    return sorted((f["check"], f["subject"], f["status"], f["message"]) for f in findings)
