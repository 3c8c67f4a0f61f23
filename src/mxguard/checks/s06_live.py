"""§6 over the network — the runtime port does not answer from outside the host."""

from __future__ import annotations

from collections.abc import Iterator

from mxguard.checks import ports
from mxguard.checks.registry import Outcome, check
from mxguard.facts import Snapshot
from mxguard.model import Severity


@check(
    id="runtime-port-reachable-from-outside",
    section="6",
    title="The runtime port answers from another host",
    severity=Severity.HIGH,
    rationale=(
        "Whoever reaches the runtime port directly bypasses the proxy: no HTTPS, no security "
        "headers, and forwarded-scheme headers of their own choosing."
    ),
    remediation=(
        'Bind the runtime to loopback (runtime_listen_addresses: "127.0.0.1,::1") or, with the '
        "proxy on another host, admit only that host in the firewall."
    ),
)
def runtime_port_reachable_from_outside(snapshot: Snapshot) -> Iterator[Outcome]:
    """Fail a runtime port that accepted a connection in a probe from another host."""
    return ports.reachable(snapshot, "runtime")
