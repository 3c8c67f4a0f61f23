"""An emulator of the Mendix runtime's HTTP behaviour, for tests and the demo; not Mendix.

It reproduces only what mxguard's live probes look at:

- the runtime port: session cookies that are `Secure` (and `__Host-` prefixed) only when
  the request carries `X-Forwarded-Scheme: https` or `X-Forwarded-Proto: https`, a `/xas/`
  endpoint, and files of the project's `web/` folder for every other path, so that a proxy
  that forwards everything to the runtime is visible;
- the admin port: `POST /` with a JSON action, authenticated by `X-M2EE-Authentication`
  (the base64 of the password), answering `echo`, `about` and `runtime_status` with the
  result codes of the real admin API.

Its command line looks like a Mendix 7+ launcher (`... runtimelauncher.jar APP_BASE`) so
that the host collector recognises it, and it reads the `M2EE_*` environment variables a
runtime reads. Every response carries `X-Mxguard-Emulator`, and the startup line says what
it is. It uses the standard library only: tests run it with /usr/bin/python3 under other
accounts, outside mxguard's virtual environment.

    python3 -m mxguard.lab.emulator [--session-cookie NAME] [--version V] \
        /opt/mendix/V/runtime/launcher/runtimelauncher.jar APP_BASE
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import hmac
import http.server
import json
import mimetypes
import os
import posixpath
import secrets
import signal
import socket
import socketserver
import sys
import threading
import urllib.parse
from collections.abc import Sequence
from typing import Any

EMULATOR_HEADER = "X-Mxguard-Emulator"
EMULATOR_BANNER = "mxguard runtime emulator (not a Mendix runtime)"
DEFAULT_VERSION = "10.6.1.24711"
MAX_REQUEST_BODY = 1024 * 1024

# Result codes of the admin API, as clients of the real runtime know them.
RESULT_OK = 0
RESULT_REQUEST_NULL = -1
RESULT_CONTENT_TYPE = -2
RESULT_METHOD = -3
RESULT_FORBIDDEN = -4
RESULT_ACTION_NOT_FOUND = -5
RESULT_READ_REQUEST = -6


class Settings:
    """What one emulated runtime was told, from its command line and environment."""

    def __init__(self, args: argparse.Namespace, environment: dict[str, str]) -> None:
        self.app_base = os.path.abspath(args.app_base)
        self.web = os.path.join(self.app_base, "web")
        self.version = args.version
        self.cookie_name = args.session_cookie
        self.runtime_port = int(environment.get("M2EE_RUNTIME_PORT", "8080"))
        self.admin_port = int(environment.get("M2EE_ADMIN_PORT", "9000"))
        self.admin_pass = environment.get("M2EE_ADMIN_PASS", "")
        self.runtime_addresses = listen_addresses(environment.get("M2EE_RUNTIME_LISTEN_ADDRESSES"))
        self.admin_addresses = listen_addresses(environment.get("M2EE_ADMIN_LISTEN_ADDRESSES"))
        self.started = False


def listen_addresses(value: str | None) -> list[str]:
    """Return the addresses to bind for a `*_LISTEN_ADDRESSES` value (unset: loopback)."""
    if value is None or not value.strip():
        return ["127.0.0.1", "::1"] if socket.has_ipv6 else ["127.0.0.1"]
    addresses = [part.strip() for part in value.replace(",", " ").split() if part.strip()]
    if "*" in addresses:
        return ["0.0.0.0"]
    return addresses


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: str, port: int, handler: type, settings: Settings) -> None:
        self.address_family = socket.AF_INET6 if ":" in address else socket.AF_INET
        self.settings = settings
        super().__init__((address, port), handler)

    def server_bind(self) -> None:
        if self.address_family == socket.AF_INET6:
            self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        socketserver.TCPServer.server_bind(self)


class _Handler(http.server.BaseHTTPRequestHandler):
    server_version = "MendixRuntimeEmulator"
    sys_version = ""
    protocol_version = "HTTP/1.1"
    timeout = 30

    @property
    def settings(self) -> Settings:
        server: Any = self.server
        settings: Settings = server.settings
        return settings

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        return

    def _body(self) -> bytes | None:
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            return None
        if length < 0 or length > MAX_REQUEST_BODY:
            return None
        return self.rfile.read(length) if length else b""

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str,
        extra: Sequence[tuple[str, str]] = (),
    ) -> None:
        self.send_response(status)
        self.send_header(EMULATOR_HEADER, "mxguard-lab")
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in extra:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


class RuntimeHandler(_Handler):
    """The runtime port: `/xas/`, static files of `web/`, and session cookies."""

    def do_GET(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        path = urllib.parse.urlsplit(self.path).path
        if path.startswith("/xas/") or path == "/xas":
            self._xas()
            return
        if self.command == "POST":
            self._send(405, b"method not allowed\n", "text/plain")
            return
        self._static(path)

    def _is_secure(self) -> bool:
        # The runtime believes the scheme the proxy says the client used; nothing else.
        for name in ("X-Forwarded-Scheme", "X-Forwarded-Proto"):
            for value in self.headers.get_all(name) or []:
                if value.split(",")[0].strip().lower() == "https":
                    return True
        return False

    def _cookies(self) -> list[tuple[str, str]]:
        secure = self._is_secure()
        base = self.settings.cookie_name
        name = f"__Host-{base}" if secure else base
        flags = "; Path=/; HttpOnly; SameSite=Strict" + ("; Secure" if secure else "")
        readable = "; Path=/; SameSite=Strict" + ("; Secure" if secure else "")
        return [
            ("Set-Cookie", f"{name}={secrets.token_hex(16)}{flags}"),
            ("Set-Cookie", f"xasid=0.{secrets.token_hex(8)}{flags}"),
            ("Set-Cookie", f"DeviceType=Desktop{readable}"),
        ]

    def _xas(self) -> None:
        if self.command == "POST" and self._body() is None:
            self._send(400, b'{"error": "unreadable request"}', "application/json")
            return
        reply = json.dumps({"emulator": True, "sessionData": {"anonymous": True}}).encode()
        has_session = any(
            part.strip().split("=", 1)[0].endswith(self.settings.cookie_name)
            for part in (self.headers.get("Cookie") or "").split(";")
        )
        cookies = [] if has_session else self._cookies()
        self._send(200, reply, "application/json", [*cookies, ("Cache-Control", "no-store")])

    def _static(self, path: str) -> None:
        relative = posixpath.normpath(urllib.parse.unquote(path)).lstrip("/")
        if relative in ("", "."):
            relative = "index.html"
        if relative.startswith("..") or "\x00" in relative:
            self._send(404, b"not found\n", "text/plain")
            return
        target = os.path.join(self.settings.web, relative)
        real = os.path.realpath(target)
        if os.path.isdir(real):
            real = os.path.join(real, "index.html")
        try:
            with open(real, "rb") as handle:
                body = handle.read(16 * 1024 * 1024)
        except OSError:
            self._send(404, b"not found\n", "text/plain")
            return
        kind = mimetypes.guess_type(real)[0] or "application/octet-stream"
        tag = hashlib.sha256(body).hexdigest()[:24]
        self._send(200, body, kind, [("ETag", f'"mx-{tag}"'), ("Cache-Control", "no-cache")])


class AdminHandler(_Handler):
    """The admin port: `POST /` with a JSON action, behind `X-M2EE-Authentication`."""

    def do_GET(self) -> None:
        self._result(405, RESULT_METHOD, "only POST is accepted")

    def do_PUT(self) -> None:
        self._result(405, RESULT_METHOD, "only POST is accepted")

    def do_POST(self) -> None:
        body = self._body()
        if body is None:
            self._result(400, RESULT_READ_REQUEST, "the request could not be read")
            return
        if not self._is_authenticated():
            self._result(401, RESULT_FORBIDDEN, "wrong or missing X-M2EE-Authentication")
            return
        if not (self.headers.get("Content-Type") or "").startswith("application/json"):
            self._result(400, RESULT_CONTENT_TYPE, "the content type must be application/json")
            return
        try:
            request = json.loads(body.decode("utf-8")) if body else None
        except (UnicodeDecodeError, ValueError):
            self._result(400, RESULT_READ_REQUEST, "the request is not JSON")
            return
        if not isinstance(request, dict):
            self._result(400, RESULT_REQUEST_NULL, "the request is empty")
            return
        self._action(str(request.get("action")), request.get("params") or {})

    def _is_authenticated(self) -> bool:
        given = self.headers.get("X-M2EE-Authentication")
        expected = self.settings.admin_pass
        if given is None or not expected:
            return False
        try:
            password = base64.b64decode(given, validate=True)
        except (binascii.Error, ValueError):
            return False
        return hmac.compare_digest(password, expected.encode("utf-8"))

    def _action(self, action: str, params: Any) -> None:
        settings = self.settings
        if action == "echo":
            echo = params.get("echo") if isinstance(params, dict) else None
            self._result(200, RESULT_OK, feedback={"echo": "pong" if echo == "ping" else echo})
        elif action == "about":
            feedback = {
                "name": "Mendix Runtime (mxguard emulator)",
                "version": settings.version,
                "model_version": "1.0.0",
                "emulator": True,
            }
            self._result(200, RESULT_OK, feedback=feedback)
        elif action == "runtime_status":
            self._result(200, RESULT_OK, feedback={"status": "running"})
        else:
            self._result(200, RESULT_ACTION_NOT_FOUND, f"action {action!r} not found")

    def _result(
        self, status: int, result: int, message: str = "", feedback: dict[str, Any] | None = None
    ) -> None:
        reply: dict[str, Any] = {"result": result, "feedback": feedback or {}}
        if message:
            reply["message"] = message
        self._send(status, json.dumps(reply).encode(), "application/json")


def serve(settings: Settings) -> list[_Server]:
    """Bind every listen address of both ports and serve them in background threads."""
    servers = []
    for addresses, port, handler in (
        (settings.runtime_addresses, settings.runtime_port, RuntimeHandler),
        (settings.admin_addresses, settings.admin_port, AdminHandler),
    ):
        for address in addresses:
            try:
                server = _Server(address, port, handler, settings)
            except OSError as exc:
                if address == "::1" and len(addresses) > 1:
                    continue  # a host without IPv6 loopback still serves 127.0.0.1
                raise SystemExit(f"{EMULATOR_BANNER}: cannot bind {address}:{port}: {exc}") from exc
            servers.append(server)
            threading.Thread(target=server.serve_forever, args=(0.2,), daemon=True).start()
    return servers


def main(argv: Sequence[str] | None = None) -> int:
    """Run the emulator until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(prog="mxguard.lab.emulator", description=EMULATOR_BANNER)
    parser.add_argument("--version", default=DEFAULT_VERSION, help="the runtime version to claim")
    parser.add_argument("--session-cookie", default="XASSESSIONID", help="the session cookie")
    parser.add_argument("launcher", help="a path ending in runtimelauncher.jar (not opened)")
    parser.add_argument("app_base", help="the project folder; static files come from its web/")
    args = parser.parse_args(argv)
    if not args.launcher.endswith("runtimelauncher.jar"):
        parser.error("the first argument must name a runtimelauncher.jar, as a runtime's does")

    settings = Settings(args, dict(os.environ))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    servers = serve(settings)
    bound = ", ".join(
        f"{s.server_address[0]!s}:{s.server_address[1]}"
        f" ({'admin' if s.RequestHandlerClass is AdminHandler else 'runtime'})"
        for s in servers
    )
    print(f"{EMULATOR_BANNER} {settings.version} for {settings.app_base}: {bound}", flush=True)
    stop.wait()
    # Each server's loop notices a shutdown only at its next poll; stop them all at once.
    stoppers = [threading.Thread(target=server.shutdown) for server in servers]
    for stopper in stoppers:
        stopper.start()
    for stopper in stoppers:
        stopper.join()
    for server in servers:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
