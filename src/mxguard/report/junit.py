"""JUnit XML: one test suite per checklist section, one test case per finding.

`fail` is a failure and `error` an error; `skip` is skipped with its reason, and so is a
waived finding, with its justification and expiry; `warn` passes
with the warning in the case's output, since JUnit has no weaker state than failure and
the exit code (`--fail-on`) is what gates a pipeline.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET  # noqa: S405 - used to write XML, never to read it
from collections import defaultdict
from typing import TextIO

from mxguard.model import Finding, Report, Status
from mxguard.report.text import SECTION_TITLES


def render(report: Report, stream: TextIO) -> None:
    """Write the report as JUnit XML."""
    by_section: dict[str, list[Finding]] = defaultdict(list)
    for finding in report.findings:
        by_section[finding.section].append(finding)

    suites = ET.Element("testsuites", name="mxguard", timestamp=report.generated)
    for section, findings in by_section.items():
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=f"§{section} {SECTION_TITLES.get(section, '')}".strip(),
            tests=str(len(findings)),
            failures=str(sum(f.status is Status.FAIL and not f.is_waived for f in findings)),
            errors=str(_count(findings, Status.ERROR)),
            skipped=str(sum(f.status is Status.SKIP or f.is_waived for f in findings)),
        )
        for finding in findings:
            _case(suite, finding, show_host=len(report.hosts) > 1)
    _totals(suites)

    ET.indent(suites)
    stream.write('<?xml version="1.0" encoding="UTF-8"?>\n')
    stream.write(ET.tostring(suites, encoding="unicode"))
    stream.write("\n")


def _case(suite: ET.Element, finding: Finding, *, show_host: bool) -> None:
    where = f" on {finding.host}" if show_host else ""
    case = ET.SubElement(
        suite,
        "testcase",
        classname=f"mxguard.section{finding.section}.{finding.check}",
        name=f"{finding.check} {finding.subject}{where}",
    )
    details = "\n".join(
        [finding.message, *(f"{key}: {value}" for key, value in finding.evidence.items())]
        + ([f"fix: {finding.remediation}"] if finding.remediation else [])
    )
    if finding.is_waived and finding.waiver is not None:
        waiver = finding.waiver
        ET.SubElement(
            case, "skipped", message=f"waived until {waiver.expires}: {waiver.justification}"
        )
        return
    match finding.status:
        case Status.FAIL:
            failure = ET.SubElement(case, "failure", message=finding.message, type=finding.severity)
            failure.text = details
        case Status.ERROR:
            error = ET.SubElement(case, "error", message=finding.message, type="error")
            error.text = details
        case Status.SKIP:
            ET.SubElement(case, "skipped", message=finding.message)
        case Status.WARN:
            output = ET.SubElement(case, "system-out")
            output.text = f"warning ({finding.severity}): {details}"
        case Status.PASS:
            pass


def _count(findings: list[Finding], status: Status) -> int:
    return sum(1 for finding in findings if finding.status is status)


def _totals(suites: ET.Element) -> None:
    for attribute in ("tests", "failures", "errors", "skipped"):
        total = sum(int(suite.get(attribute, "0")) for suite in suites)
        suites.set(attribute, str(total))
