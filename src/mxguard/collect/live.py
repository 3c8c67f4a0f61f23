"""The live collector: chooses the targets and runs every network probe under one engine.

On the host itself, the targets are the URLs given with `--url`, each installation's
`ApplicationRootUrl`, and the runtime and admin ports of each installation over loopback
only: connecting to the host's own other addresses would not cross its firewall the way
outside traffic does, so it would prove nothing. From outside (`--from-outside HOST`), the
targets are the ports of the installations named with `--config` (or the usual Mendix
ports) on HOST, and the given URLs.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from rich.console import Console

from mxguard.discovery.m2ee import load_m2ee
from mxguard.discovery.rootfs import Root
from mxguard.facts import Installation, Socket
from mxguard.live.client import Gate, Limits
from mxguard.live.cookies import base_name
from mxguard.live.facts import AdminProbe, LiveFacts, PortProbe, SiteProbe
from mxguard.live.probes import SiteTarget, probe_admin, probe_port, probe_site

logger = logging.getLogger(__name__)

USUAL_RUNTIME_PORTS = (8000, 8080)
USUAL_ADMIN_PORTS = (8090, 9000)
PROGRESS_THRESHOLD = 20
DEFAULT_SESSION_COOKIE = "XASSESSIONID"
SESSION_COOKIE_KEY = "com.mendix.core.SessionIdCookieName"
T = TypeVar("T")


@dataclass(frozen=True, slots=True, kw_only=True)
class LiveOptions:
    """What the live collector probes, and how hard."""

    urls: Sequence[str] = ()
    ca_bundle: str | None = None
    from_outside: str | None = None
    try_default_admin_passwords: bool = False
    limits: Limits = Limits()
    show_progress: bool | None = None  # None: when standard error is a terminal


@dataclass(frozen=True, slots=True, kw_only=True)
class _PortTarget:
    address: str
    port: int
    role: str
    app: str | None


def collect_live(
    options: LiveOptions, installations: Sequence[Installation], sockets: Sequence[Socket] = ()
) -> LiveFacts:
    """Run every probe the options and installations call for and return the facts.

    `sockets` are the host's listening sockets; they tell which loopback address (IPv4 or
    IPv6) each port answers on.
    """
    return asyncio.run(_collect(options, installations, sockets))


async def _collect(
    options: LiveOptions, installations: Sequence[Installation], sockets: Sequence[Socket]
) -> LiveFacts:
    started = time.monotonic()
    outside = options.from_outside
    sites = site_targets(
        options.urls, installations, from_outside=outside is not None, sockets=sockets
    )
    ports = port_targets(installations, outside, sockets)
    vantage = "outside" if outside else "loopback"
    gate = Gate(options.limits)
    limits = options.limits

    jobs: list[Callable[[], Awaitable[object]]] = []
    jobs.extend(
        _bind(probe_site, site, limits=limits, gate=gate, ca_bundle=options.ca_bundle)
        for site in sites
    )
    jobs.extend(
        _bind(
            probe_port,
            p.address,
            p.port,
            role=p.role,
            app=p.app,
            vantage=vantage,
            limits=limits,
            gate=gate,
        )
        for p in ports
    )
    admin_jobs = [p for p in ports if p.role == "admin"]
    jobs.extend(
        _bind(
            probe_admin,
            p.address,
            p.port,
            app=p.app,
            vantage=vantage,
            try_defaults=options.try_default_admin_passwords,
            limits=limits,
            gate=gate,
        )
        for p in admin_jobs
    )
    results = await _run(jobs, options)

    return LiveFacts(
        vantage="outside" if outside else "host",
        target_host=outside or "",
        sites=tuple(r for r in results if isinstance(r, SiteProbe)),
        ports=tuple(r for r in results if isinstance(r, PortProbe)),
        admin=tuple(r for r in results if isinstance(r, AdminProbe)),
        tried_default_passwords=options.try_default_admin_passwords,
        elapsed_ms=int((time.monotonic() - started) * 1000),
    )


def _bind(
    function: Callable[..., Awaitable[T]], *args: object, **kwargs: object
) -> Callable[[], Awaitable[T]]:
    return lambda: function(*args, **kwargs)


async def _run(
    jobs: Sequence[Callable[[], Awaitable[object]]], options: LiveOptions
) -> list[object]:
    # Each job bounds itself (timeouts, deadline, connection slots); a job that raises
    # anyway is a bug, logged and dropped rather than allowed to sink the run.
    show = options.show_progress
    if show is None:
        show = sys.stderr.isatty() and len(jobs) >= PROGRESS_THRESHOLD
    results: list[object] = []

    async def guarded(job: Callable[[], Awaitable[object]]) -> object:
        try:
            return await job()
        except Exception:  # noqa: BLE001 - one broken probe must not end the others
            logger.warning("a network probe failed unexpectedly", exc_info=True)
            return None

    if not show:
        results = list(await asyncio.gather(*(guarded(job) for job in jobs)))
        return [r for r in results if r is not None]

    from rich.progress import Progress

    with Progress(transient=True, console=_stderr_console()) as progress:
        task = progress.add_task("network probes", total=len(jobs))
        for future in asyncio.as_completed([guarded(job) for job in jobs]):
            result = await future
            progress.advance(task)
            if result is not None:
                results.append(result)
    return results


def _stderr_console() -> Console:
    return Console(stderr=True)


def site_targets(
    urls: Sequence[str],
    installations: Sequence[Installation],
    *,
    from_outside: bool,
    sockets: Sequence[Socket] = (),
) -> list[SiteTarget]:
    """Return the sites to probe: the given URLs, then each installation's root URL.

    A given URL on the host of an installation's `ApplicationRootUrl` is that installation's
    site (its `http://` form, typically), and the root URL is then not probed twice.
    """
    roots: list[tuple[str, Installation]] = []
    for installation in installations:
        root = installation.settings.application_root_url
        if root and root.startswith(("http://", "https://")):
            roots.append((root, installation))
    # A --url on a host with a single installation is taken to be that installation's site.
    only = installations[0] if len(installations) == 1 else None

    targets: dict[str, SiteTarget] = {}
    for url in urls:
        app = next((i for root, i in roots if _host(root) == _host(url)), only)
        targets.setdefault(url, _target(url, "--url", app, from_outside, sockets))
    for root, installation in roots:
        if not any(_host(t.url) == _host(root) for t in targets.values()):
            where = f"ApplicationRootUrl of app:{installation.name}"
            targets.setdefault(root, _target(root, where, installation, from_outside, sockets))
    return list(targets.values())


def _target(
    url: str,
    origin: str,
    installation: Installation | None,
    from_outside: bool,
    sockets: Sequence[Socket],
) -> SiteTarget:
    if installation is None:
        return SiteTarget(url=url, origin=origin)
    runtime_port = _port(installation, "runtime")
    return SiteTarget(
        url=url,
        origin=origin,
        app=installation.name,
        session_cookie=session_cookie_name(installation),
        runtime_port=None if from_outside else runtime_port,
        runtime_address=loopback_address(runtime_port, sockets),
    )


def session_cookie_name(installation: Installation) -> str:
    """Return the session cookie name the installation's m2ee config sets, or the default."""
    paths = [f.path for f in installation.config_files if f.status == "ok"]
    if not paths:
        return DEFAULT_SESSION_COOKIE
    value = load_m2ee(paths, root=Root("/")).get("mxruntime", SESSION_COOKIE_KEY)
    if isinstance(value, str) and value.strip():
        return base_name(value.strip())
    return DEFAULT_SESSION_COOKIE


def loopback_address(port: int | None, sockets: Sequence[Socket]) -> str:
    """Return the loopback address `port` answers on: 127.0.0.1 unless only IPv6 is bound."""
    bound = {s.address for s in sockets if s.port == port}
    if not bound or bound & {"0.0.0.0", "127.0.0.1"}:
        return "127.0.0.1"
    ipv4 = sorted(a for a in bound if a.startswith("127."))
    if ipv4:
        return ipv4[0]
    return "::1" if bound & {"::1", "::"} else "127.0.0.1"


def _host(url: str) -> str:
    return (urllib.parse.urlsplit(url).hostname or "").lower()


def _port(installation: Installation, role: str) -> int | None:
    for process in installation.processes:
        told = process.runtime_port if role == "runtime" else process.admin_port
        if told:
            return told
    settings = installation.settings
    return settings.runtime_port if role == "runtime" else settings.admin_port


def port_targets(
    installations: Sequence[Installation], outside: str | None, sockets: Sequence[Socket] = ()
) -> list[_PortTarget]:
    """Return the runtime and admin ports to try: loopback on the host, HOST from outside."""
    targets: dict[tuple[str, int], _PortTarget] = {}
    for installation in installations:
        for role in ("runtime", "admin"):
            port = _port(installation, role)
            if port is None:
                continue
            address = outside or loopback_address(port, sockets)
            targets.setdefault(
                (address, port),
                _PortTarget(address=address, port=port, role=role, app=installation.name),
            )
    if outside and not installations:
        for role, ports in (("runtime", USUAL_RUNTIME_PORTS), ("admin", USUAL_ADMIN_PORTS)):
            for port in ports:
                targets.setdefault(
                    (outside, port), _PortTarget(address=outside, port=port, role=role, app=None)
                )
    return list(targets.values())
