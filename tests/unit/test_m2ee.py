"""Loading, including and merging m2ee configuration files."""

from __future__ import annotations

from pathlib import Path

from mxguard.discovery.m2ee import load_m2ee
from mxguard.discovery.rootfs import Root


def write(path: Path, text: str) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return "/" + str(path.relative_to(path.anchor))


def test_the_users_file_wins_over_the_system_file_key_by_key(tmp_path: Path) -> None:
    root = Root(str(tmp_path))
    system = write(
        tmp_path / "etc/m2ee/m2ee.yaml", "m2ee:\n  admin_port: 9000\n  runtime_port: 8000\n"
    )
    user = write(tmp_path / "srv/app/.m2ee/m2ee.yaml", "m2ee:\n  admin_port: 9100\n")
    system_host = "/etc/m2ee/m2ee.yaml"
    user_host = "/srv/app/.m2ee/m2ee.yaml"
    assert system.endswith(system_host) and user.endswith(user_host)

    config = load_m2ee([system_host, user_host], root=root)

    assert config.get("m2ee", "admin_port") == 9100
    assert config.get("m2ee", "runtime_port") == 8000
    assert config.source("m2ee", "admin_port").file == user_host
    assert config.source("m2ee", "runtime_port").file == system_host
    assert config.problem == ""


def test_included_files_rank_below_the_file_that_names_them(tmp_path: Path) -> None:
    root = Root(str(tmp_path))
    write(tmp_path / "srv/app/.m2ee/common.yaml", "mxruntime:\n  DTAPMode: D\n  X: 1\n")
    write(
        tmp_path / "srv/app/.m2ee/m2ee.yaml",
        "include: [common.yaml, missing.yaml]\nmxruntime:\n  DTAPMode: P\n",
    )
    config = load_m2ee(["/srv/app/.m2ee/m2ee.yaml"], root=root)
    assert config.get("mxruntime", "DTAPMode") == "P"
    assert config.get("mxruntime", "X") == 1
    assert "missing.yaml" in config.problem  # reported, and the rest still counts


def test_an_include_cycle_ends(tmp_path: Path) -> None:
    root = Root(str(tmp_path))
    write(tmp_path / "a.yaml", "include: [b.yaml]\nm2ee: {app_name: a}\n")
    write(tmp_path / "b.yaml", "include: [a.yaml]\nm2ee: {admin_port: 1}\n")
    config = load_m2ee(["/a.yaml"], root=root)
    assert config.get("m2ee", "app_name") == "a" and config.get("m2ee", "admin_port") == 1


def test_a_broken_file_is_recorded_with_its_problem_and_line(tmp_path: Path) -> None:
    root = Root(str(tmp_path))
    write(tmp_path / "m.yaml", "m2ee:\n  app_name: [unclosed\n")
    config = load_m2ee(["/m.yaml"], root=root)
    (recorded,) = config.files
    assert recorded.status == "error" and recorded.line is not None
    assert "invalid YAML" in config.problem


def test_a_symlink_in_a_tree_cannot_lead_out_of_it(tmp_path: Path) -> None:
    # Given a tree whose m2ee.yaml links to /etc/passwd, the link resolves inside the tree.
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/passwd").write_text("m2ee: {app_name: inside}\n")
    config_dir = tmp_path / "srv/app/.m2ee"
    config_dir.mkdir(parents=True)
    (config_dir / "m2ee.yaml").symlink_to("/etc/passwd")
    config = load_m2ee(["/srv/app/.m2ee/m2ee.yaml"], root=Root(str(tmp_path)))
    assert config.get("m2ee", "app_name") == "inside"
