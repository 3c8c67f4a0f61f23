"""The README stays true: its Quick start has two commands, and its `--help` is the real one."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = (Path(__file__).parents[2] / "README.md").read_text()


def test_the_readme_opens_with_one_sentence_then_a_two_command_quick_start() -> None:
    first_paragraph, rest = README.split("\n\n", 1)
    assert first_paragraph.count(". ") == 0 and first_paragraph.endswith(".")
    quick = rest.split("## Quick start", 1)[1].split("##", 1)[0]
    block = re.search(r"```sh\n(.*?)```", quick, re.S)
    assert block is not None
    commands = [line for line in block.group(1).splitlines() if line.strip()]
    assert len(commands) == 2


def test_the_help_shown_in_the_readme_is_what_mxguard_prints() -> None:
    shown = README.split("$ mxguard --help\n", 1)[1].split("```", 1)[0]
    printed = subprocess.run(
        [sys.executable, "-m", "mxguard", "--help"],
        capture_output=True,
        text=True,
        env={"COLUMNS": "100", "PATH": "/usr/bin:/bin"},
        check=True,
    ).stdout
    assert printed == shown
