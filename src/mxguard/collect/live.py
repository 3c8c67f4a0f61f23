"""The live collector: chooses the targets and runs every network probe under one engine.

On the host itself, the targets are the URLs given with `--url`, each installation's
`ApplicationRootUrl`, the proxy's TLS sites that serve an installation (reached over
loopback, with their server name in SNI and `Host`), and the runtime and admin ports of
each installation over loopback only: connecting to the host's own other addresses would
not cross its firewall the way outside traffic does, so it would prove nothing. From
outside (`--from-outside HOST`), the targets are the ports of the installations named with
`--config` (or the usual Mendix ports) on HOST, and the given URLs.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import re
import sys
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from rich.console import Console

from mxguard.discovery.m2ee import load_m2ee
from mxguard.discovery.rootfs import Root
from mxguard.facts import Installation, Problem, Socket
from mxguard.live.client import Gate, Limits
from mxguard.live.cookies import base_name
from mxguard.live.facts import AdminProbe, LiveFacts, PortProbe, SiteProbe
from mxguard.live.probes import SiteTarget, probe_admin, probe_port, probe_site
from mxguard.proxy.apps import SiteView, site_views
from mxguard.proxy.model import Listen, ProxyFacts, Site

logger = logging.getLogger(__name__)

USUAL_RUNTIME_PORTS = (8000, 8080)
USUAL_ADMIN_PORTS = (8090, 9000)
PROGRESS_THRESHOLD = 20
DEFAULT_SESSION_COOKIE = "XASSESSIONID"
SESSION_COOKIE_KEY = "com.mendix.core.SessionIdCookieName"
_IPV4_WILDCARDS = frozenset({"", "*", "0.0.0.0"})
_IPV6_WILDCARDS = frozenset({"::", "[::]"})
# A host name as it can appear in SNI and `Host`: labels of letters, digits and hyphens.
_HOST_NAME = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))*\.?", re.ASCII)
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
    options: LiveOptions,
    installations: Sequence[Installation],
    sockets: Sequence[Socket] = (),
    proxy_sites: Sequence[SiteTarget] = (),
) -> LiveFacts:
    """Run every probe the options and installations call for and return the facts.

    `sockets` are the host's listening sockets; they tell which loopback address (IPv4 or
    IPv6) each port answers on. `proxy_sites` are the proxy's own sites to probe as well
    (see `proxy_site_targets`); one that a `--url` or a root URL already names is left out.
    """
    return asyncio.run(_collect(options, installations, sockets, proxy_sites))


async def _collect(
    options: LiveOptions,
    installations: Sequence[Installation],
    sockets: Sequence[Socket],
    proxy_sites: Sequence[SiteTarget],
) -> LiveFacts:
    started = time.monotonic()
    outside = options.from_outside
    sites = site_targets(
        options.urls,
        installations,
        from_outside=outside is not None,
        sockets=sockets,
        proxy_sites=proxy_sites,
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
    proxy_sites: Sequence[SiteTarget] = (),
) -> list[SiteTarget]:
    """Return the sites to probe: the given URLs, each installation's root URL, the proxy's.

    A given URL on the host of an installation's `ApplicationRootUrl` is that installation's
    site (its `http://` form, typically), and the root URL is then not probed twice. A proxy
    site whose name and port a URL already covers is not probed twice either.
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

    # The proxy's sites are reached over the host's loopback: never from outside.
    covered = {key for target in targets.values() for key in _covers(target.url)}
    for site in () if from_outside else proxy_sites:
        keys = _covers(site.url)
        if not covered & keys:
            covered |= keys
            targets.setdefault(site.url, site)
    return list(targets.values())


def _covers(url: str) -> set[tuple[str, int]]:
    # The (name, port) pairs a URL's probe reaches: an http:// URL on port 80 is followed
    # to the https:// site of the same name, so it covers port 443 as well.
    parts = urllib.parse.urlsplit(url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return set()
    name = (parts.hostname or "").lower()
    keys = {(name, port)}
    if parts.scheme == "http" and port == 80:
        keys.add((name, 443))
    return keys


def proxy_site_targets(
    proxy: ProxyFacts | None,
    installations: Sequence[Installation],
    sockets: Sequence[Socket] = (),
    *,
    are_sockets_known: bool = False,
) -> tuple[list[SiteTarget], list[Problem]]:
    """Return the proxy's TLS sites that serve an installation, as targets on loopback.

    Each TLS listen of such a site becomes `https://NAME:PORT/`, where NAME is the site's
    first plain server name (the listen address when it has none), probed by connecting to
    the loopback address of the listen: a wildcard becomes 127.0.0.1 (or ::1), a loopback
    address stays itself. NAME is never resolved. A listen on another specific address is
    not probed, since loopback would reach another site or none; it is returned as a
    problem saying so. When `are_sockets_known`, a listen whose port nothing on the host
    listens on is not probed either: the configuration is not the one running here.
    """
    targets: dict[tuple[str, int], SiteTarget] = {}
    refused: dict[tuple[str, int], Problem] = {}
    views = [view for view in site_views(proxy, installations) if view.apps]
    # A site of a named config that serves no known app is not probed.
    plain = _plain_listens(views, sockets, are_sockets_known)
    for view in views:
        name = server_name(view.site)
        for listen in view.site.listens:
            if not listen.is_tls:
                continue
            address = loopback_for(listen, sockets)
            host = name or (address or listen.address).strip("[]")
            url = _https_url(host, listen.port)
            key = (host.lower(), listen.port)
            where = f"{listen.origin.file}:{listen.origin.line}"
            if address is None:
                refused.setdefault(key, _not_on_loopback(url, listen, where))
                continue
            if are_sockets_known and not _is_listened_on(listen.port, sockets):
                refused.setdefault(key, _not_running(url, listen, where))
                continue
            app = view.apps[0]
            runtime_port = _port(app, "runtime")
            targets.setdefault(
                key,
                SiteTarget(
                    url=url,
                    origin=f"proxy site {where}",
                    app=app.name,
                    session_cookie=session_cookie_name(app),
                    runtime_port=runtime_port,
                    runtime_address=loopback_address(runtime_port, sockets),
                    connect_address=address,
                    http_url=_http_url(name, plain.get((name, address))),
                ),
            )
    problems = [problem for key, problem in refused.items() if key not in targets]
    return list(targets.values()), problems


def _plain_listens(
    views: Sequence[SiteView], sockets: Sequence[Socket], are_sockets_known: bool
) -> dict[tuple[str, str], int]:
    # The plain-HTTP port of each server name, by the loopback address that reaches it:
    # where users who type http:// arrive, so the redirect to https:// can be judged.
    found: dict[tuple[str, str], list[int]] = {}
    for view in views:
        names = host_names(view.site)
        for listen in view.site.listens:
            address = loopback_for(listen, sockets)
            if listen.is_tls or address is None or not names:
                continue
            if are_sockets_known and not _is_listened_on(listen.port, sockets):
                continue
            for name in names:
                found.setdefault((name, address), []).append(listen.port)
    return {key: 80 if 80 in ports else ports[0] for key, ports in found.items()}


def _http_url(name: str, port: int | None) -> str | None:
    if not name or port is None:
        return None
    shown = f"[{name}]" if ":" in name else name
    return f"http://{shown}/" if port == 80 else f"http://{shown}:{port}/"


def server_name(site: Site) -> str:
    """Return the site's first server name usable in SNI and `Host`, or an empty string.

    `_`, wildcard and regex names, and names holding variables, match requests but name no
    host; a port or scheme written with an Apache `ServerName` is dropped.
    """
    names = host_names(site)
    return names[0] if names else ""


def host_names(site: Site) -> list[str]:
    """Return the site's server names that name a host, in order (see `server_name`)."""
    names: list[str] = []
    for raw in site.server_names:
        name = raw.strip().lower()
        name = name.split("://", 1)[-1]
        if not name.startswith("["):
            name = name.split(":", 1)[0]
        if _HOST_NAME.fullmatch(name) and not name.replace(".", "").isdigit():
            names.append(name.rstrip("."))
        elif _ip(name.strip("[]")) is not None:
            names.append(name.strip("[]"))
    return list(dict.fromkeys(names))


def loopback_for(listen: Listen, sockets: Sequence[Socket] = ()) -> str | None:
    """Return the loopback address that reaches `listen`, or None when none does."""
    address = listen.address.strip()
    if address in _IPV4_WILDCARDS:
        return loopback_address(listen.port, sockets)
    if address in _IPV6_WILDCARDS:
        return "::1"
    if address.lower() == "localhost":
        return "127.0.0.1"
    parsed = _ip(address.strip("[]"))
    if parsed is not None and parsed.is_loopback:
        return str(parsed)
    return None


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _https_url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"https://{shown}/" if port == 443 else f"https://{shown}:{port}/"


def _is_listened_on(port: int, sockets: Sequence[Socket]) -> bool:
    # A socket loopback reaches: bound to every address, or to a loopback one.
    for bound in sockets:
        if bound.port != port:
            continue
        address = bound.address.split("%", 1)[0]
        if address in _IPV4_WILDCARDS or address in _IPV6_WILDCARDS:
            return True
        parsed = _ip(address)
        if parsed is not None and parsed.is_loopback:
            return True
    return False


def _not_running(url: str, listen: Listen, where: str) -> Problem:
    return Problem(
        subject=f"url:{url}",
        message=(
            f"the proxy site listening on port {listen.port} ({where}) was not probed: "
            f"nothing on this host listens on port {listen.port} on an address loopback "
            "reaches, so this configuration is not the one running here"
        ),
        file=listen.origin.file,
        line=listen.origin.line or None,
        status="skip",
    )


def _not_on_loopback(url: str, listen: Listen, where: str) -> Problem:
    shown = f"[{listen.address}]" if ":" in listen.address else listen.address
    return Problem(
        subject=f"url:{url}",
        message=(
            f"the proxy site listening on {shown}:{listen.port} ({where}) was not probed: "
            "on the host mxguard connects to loopback addresses only, and loopback reaches "
            "another site or none there; probe it with --url from a machine that reaches "
            "that address"
        ),
        file=listen.origin.file,
        line=listen.origin.line or None,
        status="skip",
    )


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
