"""Hostile and broken servers: each yields its finding within the probe deadline, never a hang."""

from __future__ import annotations

import contextlib
import http.server
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
import trustme
from livelab import FAST, audit_live

from mxguard.model import Finding, Status

# The probes run several requests per site in parallel; the whole audit must stay close to
# one deadline, far from "several deadlines in a row" and nowhere near a hang.
BUDGET = FAST.deadline * 2 + 2


class _Raw:
    """A TCP server whose every connection is handled by `handle` in a thread of its own."""

    def __init__(self, handle: Callable[[socket.socket], None]) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = int(self.listener.getsockname()[1])
        self.handle = handle
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        with contextlib.suppress(OSError), connection:
            self.handle(connection)

    def close(self) -> None:
        self.stopped.set()
        self.listener.close()


@contextlib.contextmanager
def raw_server(handle: Callable[[socket.socket], None]) -> Iterator[_Raw]:
    server = _Raw(handle)
    try:
        yield server
    finally:
        server.close()


def _read_request(connection: socket.socket) -> bytes:
    connection.settimeout(5)
    data = b""
    while b"\r\n\r\n" not in data and len(data) < 65536:
        chunk = connection.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def _audit(url: str, **options: object) -> tuple[dict[tuple[str, str], Finding], float]:
    started = time.monotonic()
    _, findings = audit_live(urls=(url,), **options)  # type: ignore[arg-type]
    return findings, time.monotonic() - started


def test_a_server_that_drips_one_byte_at_a_time_ends_at_the_deadline() -> None:
    def drip(connection: socket.socket) -> None:
        _read_request(connection)
        for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 1000:
            connection.sendall(bytes([byte]))
            time.sleep(1.0)

    with raw_server(drip) as server:
        url = f"http://127.0.0.1:{server.port}/"
        findings, elapsed = _audit(url)

    finding = findings[("site-does-not-answer", f"url:{url}")]
    assert finding.status is Status.ERROR
    assert f"within {FAST.deadline:g} s" in finding.message and url in finding.message
    assert elapsed < BUDGET


def test_a_header_of_one_megabyte_is_cut_off_at_the_cap() -> None:
    def huge(connection: socket.socket) -> None:
        _read_request(connection)
        connection.sendall(b"HTTP/1.1 200 OK\r\nX-Huge: " + b"h" * (1024 * 1024) + b"\r\n\r\n")

    with raw_server(huge) as server:
        url = f"http://127.0.0.1:{server.port}/"
        findings, elapsed = _audit(url)

    finding = findings[("site-does-not-answer", f"url:{url}")]
    assert finding.status is Status.ERROR
    assert "header block is larger than the cap" in finding.message
    assert elapsed < BUDGET


def test_a_redirect_loop_fails_the_redirect_check() -> None:
    def loop(connection: socket.socket) -> None:
        request = _read_request(connection)
        target = b"/b" if b"GET /a" in request else b"/a"
        connection.sendall(
            b"HTTP/1.1 302 Found\r\nLocation: " + target + b"\r\nContent-Length: 0\r\n\r\n"
        )

    with raw_server(loop) as server:
        url = f"http://127.0.0.1:{server.port}/"
        findings, elapsed = _audit(url)

    finding = findings[("http-not-redirected-to-https", f"url:{url}")]
    assert finding.status is Status.FAIL
    assert "redirect loop" in finding.message
    assert elapsed < BUDGET


def test_tls_garbage_fails_the_handshake_check() -> None:
    def garbage(connection: socket.socket) -> None:
        connection.recv(1024)
        connection.sendall(b"this is not TLS at all\r\n" * 64)

    with raw_server(garbage) as server:
        url = f"https://127.0.0.1:{server.port}/"
        findings, elapsed = _audit(url)

    finding = findings[("tls-handshake-fails", f"url:{url}")]
    assert finding.status is Status.FAIL
    assert "does not speak TLS" in finding.message and url in finding.message
    assert elapsed < BUDGET


def test_a_reset_in_the_middle_of_the_handshake_fails_the_handshake_check() -> None:
    def reset(connection: socket.socket) -> None:
        connection.recv(1024)  # the ClientHello
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    with raw_server(reset) as server:
        url = f"https://127.0.0.1:{server.port}/"
        findings, elapsed = _audit(url)

    finding = findings[("tls-handshake-fails", f"url:{url}")]
    assert finding.status is Status.FAIL
    assert "reset" in finding.message.lower()
    assert elapsed < BUDGET


class _Page(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    cookies: tuple[bytes, ...] = ()

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._answer()

    def _answer(self) -> None:
        body = b"ok\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def end_headers(self) -> None:
        for line in self.cookies:
            self.send_header("Set-Cookie", line.decode("latin-1"))
        super().end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        return


@contextlib.contextmanager
def https_server(cert: trustme.LeafCert) -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    cert.configure_cert(context)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


def test_an_expired_certificate_fails_the_expiry_check(ca: trustme.CA, ca_bundle: str) -> None:
    now = datetime.now(UTC)
    cert = ca.issue_cert(
        "127.0.0.1", not_before=now - timedelta(days=60), not_after=now - timedelta(days=1)
    )
    with https_server(cert) as port:
        url = f"https://127.0.0.1:{port}/"
        findings, elapsed = _audit(url, ca_bundle=ca_bundle)

    finding = findings[("live-tls-certificate-expired", f"url:{url}")]
    assert finding.status is Status.FAIL and "expired" in finding.message
    assert findings[("live-tls-certificate-untrusted", f"url:{url}")].status is Status.FAIL
    assert elapsed < BUDGET


def test_a_self_signed_certificate_is_untrusted(ca: trustme.CA) -> None:
    # The CA's own certificate is self-signed; without --ca-bundle nothing trusts it.
    with https_server(ca.issue_cert("127.0.0.1")) as port:
        url = f"https://127.0.0.1:{port}/"
        findings, _ = _audit(url)

    finding = findings[("live-tls-certificate-untrusted", f"url:{url}")]
    assert finding.status is Status.FAIL
    assert finding.evidence["trust_store"] == "system"


def test_the_same_certificate_passes_with_its_ca_bundle(ca: trustme.CA, ca_bundle: str) -> None:
    with https_server(ca.issue_cert("127.0.0.1")) as port:
        url = f"https://127.0.0.1:{port}/"
        findings, _ = _audit(url, ca_bundle=ca_bundle)

    assert findings[("live-tls-certificate-untrusted", f"url:{url}")].status is Status.PASS
    assert findings[("live-tls-certificate-name-mismatch", f"url:{url}")].status is Status.PASS
    assert findings[("live-tls-certificate-expired", f"url:{url}")].status is Status.PASS
    assert findings[("tls-certificate-key-weak", f"url:{url}")].status is Status.PASS


def test_a_certificate_for_another_host_fails_the_hostname_check(
    ca: trustme.CA, ca_bundle: str
) -> None:
    with https_server(ca.issue_cert("wrong.example")) as port:
        url = f"https://127.0.0.1:{port}/"
        findings, _ = _audit(url, ca_bundle=ca_bundle)

    finding = findings[("live-tls-certificate-name-mismatch", f"url:{url}")]
    assert finding.status is Status.FAIL
    assert "wrong.example" in finding.message and url in finding.message


def test_malformed_cookie_headers_are_reported_not_fatal(
    loopback_cert: trustme.LeafCert, ca_bundle: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        _Page,
        "cookies",
        (b"no-equals-sign; Secure", b"=empty-name", b"bad name\xff=1; HttpOnly"),
    )
    with https_server(loopback_cert) as port:
        url = f"https://127.0.0.1:{port}/"
        findings, _ = _audit(url, ca_bundle=ca_bundle)

    finding = findings[("set-cookie-malformed", f"url:{url}")]
    assert finding.status is Status.WARN
    assert "no name=value pair" in finding.message
    assert findings[("site-does-not-answer", f"url:{url}")].status is Status.PASS


def test_a_closed_port_is_reported_with_its_url() -> None:
    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        port = placeholder.getsockname()[1]
    url = f"http://127.0.0.1:{port}/"

    findings, elapsed = _audit(url)

    finding = findings[("site-does-not-answer", f"url:{url}")]
    assert finding.status is Status.ERROR and "cannot connect" in finding.message
    assert elapsed < BUDGET


def test_the_progress_bar_path_probes_like_the_quiet_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from mxguard.collect.live import LiveOptions, collect_live

    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        port = placeholder.getsockname()[1]
    urls = tuple(f"http://127.0.0.1:{port}/{n}/" for n in range(25))

    live = collect_live(LiveOptions(urls=urls, limits=FAST, show_progress=True), ())

    assert len(live.sites) == 25
    assert all("cannot connect" in s.redirect_error for s in live.sites)
    assert capsys.readouterr().out == ""  # progress goes to standard error only
