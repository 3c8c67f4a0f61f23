"""Walking project folders: links are described, never followed; loops and depth are bounded."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mxguard.checks import s04_files
from mxguard.collect import files
from mxguard.discovery.rootfs import Root


def test_a_symlink_loop_and_links_out_are_described_not_followed(tmp_path: Path) -> None:
    project = tmp_path / "srv/app"
    (project / "web").mkdir(parents=True)
    (project / "web/loop").symlink_to("../web")
    (project / "web/out").symlink_to("/etc")
    (project / "web/self").symlink_to("self")

    tree = files.walk(Root(str(tmp_path)), "web", "/srv/app/web", project="/srv/app")

    by_path = {entry.path: entry for entry in tree.entries}
    assert set(by_path) == {
        "/srv/app/web",
        "/srv/app/web/loop",
        "/srv/app/web/out",
        "/srv/app/web/self",
    }
    assert by_path["/srv/app/web/out"].link_leaves_project
    assert not by_path["/srv/app/web/loop"].link_leaves_project
    assert by_path["/srv/app/web/self"].kind == "symlink"


def test_a_very_deep_tree_is_cut_and_says_so(tmp_path: Path) -> None:
    deep = tmp_path / "srv/app/data"
    deep.mkdir(parents=True)
    current = str(deep)
    for _ in range(files.MAX_DEPTH + 10):
        current = os.path.join(current, "d")
        os.mkdir(current)

    tree = files.walk(Root(str(tmp_path)), "data", "/srv/app/data", project="/srv/app")

    assert len(tree.unlisted) == 1
    assert tree.unlisted[0].split("/data/", 1)[1].count("d") == files.MAX_DEPTH + 1


def test_the_entry_limit_marks_the_tree_truncated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "srv/app/model"
    folder.mkdir(parents=True)
    for index in range(30):
        (folder / f"f{index}").write_text("x")
    monkeypatch.setattr(files, "MAX_ENTRIES_PER_TREE", 10)
    tree = files.walk(Root(str(tmp_path)), "model", "/srv/app/model", project="/srv/app")
    assert tree.is_truncated and len(tree.entries) == 10


def test_a_missing_folder_is_reported_absent(tmp_path: Path) -> None:
    tree = files.walk(Root(str(tmp_path)), "model", "/srv/none/model", project="/srv/none")
    assert not tree.is_present and tree.entries == ()


@pytest.mark.parametrize(
    ("reached", "words"),
    [
        ([("/a", "r"), ("/b", "r")], "read 2 private paths"),
        ([("/a", "w")], "write 1 private path"),
        ([("/a", "rw"), ("/b", "rw")], "read and write 2 private paths"),
        ([("/a", "r"), ("/b", "rw"), ("/c", "r")], "read 3 and write 1 of 3 private paths"),
        ([("/a", "r"), ("/b", "w")], "read 1 and write 1 of 2 private paths"),
    ],
)
def test_the_reach_of_another_account_is_told_as_read_and_write_counts(
    reached: list[tuple[str, str]], words: str
) -> None:
    assert s04_files._reach_words(reached) == words
