"""The terminal report: per checklist section the counts, then each problem with its evidence."""

from __future__ import annotations

from collections import defaultdict
from typing import TextIO

from rich.console import Console
from rich.markup import escape

from mxguard import baseline
from mxguard.model import Finding, Report, Status

SECTION_TITLES = {
    "0": "Collection",
    "2": "Runtime version and patches",
    "3": "A dedicated, unprivileged account per application",
    "4": "File system access",
    "5": "HTTPS at a reverse proxy",
    "6": "Firewall and the runtime port",
    "7": "Static content served by the proxy",
    "8": "The admin port",
    "9": "Security headers",
    "10": "No development tooling against production",
}
_STYLE = {
    Status.PASS: "green",
    Status.FAIL: "bold red",
    Status.WARN: "yellow",
    Status.SKIP: "dim",
    Status.ERROR: "magenta",
}
_SHOWN = (Status.FAIL, Status.ERROR, Status.WARN)


def render(report: Report, stream: TextIO, *, is_terminal: bool) -> None:
    """Write the report for a person; colours only when `is_terminal`."""
    console = Console(
        file=stream,
        force_terminal=is_terminal,
        no_color=not is_terminal,
        highlight=False,
        width=None if is_terminal else 100,
        soft_wrap=not is_terminal,
    )
    hosts = ", ".join(report.hosts) or "no host"
    console.print(f"[bold]mxguard {escape(report.tool_version)}[/] — {escape(hosts)}")

    by_section: dict[str, list[Finding]] = defaultdict(list)
    for finding in report.findings:
        by_section[finding.section].append(finding)

    for section, findings in by_section.items():
        counts = _counts(findings)
        title = SECTION_TITLES.get(section, "")
        console.print()
        console.print(f"[bold]§{section} {escape(title)}[/]  {counts}")
        # Failures first, the worst first; then errors and warnings.
        shown = [f for f in findings if f.status in _SHOWN]
        shown.sort(key=lambda f: (_SHOWN.index(f.status), -f.severity.rank))
        for finding in shown:
            _print_finding(console, finding, show_host=len(report.hosts) > 1)
        _print_skips(console, [f for f in findings if f.status is Status.SKIP])

    summary = report.summary
    if report.baseline_path:
        numbers = baseline.counts(report)
        console.print()
        console.print(
            f"Against {escape(report.baseline_path)}: {numbers['new']} new, "
            f"{numbers['regressed']} regressed, {numbers['unchanged']} unchanged, "
            f"{numbers['fixed']} fixed"
        )
        for problem in report.fixed[:20]:
            console.print(f"  [green]FIXED[/] {escape(problem.check)}  {escape(problem.subject)}")
    console.print()
    console.print("Summary: " + ", ".join(f"{count} {status}" for status, count in summary.items()))


def _print_skips(console: Console, skips: list[Finding]) -> None:
    # Skips repeat one reason for many checks and subjects (no site to probe, an offline
    # tree has no sockets): say each reason once, with what it held back.
    by_reason: dict[str, list[Finding]] = defaultdict(list)
    for finding in skips:
        by_reason[finding.message].append(finding)
    for reason, findings in by_reason.items():
        checks = list(dict.fromkeys(f.check for f in findings))
        subjects = list(dict.fromkeys(f.subject for f in findings))
        console.print(
            f"  [dim]SKIP {escape(_listing(checks, 3))} for {escape(_listing(subjects, 3))}[/]"
        )
        console.print(f"      [dim]{escape(reason)}[/]")


def _listing(items: list[str], most: int) -> str:
    shown = ", ".join(items[:most])
    return shown + (f" and {len(items) - most} more" if len(items) > most else "")


def _counts(findings: list[Finding]) -> str:
    tally = {status: sum(1 for f in findings if f.status is status) for status in Status}
    return "  ".join(
        f"[{_STYLE[status]}]{count} {status}[/]" for status, count in tally.items() if count
    )


def _print_finding(console: Console, finding: Finding, *, show_host: bool) -> None:
    style = "dim" if finding.is_waived else _STYLE[finding.status]
    where = f"{finding.host} " if show_host else ""
    label = "WAIVED" if finding.is_waived else finding.status.value.upper()
    if finding.change in ("new", "regressed"):
        label = f"{label} ({finding.change})"
    severity = f" {finding.severity}" if finding.status is Status.FAIL else ""
    console.print(
        f"  [{style}]{label}{severity}[/] {escape(finding.check)}  "
        f"{escape(where + finding.subject)}"
    )
    console.print(f"      {escape(finding.message)}")
    evidence = ", ".join(
        f"{key}={_short(value)}" for key, value in finding.evidence.items() if key != "app"
    )
    if evidence and finding.status is not Status.SKIP:
        console.print(f"      [dim]evidence:[/] {escape(evidence)}")
    if finding.remediation:
        console.print(f"      [dim]fix:[/] {escape(finding.remediation)}")
    if finding.waiver is not None:
        waiver = finding.waiver
        state = "EXPIRED on" if waiver.is_expired else "until"
        console.print(
            f"      [dim]waiver {state} {escape(waiver.expires)} ({escape(waiver.source)}):[/] "
            f"{escape(waiver.justification)}"
        )


def _short(value: object) -> str:
    if isinstance(value, list | tuple):
        shown = ", ".join(str(v) for v in value[:5])
        more = f", … {len(value) - 5} more" if len(value) > 5 else ""
        return f"[{shown}{more}]"
    return str(value)
