"""A stand-in process whose command line looks like a Mendix 7+ runtime's.

It is not a Mendix runtime: it only binds the admin and runtime ports where the M2EE_*
environment tells it to, as the runtime does, and waits. Stdlib only, so that
`/usr/bin/python3` can run it as any account. Its argv is
`… -jar APP_BASE/runtimes/VERSION/runtime/launcher/runtimelauncher.jar APP_BASE`.
"""

import os
import signal
import socket
import sys


def listen(addresses: str, port: int) -> list[socket.socket]:
    sockets = []
    for address in addresses.replace(",", " ").split():
        host = "0.0.0.0" if address == "*" else address
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind((host, port))
        sock.listen(8)
        sockets.append(sock)
    return sockets


def main() -> None:
    environment = os.environ
    held = listen(
        environment.get("M2EE_RUNTIME_LISTEN_ADDRESSES", "127.0.0.1"),
        int(environment["M2EE_RUNTIME_PORT"]),
    )
    held += listen(
        environment.get("M2EE_ADMIN_LISTEN_ADDRESSES", "127.0.0.1"),
        int(environment["M2EE_ADMIN_PORT"]),
    )
    print("ready", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.pause()


if __name__ == "__main__":
    main()
