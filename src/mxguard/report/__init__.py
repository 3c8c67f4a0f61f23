"""Reporters: one findings model rendered as terminal text, JSON, SARIF or JUnit XML."""

from __future__ import annotations

import enum
from typing import TextIO, assert_never

from mxguard.model import Report
from mxguard.report import json_report, junit, sarif, text


class Format(enum.StrEnum):
    """The report formats mxguard writes."""

    TEXT = "text"
    JSON = "json"
    SARIF = "sarif"
    JUNIT = "junit"


def render(report: Report, fmt: Format, stream: TextIO, *, is_terminal: bool) -> None:
    """Write `report` to `stream` in the format `fmt`."""
    match fmt:
        case Format.TEXT:
            text.render(report, stream, is_terminal=is_terminal)
        case Format.JSON:
            json_report.render(report, stream)
        case Format.SARIF:
            sarif.render(report, stream)
        case Format.JUNIT:
            junit.render(report, stream)
        case _:
            assert_never(fmt)
