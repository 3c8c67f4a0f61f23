"""One HTTP/1.1 exchange over asyncio streams with h11, under hard caps and a deadline.

h11 parses; this module owns the socket, so that every limit is enforced where the bytes
arrive: a connect timeout, a read timeout per chunk, a deadline for the whole exchange,
a cap on the header block (h11's own incomplete-event limit) and a cap on the body. A
hostile server can make an exchange fail, never hang or exhaust the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import ssl
import time
import urllib.parse
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

import h11

from mxguard.live.cookies import parse_set_cookie
from mxguard.live.facts import Header, Response

logger = logging.getLogger(__name__)

USER_AGENT = "mxguard-live-probe"


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """The bounds every probe runs under."""

    connect_timeout: float = 5.0
    read_timeout: float = 5.0
    deadline: float = 15.0  # one exchange or handshake, from start to end
    max_header_bytes: int = 64 * 1024
    max_body_bytes: int = 1024 * 1024
    max_redirects: int = 5
    per_host: int = 6
    overall: int = 200


class Gate:
    """Bounds the number of open connections overall and per host."""

    def __init__(self, limits: Limits) -> None:
        self._limits = limits
        self._overall = asyncio.Semaphore(limits.overall)
        self._hosts: dict[str, asyncio.Semaphore] = {}

    @contextlib.asynccontextmanager
    async def slot(self, host: str) -> AsyncIterator[None]:
        """Hold one connection slot for `host` (and one overall) while the block runs."""
        per_host = self._hosts.setdefault(host, asyncio.Semaphore(self._limits.per_host))
        async with self._overall, per_host:
            yield


def insecure_context() -> ssl.SSLContext:
    """Return a client context that accepts any certificate: trust is judged separately."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def split_url(url: str) -> tuple[str, str, int, str]:
    """Return scheme, host, port and request target of an `http(s)://` URL."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {url}")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    return parts.scheme, parts.hostname, port, target


def host_header(host: str, port: int, scheme: str) -> str:
    """Return the Host header for `host:port` under `scheme`."""
    shown = f"[{host}]" if ":" in host else host
    default = 443 if scheme == "https" else 80
    return shown if port == default else f"{shown}:{port}"


async def fetch(
    url: str,
    *,
    limits: Limits,
    gate: Gate,
    method: str = "GET",
    headers: Sequence[tuple[str, str]] = (),
    body: bytes = b"",
    context: ssl.SSLContext | None = None,
    connect_to: str | None = None,
) -> Response:
    """Perform one request and return what came back; failures become `Response.error`.

    With `connect_to`, the connection goes to that address at the URL's port, while TLS
    (SNI) and the `Host` header still name the URL's host, which is then never resolved.
    """
    response, _ = await exchange(
        url,
        limits=limits,
        gate=gate,
        method=method,
        headers=headers,
        body=body,
        context=context,
        connect_to=connect_to,
    )
    return response


async def exchange(
    url: str,
    *,
    limits: Limits,
    gate: Gate,
    method: str = "GET",
    headers: Sequence[tuple[str, str]] = (),
    body: bytes = b"",
    context: ssl.SSLContext | None = None,
    keep_body: bool = False,
    connect_to: str | None = None,
) -> tuple[Response, bytes]:
    """Perform one request; return the response and, with `keep_body`, its (capped) body.

    `connect_to` is an address to connect to instead of the URL's host (see `fetch`).
    """
    started = time.monotonic()
    try:
        scheme, host, port, target = split_url(url)
    except ValueError as exc:
        return Response(url=url, method=method, error=str(exc)), b""
    kept = bytearray() if keep_body else None
    peer = _Peer(name=host, address=connect_to or host, port=port)
    async with gate.slot(peer.address):
        try:
            async with asyncio.timeout(limits.deadline):
                response = await _exchange(
                    url, scheme, peer, target, method, headers, body, limits, context, kept
                )
        except TimeoutError:
            response = Response(
                url=url, method=method, error=f"no complete answer within {limits.deadline:g} s"
            )
    elapsed = int((time.monotonic() - started) * 1000)
    logger.debug(
        "%s %s -> %s in %d ms %s", method, url, response.status, elapsed, response.error or ""
    )
    return Response(
        url=response.url,
        method=response.method,
        status=response.status,
        headers=response.headers,
        cookies=response.cookies,
        body_sha256=response.body_sha256,
        body_bytes=response.body_bytes,
        is_body_truncated=response.is_body_truncated,
        error=response.error,
        elapsed_ms=elapsed,
    ), bytes(kept or b"")


@dataclass(frozen=True, slots=True, kw_only=True)
class _Peer:
    """Where a request goes: the host it names (SNI, `Host`) and the address connected to."""

    name: str
    address: str
    port: int

    @property
    def shown(self) -> str:
        """Return `name:port`, with the address connected to when it is another one."""
        where = f"{self.name}:{self.port}"
        return where if self.address == self.name else f"{where} at {self.address}"


async def _exchange(
    url: str,
    scheme: str,
    peer: _Peer,
    target: str,
    method: str,
    headers: Sequence[tuple[str, str]],
    body: bytes,
    limits: Limits,
    context: ssl.SSLContext | None,
    kept: bytearray | None,
) -> Response:
    def failure(message: str) -> Response:
        return Response(url=url, method=method, error=message)

    tls = (context or insecure_context()) if scheme == "https" else None
    try:
        async with asyncio.timeout(limits.connect_timeout):
            reader, writer = await asyncio.open_connection(
                peer.address,
                peer.port,
                ssl=tls,
                server_hostname=peer.name if tls else None,
                ssl_handshake_timeout=limits.connect_timeout if tls else None,
                limit=64 * 1024,
            )
    except TimeoutError:
        return failure(f"connecting to {peer.shown} timed out after {limits.connect_timeout:g} s")
    except ssl.SSLError as exc:
        return failure(f"TLS handshake with {peer.shown} failed: {exc.reason or exc}")
    except OSError as exc:
        return failure(f"cannot connect to {peer.shown}: {exc.strerror or exc}")

    try:
        return await _converse(
            url, scheme, peer.name, peer.port, target, method, headers, body, limits, reader,
            writer, kept,
        )  # fmt: skip
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(1.0):
                await writer.wait_closed()


async def _converse(
    url: str,
    scheme: str,
    host: str,
    port: int,
    target: str,
    method: str,
    headers: Sequence[tuple[str, str]],
    body: bytes,
    limits: Limits,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    kept: bytearray | None,
) -> Response:
    connection = h11.Connection(h11.CLIENT, max_incomplete_event_size=limits.max_header_bytes)
    request_headers = [
        ("Host", host_header(host, port, scheme)),
        ("User-Agent", USER_AGENT),
        ("Accept", "*/*"),
        ("Connection", "close"),
        *headers,
    ]
    if body or method == "POST":
        request_headers.append(("Content-Length", str(len(body))))
    try:
        writer.write(
            connection.send(h11.Request(method=method, target=target, headers=request_headers))
        )
        if body:
            writer.write(connection.send(h11.Data(data=body)))
        writer.write(connection.send(h11.EndOfMessage()))
        await writer.drain()
    except (OSError, ssl.SSLError) as exc:
        return Response(url=url, method=method, error=f"sending the request failed: {exc}")

    status = 0
    received: list[Header] = []
    digest = hashlib.sha256()
    size = 0
    truncated = False
    while True:
        try:
            event = connection.next_event()
        except h11.RemoteProtocolError as exc:
            why = (
                "the header block is larger than the cap"
                if "too long" in str(exc).lower()
                else str(exc)
            )
            return _partial(url, method, status, received, f"malformed response: {why}")
        if event is h11.NEED_DATA:
            try:
                async with asyncio.timeout(limits.read_timeout):
                    chunk = await reader.read(65536)
            except TimeoutError:
                return _partial(
                    url, method, status, received, f"no data for {limits.read_timeout:g} s"
                )
            except (OSError, ssl.SSLError) as exc:
                return _partial(url, method, status, received, f"connection failed: {exc}")
            connection.receive_data(chunk)  # b"" tells h11 the server closed the connection
            continue
        if isinstance(event, h11.InformationalResponse):
            continue
        if isinstance(event, h11.Response):
            status = event.status_code
            received = [
                Header(name=name.decode("latin-1"), value=value.decode("latin-1"))
                for name, value in event.headers
            ]
            continue
        if isinstance(event, h11.Data):
            size += len(event.data)
            if size > limits.max_body_bytes:
                truncated = True
                break
            digest.update(event.data)
            if kept is not None:
                kept.extend(event.data)
            continue
        break  # the end of the message, or the connection closed

    cookies = tuple(parse_set_cookie(h.value) for h in received if h.name.lower() == "set-cookie")
    return Response(
        url=url,
        method=method,
        status=status,
        headers=tuple(h for h in received if h.name.lower() != "set-cookie"),
        cookies=cookies,
        body_sha256=digest.hexdigest() if not truncated else "",
        body_bytes=size,
        is_body_truncated=truncated,
    )


def _partial(url: str, method: str, status: int, headers: list[Header], error: str) -> Response:
    return Response(
        url=url,
        method=method,
        status=status,
        headers=tuple(h for h in headers if h.name.lower() != "set-cookie"),
        error=error,
    )
