"""The generated example host, audited offline: what the demo shows is what the checks say."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from proxylab import assert_nginx_accepts

from mxguard import engine
from mxguard.lab import example
from mxguard.model import Finding, Report

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root: sets file owners")


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Report:
    folder = tmp_path_factory.mktemp("example")
    example.build(str(folder))
    ca = str(folder / example.CA_FILE.lstrip("/"))
    return engine.evaluate([engine.collect(engine.AuditOptions(root=str(folder), ca_bundle=ca))])


def of(report: Report, app: str, status: str) -> set[str]:
    return {f.check for f in report.findings if f.status == status and _about(f, app)}


def _about(finding: Finding, app: str) -> bool:
    return finding.subject == f"app:{app}" or finding.evidence.get("app") == app


def test_the_hardened_shop_fails_nothing(report: Report) -> None:
    assert of(report, "shop", "fail") == set()
    assert of(report, "shop", "error") == set()


def test_the_web_servers_account_running_an_app_is_a_failure(report: Report) -> None:
    assert "app-account-is-proxy-account" in of(report, "reports", "fail")
    assert "app-account-is-proxy-account" in of(report, "shop", "pass")


def test_ledger_fails_every_file_and_config_check(report: Report) -> None:
    assert of(report, "ledger", "fail") >= {
        "runtime-version-has-known-vulnerabilities",
        "runtime-account-is-administrator",
        "private-files-owned-by-another-account",
        "private-files-open-to-group-or-others",
        "private-files-reachable-by-other-app",
        "web-folder-writable-by-others",
        "project-path-world-writable",
        "runtime-port-listens-beyond-loopback",
        "admin-port-listens-beyond-loopback",
        "admin-password-weak",
        "monitoring-password-weak",
        "dtap-mode-not-production",
    }


def on_site(report: Report, app: str, status: str) -> set[tuple[str, str]]:
    """Return (check, route) of the proxy findings about `app`'s TLS site."""
    prefix = f"route:{app}.example.com:443 "
    return {
        (f.check, f.subject.removeprefix(prefix))
        for f in report.findings
        if f.status == status and f.subject.startswith(prefix)
    }


def test_the_proxy_in_front_of_the_hardened_shop_fails_nothing(report: Report) -> None:
    assert on_site(report, "shop", "fail") == set()
    assert on_site(report, "shop", "warn") == set()
    passed = {check for check, _ in on_site(report, "shop", "pass")}
    assert {
        "tls-certificate-untrusted",
        "forwarded-scheme-header-missing",
        "root-proxied-to-runtime",
        "csp-weak",
        "hsts-missing-or-short",
    } <= passed


def test_the_nested_location_that_drops_the_scheme_header_is_found(report: Report) -> None:
    assert on_site(report, "reports", "fail") == {("forwarded-scheme-header-missing", "/rest/")}


def test_the_proxy_in_front_of_ledger_fails_every_way_it_is_wrong(report: Report) -> None:
    assert {check for check, _ in on_site(report, "ledger", "fail")} >= {
        "tls-protocol-below-1-2-enabled",
        "plain-http-site-serves-content",
        "forwarded-scheme-header-from-client",
        "root-proxied-to-runtime",
        "development-handler-reachable",
        "csp-missing",
        "hsts-missing-or-short",
        "alias-path-traversal",
    }


def test_real_nginx_accepts_the_example_proxy_configuration(tmp_path: Path) -> None:
    # Given the example tree, its nginx.conf pointed at the tree's own certificate files
    tree = tmp_path / "tree"
    tree.mkdir()
    example.build(str(tree))
    text = (tree / "etc/nginx/nginx.conf").read_text()
    text = text.replace(" /etc/nginx/", f" {tree}/etc/nginx/")
    prefix = tmp_path / "prefix"
    prefix.mkdir()
    config = prefix / "nginx.conf"
    config.write_text(f"error_log {prefix}/error.log;\npid {prefix}/nginx.pid;\n{text}")

    # Then nginx -t accepts it as written
    assert_nginx_accepts(config, prefix)


def test_offline_there_are_no_processes_and_the_report_says_so(report: Report) -> None:
    skips = [f for f in report.findings if f.check == "runtime-port-bound-beyond-loopback"]
    assert skips and all(f.status == "skip" and "offline" in f.message for f in skips)


def test_the_demo_command_prints_the_report(capsys: pytest.CaptureFixture[str]) -> None:
    from mxguard.cli import main

    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "§4 File system access" in out and "FAIL" in out


def test_the_tree_is_audited_without_reading_this_machines_files(tmp_path: Path) -> None:
    # Given a tree whose ledger config is a link to an absolute path, the tree's file is read.
    example.build(str(tmp_path))
    link = tmp_path / "srv/ledger/.m2ee/m2ee.yaml"
    (tmp_path / "etc/ledger.yaml").write_text(link.read_text().replace("ledger", "inside"))
    link.unlink()
    link.symlink_to("/etc/ledger.yaml")
    snapshot = engine.collect(engine.AuditOptions(root=str(tmp_path)))
    assert "inside" in {i.name for i in snapshot.installations}


@pytest.mark.parametrize("written", ["inside", "as-the-host-sees-it"])
def test_a_config_named_for_a_root_tree_is_read_from_the_tree(
    written: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the example tree, and ledger's config named by its path here or on the image's host
    from mxguard.cli import main

    example.build(str(tmp_path))
    named = "/srv/ledger/.m2ee/m2ee.yaml"
    path = str(tmp_path) + named if written == "inside" else named

    # When only that config is audited
    code = main(["audit", "--root", str(tmp_path), "--config", path, "--format", "json"])

    # Then ledger alone is audited, from the tree, and its failures name the host's path
    report = json.loads(capsys.readouterr().out)
    assert code == 1
    dtap = [f for f in report["findings"] if f["check"] == "dtap-mode-not-production"]
    assert [(f["subject"], f["status"], f["evidence"]["file"]) for f in dtap] == [
        ("app:ledger", "fail", named)
    ]


def test_a_config_outside_the_tree_is_refused_by_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from mxguard.cli import main

    example.build(str(tmp_path))
    assert main(["audit", "--root", str(tmp_path), "--config", "/srv/nowhere.yaml"]) == 2
    assert "--config" in capsys.readouterr().err
