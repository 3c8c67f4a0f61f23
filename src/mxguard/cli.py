"""The command line: parse arguments, call the engine, render the report, pick the exit code."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import stat
import sys
import tempfile
import urllib.parse
from collections.abc import Iterator, Sequence
from typing import TextIO

from mxguard import __version__, baseline, engine, snapshot_io, waivers
from mxguard.checks.registry import catalog
from mxguard.collect.database import parse_urls
from mxguard.discovery.rootfs import Root
from mxguard.errors import FactsError, MxguardError, UsageError
from mxguard.model import Report, Severity
from mxguard.report import Format, render

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_FAILURE = 3

logger = logging.getLogger("mxguard")


def main(argv: Sequence[str] | None = None) -> int:
    """Run mxguard with `argv` and return the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    _configure_logging(args.verbose)
    try:
        result: int = args.run(args)
        return result
    except UsageError as exc:
        print(f"mxguard: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except MxguardError as exc:
        print(f"mxguard: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print("mxguard: interrupted", file=sys.stderr)
        return EXIT_FAILURE
    except Exception as exc:  # noqa: BLE001 - the last line of defence: no traceback for users
        logger.debug("internal error", exc_info=True)
        print(
            f"mxguard: internal error: {type(exc).__name__}: {exc} (run with -vv for details)",
            file=sys.stderr,
        )
        return EXIT_FAILURE


def _audit(args: argparse.Namespace) -> int:
    rules = _waivers(args)  # a broken waiver or baseline file stops the run before probing
    earlier = _baseline(args)
    snapshot = engine.collect(_audit_options(args))
    return _report(engine.evaluate([snapshot], waivers=rules), args, earlier)


def _collect(args: argparse.Namespace) -> int:
    snapshot = engine.collect(_audit_options(args))
    with _output(args.output) as stream:
        stream.write(snapshot_io.dumps([snapshot]).decode("utf-8"))
    return EXIT_OK


def _evaluate(args: argparse.Namespace) -> int:
    _check_files("--advisories", args.advisories)
    try:
        snapshots = [
            engine.with_advisories(snapshot, args.advisories)
            for path in args.facts
            for snapshot in snapshot_io.read(path)
        ]
    except FactsError as exc:
        # A facts file named on the command line is input, like a waiver or baseline file.
        raise UsageError(str(exc)) from exc
    return _report(engine.evaluate(snapshots, waivers=_waivers(args)), args, _baseline(args))


def _checks(args: argparse.Namespace) -> int:
    checks = catalog()
    with _output(args.output) as stream:
        if args.format == "json":
            entries = [
                {
                    "id": c.id,
                    "section": c.section,
                    "title": c.title,
                    "severity": c.severity.value,
                    "rationale": c.rationale,
                    "remediation": c.remediation,
                    "references": list(c.references),
                }
                for c in checks
            ]
            json.dump({"checks": entries}, stream, indent=2)
            stream.write("\n")
        else:
            for c in checks:
                stream.write(f"§{c.section:<3} {c.severity.value:<8} {c.id}\n       {c.title}\n")
    return EXIT_OK


def _demo(args: argparse.Namespace) -> int:
    from mxguard.lab import example

    with tempfile.TemporaryDirectory(prefix="mxguard-demo-") as folder:
        print(example.ANNOUNCEMENT.format(folder=folder), file=sys.stderr)
        example.build(folder)
        snapshot = engine.collect(
            engine.AuditOptions(
                root=folder,
                hostname="demo-host",
                ca_bundle=os.path.join(folder, example.CA_FILE.lstrip("/")),  # a path here
            )
        )
        report = engine.evaluate([snapshot], waivers=_waivers(args))
        _report(report, args, _baseline(args))
    return EXIT_OK


def _waivers(args: argparse.Namespace) -> list[waivers.WaiverRule]:
    return [rule for path in args.waivers for rule in waivers.load(path)]


def _baseline(args: argparse.Namespace) -> baseline.Baseline | None:
    return baseline.load(args.baseline) if args.baseline else None


def _report(
    report: Report, args: argparse.Namespace, earlier: baseline.Baseline | None = None
) -> int:
    if earlier is not None:
        report = baseline.compare(report, earlier)
    fmt = Format(args.format)
    with _output(args.output) as stream:
        is_terminal = args.output is None and sys.stdout.isatty() and fmt is Format.TEXT
        render(report, fmt, stream, is_terminal=is_terminal)
    failing = report.failures_at_or_above(Severity(args.fail_on))
    return EXIT_FINDINGS if failing else EXIT_OK


def _audit_options(args: argparse.Namespace) -> engine.AuditOptions:
    if not os.path.isdir(args.root):
        raise UsageError(f"--root {args.root}: not a folder")
    if os.path.abspath(args.root) == "/":
        _check_files("--config", args.config)
    else:
        _check_tree_files("--config", args.config, args.root)
    _check_files("--proxy-config", args.proxy_config)
    _check_files("--advisories", args.advisories)
    for url in args.url:
        if not url.startswith(("http://", "https://")) or not urllib.parse.urlsplit(url).hostname:
            raise UsageError(f"--url {url}: not an http:// or https:// URL")
    _check_files("--ca-bundle", [args.ca_bundle] if args.ca_bundle is not None else [])
    if args.from_outside is not None and not args.from_outside.strip():
        raise UsageError("--from-outside needs a host name or address")
    parse_urls(args.database_url)
    return engine.AuditOptions(
        root=args.root,
        configs=tuple(args.config),
        proxy_configs=tuple(args.proxy_config),
        advisories=tuple(args.advisories),
        database_urls=tuple(args.database_url),
        urls=tuple(args.url),
        ca_bundle=args.ca_bundle,
        from_outside=args.from_outside,
        try_default_admin_passwords=args.try_default_admin_passwords,
    )


def _check_tree_files(option: str, paths: Sequence[str], tree: str) -> None:
    """Check files named for a `--root` tree: inside it, or written as its host sees them."""
    root = Root(tree)
    for path in paths:
        _check_files(option, [root.real(root.view_of(path))])


def _check_files(option: str, paths: Sequence[str]) -> None:
    for path in paths:
        if os.path.isfile(path):
            continue
        if os.path.isdir(path):
            raise UsageError(f"{option} {path}: a folder, not a file")
        if os.path.exists(path):
            raise UsageError(f"{option} {path}: not a regular file (a device, pipe or socket)")
        raise UsageError(f"{option} {path}: no such file")


@contextlib.contextmanager
def _output(path: str | None) -> Iterator[TextIO]:
    """Yield the stream a report goes to: standard output, a device, or a file.

    A regular file appears whole or not at all (written beside it, then renamed, keeping
    the mode of the file it replaces); a device or pipe such as /dev/null is written as is.
    """
    if path is None or path == "-":
        yield sys.stdout
        return
    target = os.path.realpath(path)
    try:
        existing = os.stat(target)
    except FileNotFoundError:
        existing = None
    if existing is not None and not stat.S_ISREG(existing.st_mode):
        with open(target, "w", encoding="utf-8") as stream:
            yield stream
        return

    handle, temporary = tempfile.mkstemp(dir=os.path.dirname(target), prefix=".mxguard-")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            yield stream
        if existing is not None:
            os.chmod(temporary, stat.S_IMODE(existing.st_mode))
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mxguard",
        description="Audit on-premises Mendix installations against Mendix's security checklist.",
    )
    parser.add_argument("--version", action="version", version=f"mxguard {__version__}")
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="more messages on standard error (-vv for debugging)",
    )
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")

    audit = commands.add_parser("audit", help="collect the facts of this host and evaluate them")
    _discovery_options(audit)
    _report_options(audit)
    audit.set_defaults(run=_audit)

    collect = commands.add_parser("collect", help="write this host's facts snapshot")
    _discovery_options(collect)
    collect.add_argument(
        "--output",
        required=True,
        metavar="FACTS.json",
        help="where to write the snapshot ('-' for standard output)",
    )
    collect.set_defaults(run=_collect)

    evaluate = commands.add_parser("evaluate", help="evaluate facts snapshots from any host")
    evaluate.add_argument("facts", nargs="+", metavar="FACTS.json")
    _advisories_option(evaluate)
    _report_options(evaluate)
    evaluate.set_defaults(run=_evaluate)

    checks = commands.add_parser("checks", help="print the check catalog")
    checks.add_argument("--format", choices=("text", "json"), default="text")
    checks.add_argument("--output", metavar="FILE")
    checks.set_defaults(run=_checks)

    demo = commands.add_parser("demo", help="audit a generated example host and print the report")
    _report_options(demo)
    demo.set_defaults(run=_demo)
    return parser


def _discovery_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--root",
        default="/",
        metavar="DIR",
        help="audit the filesystem tree DIR offline (accounts from DIR/etc)",
    )
    parser.add_argument(
        "--config",
        action="append",
        default=[],
        metavar="M2EE_YAML",
        help="an m2ee config to audit, as `m2ee -c` would use it (repeatable)",
    )
    parser.add_argument(
        "--proxy-config",
        action="append",
        default=[],
        metavar="FILE",
        help="a reverse-proxy config (nginx, Apache httpd or IIS web.config), told apart "
        "by content, audited besides what discovery finds (repeatable)",
    )
    parser.add_argument(
        "--url",
        action="append",
        default=[],
        metavar="URL",
        help="a site to probe over the network: TLS, redirects, headers, cookies (repeatable)",
    )
    parser.add_argument(
        "--ca-bundle",
        metavar="PEM",
        help="an internal CA's certificates, trusted besides the system store",
    )
    parser.add_argument(
        "--from-outside",
        metavar="HOST",
        help="run only the network probes, against HOST, from this other machine",
    )
    parser.add_argument(
        "--try-default-admin-passwords",
        action="store_true",
        help="try a short fixed list of default admin passwords once each on admin ports",
    )
    parser.add_argument(
        "--database-url",
        action="append",
        default=[],
        metavar="[APP=]URL",
        help=(
            "examine this database for installation APP (or the only one), e.g. "
            "postgresql://user@host:5432/db or mysql://…; the password may come from "
            "$MXGUARD_DATABASE_PASSWORD instead of the URL (repeatable)"
        ),
    )

    _advisories_option(parser)


def _advisories_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--advisories",
        action="append",
        default=[],
        metavar="CSAF.json",
        help="security advisories (CSAF 2.0) beyond mxguard's own data, for §2 (repeatable)",
    )


def _report_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=[f.value for f in Format], default="text")
    parser.add_argument("--output", metavar="FILE", help="write the report here, not to stdout")
    parser.add_argument(
        "--waivers",
        action="append",
        default=[],
        metavar="FILE",
        help="accepted findings, each with a justification and an expiry date (repeatable)",
    )
    parser.add_argument(
        "--baseline",
        metavar="REPORT.json",
        help="an earlier JSON report: mark findings new, regressed or unchanged, list what "
        "was fixed, and fail the run only for what is new or regressed",
    )
    parser.add_argument(
        "--fail-on",
        choices=[s.value for s in Severity],
        default="high",
        help="exit 1 when a failing finding reaches this severity (default: high)",
    )


def _configure_logging(verbosity: int) -> None:
    level = logging.WARNING if verbosity == 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("mxguard: %(levelname)s: %(message)s"))
    logger.handlers[:] = [handler]
    logger.setLevel(level)
    logger.propagate = False
