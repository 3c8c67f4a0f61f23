"""§6 — nobody but the reverse proxy reaches the runtime port (configuration and sockets)."""

from __future__ import annotations

from collections.abc import Iterator

from mxguard.checks import listening
from mxguard.checks.registry import Outcome, check
from mxguard.facts import Snapshot
from mxguard.model import Severity


@check(
    id="runtime-port-listens-beyond-loopback",
    section="6",
    title="The runtime port is configured to listen beyond loopback",
    severity=Severity.HIGH,
    rationale=(
        "When the runtime port listens on a network address, users and attackers can bypass "
        "the proxy and its HTTPS by connecting to it directly."
    ),
    remediation=(
        'Set runtime_listen_addresses: "127.0.0.1,::1" in the m2ee config and restart; only a '
        "proxy on another host justifies a specific address, behind a firewall."
    ),
)
def runtime_port_listens_beyond_loopback(snapshot: Snapshot) -> Iterator[Outcome]:
    """Judge `runtime_listen_addresses` as configured."""
    return listening.configured(snapshot, listening.RUNTIME)


@check(
    id="runtime-port-bound-beyond-loopback",
    section="6",
    title="The runtime port is bound to a non-loopback address",
    severity=Severity.HIGH,
    rationale=(
        "The socket shows where the runtime really accepts connections, whatever the config says."
    ),
    remediation="Restart the runtime with runtime_listen_addresses set to loopback.",
)
def runtime_port_bound_beyond_loopback(snapshot: Snapshot) -> Iterator[Outcome]:
    """Judge where the runtime port is bound."""
    return listening.bound(snapshot, listening.RUNTIME)


@check(
    id="runtime-listen-config-contradicts-socket",
    section="6",
    title="The running runtime port disagrees with the configuration",
    severity=Severity.MEDIUM,
    rationale=(
        "A runtime started with other settings than its config will change exposure at the "
        "next restart, and an audit of the config alone would misjudge it."
    ),
    remediation="Restart the runtime so that it runs with the configured settings.",
)
def runtime_listen_config_contradicts_socket(snapshot: Snapshot) -> Iterator[Outcome]:
    """Compare the runtime port's config, process environment and sockets."""
    return listening.contradictions(snapshot, listening.RUNTIME)
