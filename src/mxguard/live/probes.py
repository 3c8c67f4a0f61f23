"""The probes: a site (TLS, redirects, pages, sessions), a TCP port, an admin API."""

from __future__ import annotations

import asyncio
import base64
import errno
import json
import time
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass, replace

from mxguard.live.client import Gate, Limits, exchange, fetch, split_url
from mxguard.live.facts import (
    AdminProbe,
    Cookie,
    Page,
    PortProbe,
    Response,
    SessionProbe,
    SiteProbe,
)
from mxguard.live.tls import probe_tls

SITE_DEADLINE_FACTOR = 3
STATIC_PATHS = ("/", "/index.html", "/mxclientsystem/mxui/mxui.js")
XAS_PATH = "/xas/"
XAS_BODY = json.dumps({"action": "get_session_data", "params": {"timezoneoffset": 0}}).encode()
SPOOF_HEADERS = (("X-Forwarded-Scheme", "http"), ("X-Forwarded-Proto", "http"))
# Passwords people leave on admin ports; each is tried once, and only when asked for.
DEFAULT_ADMIN_PASSWORDS = (
    "1",
    "password",
    "admin",
    "mendix",
    "Mendix",
    "MxAdmin",
    "changeit",
    "m2ee",
)
# Response headers every server may send; a match on them says nothing about who answered.
_GENERIC = frozenset(
    {
        "date", "content-length", "content-type", "connection", "server", "cache-control",
        "last-modified", "etag", "accept-ranges", "vary", "transfer-encoding", "keep-alive",
        "content-encoding", "expires", "pragma", "age",
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class SiteTarget:
    """A URL to probe, with what is known of the installation behind it."""

    url: str
    origin: str
    app: str | None = None
    session_cookie: str = "XASSESSIONID"
    runtime_port: int | None = None  # reachable on loopback when probing from the host
    runtime_address: str = "127.0.0.1"  # the loopback address the runtime port answers on
    # Connect here instead of resolving the URL's host, which still goes in SNI and `Host`:
    # a proxy site probed on the host itself, over loopback.
    connect_address: str | None = None
    # The site's http:// form when it is known from elsewhere (the proxy's plain listener
    # for the same name); otherwise only an https:// URL on port 443 has one, on port 80.
    http_url: str | None = None


async def probe_site(
    target: SiteTarget, *, limits: Limits, gate: Gate, ca_bundle: str | None
) -> SiteProbe:
    """Probe one site: follow `http://` to `https://`, then TLS, pages and sessions.

    The whole probe runs under a deadline of its own (a few exchange deadlines); a site
    that does not answer at all ends the probe after its first request.
    """
    site = SiteProbe(
        url=target.url,
        origin=target.origin,
        app=target.app,
        session_cookie=target.session_cookie,
        connected_to=_connected_to(target),
    )
    budget = limits.deadline * SITE_DEADLINE_FACTOR
    try:
        async with asyncio.timeout(budget):
            return await _probe_site(site, target, limits, gate, ca_bundle)
    except TimeoutError:
        return replace(site, error=f"the probe of {target.url} did not finish within {budget:g} s")


def _connected_to(target: SiteTarget) -> str:
    if target.connect_address is None:
        return ""
    _, _, port, _ = split_url(target.url)
    address = target.connect_address
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


async def _probe_site(
    site: SiteProbe, target: SiteTarget, limits: Limits, gate: Gate, ca_bundle: str | None
) -> SiteProbe:
    scheme, host, port, _ = split_url(target.url)
    base = target.url
    connect_to = target.connect_address
    if scheme == "http":
        chain, error, elsewhere = await follow_redirects(
            target.url, limits=limits, gate=gate, connect_to=connect_to
        )
        site = replace(
            site, redirect_chain=chain, redirect_error=error, redirect_not_followed=elsewhere
        )
        if chain[0].error and not chain[0].status:
            return replace(site, probed_url=target.url)  # nothing answers there
        if not error and chain[-1].url.startswith("https://"):
            base = chain[-1].url
        # Otherwise the plain http:// site is what users get, and it is probed as such.
    elif target.http_url or urllib.parse.urlsplit(target.url).port is None:
        # A site on the standard port has a known http:// form: port 80 of the same host.
        plain = target.http_url or "http://" + target.url.removeprefix("https://")
        chain, error, elsewhere = await follow_redirects(
            plain, limits=limits, gate=gate, connect_to=connect_to
        )
        site = replace(
            site, redirect_chain=chain, redirect_error=error, redirect_not_followed=elsewhere
        )
    base = _site_root(base)
    site = replace(site, probed_url=base)

    scheme, host, port, _ = split_url(base)
    tasks: dict[str, asyncio.Task[object]] = {}
    async with asyncio.TaskGroup() as group:
        if scheme == "https":
            tasks["tls"] = group.create_task(
                probe_tls(
                    connect_to or host,
                    port,
                    server_name=host,
                    limits=limits,
                    gate=gate,
                    ca_bundle=ca_bundle,
                )
            )
        tasks["pages"] = group.create_task(_pages(base, target, limits, gate))
        tasks["session"] = group.create_task(_session(base, (), target, limits, gate))
        tasks["spoofed"] = group.create_task(_session(base, SPOOF_HEADERS, target, limits, gate))
    return replace(
        site,
        tls=tasks["tls"].result() if "tls" in tasks else None,  # type: ignore[arg-type]
        pages=tasks["pages"].result(),  # type: ignore[arg-type]
        session=tasks["session"].result(),  # type: ignore[arg-type]
        spoofed_session=tasks["spoofed"].result(),  # type: ignore[arg-type]
    )


def _site_root(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    path = parts.path if parts.path.endswith("/") else parts.path.rsplit("/", 1)[0] + "/"
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def _location(response: Response) -> str | None:
    location = response.header("Location")
    return urllib.parse.urljoin(response.url, location.strip()) if location else None


async def follow_redirects(
    url: str, *, limits: Limits, gate: Gate, connect_to: str | None = None
) -> tuple[tuple[Response, ...], str, str]:
    """Return the responses from `url` to the first non-redirect, and what stopped there.

    The second item says what went wrong; the third is a redirect target that was not
    followed (empty when none). With `connect_to`, every hop on the host of `url` connects
    to that address; a redirect to any other host ends the chain: it is returned, not
    followed, since the probe must not leave the address it was given.
    """
    chain: list[Response] = []
    seen = {url}
    current = url
    name = urllib.parse.urlsplit(url).hostname
    for _ in range(limits.max_redirects + 1):
        response = await fetch(current, limits=limits, gate=gate, connect_to=connect_to)
        chain.append(response)
        if response.error:
            return tuple(chain), response.error, ""
        if not 300 <= response.status < 400:
            return tuple(chain), "", ""
        following = _location(response)
        if following is None:
            return tuple(chain), f"{current} answered {response.status} without a Location", ""
        if not following.startswith(("http://", "https://")):
            return tuple(chain), f"{current} redirects to {following}, not an http(s) URL", ""
        if following in seen:
            return tuple(chain), f"a redirect loop: {following} was already visited", ""
        if connect_to is not None and urllib.parse.urlsplit(following).hostname != name:
            return tuple(chain), "", following
        seen.add(following)
        current = following
    return tuple(chain), f"more than {limits.max_redirects} redirects", ""


def _join(base: str, path: str) -> str:
    return urllib.parse.urljoin(base, path.lstrip("/"))


async def _pages(base: str, target: SiteTarget, limits: Limits, gate: Gate) -> tuple[Page, ...]:
    async def one(path: str) -> Page:
        response = await fetch(
            _join(base, path), limits=limits, gate=gate, connect_to=target.connect_address
        )
        direct = None
        if target.runtime_port is not None:
            address = target.runtime_address
            shown = f"[{address}]" if ":" in address else address
            direct = await fetch(
                f"http://{shown}:{target.runtime_port}{path}", limits=limits, gate=gate
            )
        served_by, reason = who_served(response, direct)
        return Page(
            path=path,
            kind="static",
            response=response,
            served_by=served_by,
            served_by_reason=reason,
            direct=direct,
        )

    return tuple(await asyncio.gather(*(one(path) for path in STATIC_PATHS)))


def who_served(response: Response, direct: Response | None) -> tuple[str, str]:
    """Decide whether the proxy or the runtime produced `response`, and say why."""
    if response.error or not 200 <= response.status < 300:
        return "unknown", "the site did not answer this path with content"
    if direct is None:
        return "unknown", "the runtime port is not known or not reachable from here"
    if direct.error or not 200 <= direct.status < 300:
        return "proxy", f"the runtime itself answers {direct.status or direct.error} for this path"
    tag, direct_tag = response.header("ETag"), direct.header("ETag")
    if tag and direct_tag:
        if tag.removeprefix("W/") == direct_tag.removeprefix("W/"):
            return "runtime", f"the site sends the runtime's own ETag {direct_tag}"
        return "proxy", "the site's ETag differs from the runtime's for the same path"
    shared = [
        h.name
        for h in direct.headers
        if h.name.lower() not in _GENERIC and response.header(h.name) == h.value
    ]
    if shared:
        return "runtime", f"the site passes on the runtime's own header {shared[0]}"
    if tag and not direct_tag:
        return "proxy", "the site sends an ETag the runtime does not"
    return "unknown", "the responses carry nothing that tells proxy and runtime apart"


async def _session(
    base: str,
    spoof: Sequence[tuple[str, str]],
    target: SiteTarget,
    limits: Limits,
    gate: Gate,
) -> SessionProbe:
    headers = list(spoof)
    first = await fetch(
        base, limits=limits, gate=gate, headers=headers, connect_to=target.connect_address
    )
    if first.error and not first.status:
        return SessionProbe(
            spoofed_headers=tuple(f"{name}: {value}" for name, value in spoof),
            responses=(first,),
            error=first.error,
        )
    jar = [c.name for c in first.cookies if c.name and not c.problem]
    cookie_header = [("Cookie", "; ".join(f"{name}=probe" for name in jar))] if jar else []
    xas = await fetch(
        _join(base, XAS_PATH),
        limits=limits,
        gate=gate,
        method="POST",
        headers=[*headers, *cookie_header, ("Content-Type", "application/json")],
        body=XAS_BODY,
        connect_to=target.connect_address,
    )
    responses = (first, xas)
    cookies: tuple[Cookie, ...] = first.cookies + xas.cookies
    error = next((r.error for r in responses if r.error), "")
    return SessionProbe(
        spoofed_headers=tuple(f"{name}: {value}" for name, value in spoof),
        responses=responses,
        cookies=cookies,
        error=error,
    )


async def probe_port(
    address: str,
    port: int,
    *,
    role: str,
    app: str | None,
    vantage: str,
    limits: Limits,
    gate: Gate,
) -> PortProbe:
    """Return whether `address:port` accepts a TCP connection (and answers HTTP)."""
    probe = PortProbe(address=address, port=port, role=role, app=app, vantage=vantage)
    async with gate.slot(address):
        try:
            async with asyncio.timeout(limits.connect_timeout):
                _, writer = await asyncio.open_connection(address, port)
        except TimeoutError:
            return replace(
                probe, state="filtered", detail=f"no answer in {limits.connect_timeout:g} s"
            )
        except ConnectionRefusedError:
            return replace(probe, state="closed", detail="connection refused")
        except OSError as exc:
            state = "filtered" if exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH) else "error"
            return replace(probe, state=state, detail=exc.strerror or str(exc))
        writer.close()
    shown = f"[{address}]" if ":" in address else address
    response = await fetch(f"http://{shown}:{port}/", limits=limits, gate=gate)
    return replace(
        probe,
        state="open",
        detail="accepted a TCP connection",
        http_status=response.status,
    )


async def probe_admin(
    address: str,
    port: int,
    *,
    app: str | None,
    vantage: str,
    try_defaults: bool,
    limits: Limits,
    gate: Gate,
) -> AdminProbe:
    """Ask the admin API for `runtime_status` without a password, then with each default."""
    probe = AdminProbe(address=address, port=port, app=app, vantage=vantage)
    budget = limits.deadline * SITE_DEADLINE_FACTOR
    try:
        async with asyncio.timeout(budget):
            return await _probe_admin(probe, try_defaults, limits, gate)
    except TimeoutError:
        return replace(probe, error=f"the admin probe did not finish within {budget:g} s")


async def _probe_admin(
    probe: AdminProbe, try_defaults: bool, limits: Limits, gate: Gate
) -> AdminProbe:
    shown = f"[{probe.address}]" if ":" in probe.address else probe.address
    url = f"http://{shown}:{probe.port}/"

    response, body = await _admin_call(url, None, limits, gate)
    if response.error and not response.status:
        return replace(probe, error=response.error)
    result = _result_code(body)
    refused = response.status >= 400 or (result is not None and result != 0)
    probe = replace(
        probe,
        unauthenticated_status=response.status,
        unauthenticated_result=result,
        is_unauthenticated_refused=refused,
    )
    if not try_defaults:
        return probe

    accepted = 0
    for password in DEFAULT_ADMIN_PASSWORDS:
        answer, reply = await _admin_call(url, password, limits, gate)
        if answer.status == 200 and _result_code(reply) == 0:
            accepted += 1
    return replace(probe, defaults_tried=len(DEFAULT_ADMIN_PASSWORDS), defaults_accepted=accepted)


async def _admin_call(
    url: str, password: str | None, limits: Limits, gate: Gate
) -> tuple[Response, bytes]:
    headers = [("Content-Type", "application/json")]
    if password is not None:
        token = base64.b64encode(password.encode("utf-8")).decode("ascii")
        headers.append(("X-M2EE-Authentication", token))
    body = json.dumps({"action": "runtime_status", "params": {}}).encode()
    return await exchange(
        url, limits=limits, gate=gate, method="POST", headers=headers, body=body, keep_body=True
    )


def _result_code(body: bytes) -> int | None:
    if not body:
        return None
    try:
        document = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    result = document.get("result") if isinstance(document, dict) else None
    return result if isinstance(result, int) and not isinstance(result, bool) else None


def now_ms(started: float) -> int:
    """Return the milliseconds since `started` (a `time.monotonic` value)."""
    return int((time.monotonic() - started) * 1000)
