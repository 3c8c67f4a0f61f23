"""§8 over the network — the admin port is unreachable from outside and refuses strangers."""

from __future__ import annotations

from collections.abc import Iterator

from mxguard.checks import ports
from mxguard.checks.live_common import not_probed, port_subject
from mxguard.checks.registry import Outcome, check, failed, passed, skipped
from mxguard.facts import Snapshot
from mxguard.live.facts import AdminProbe
from mxguard.model import Severity


@check(
    id="admin-port-reachable-from-outside",
    section="8",
    title="The admin port answers from another host",
    severity=Severity.HIGH,
    rationale=(
        "The admin API controls the runtime over plain HTTP; only the host's own tools "
        "should reach it."
    ),
    remediation=('Set admin_listen_addresses: "127.0.0.1,::1" and block the port in the firewall.'),
)
def admin_port_reachable_from_outside(snapshot: Snapshot) -> Iterator[Outcome]:
    """Fail an admin port that accepted a connection in a probe from another host."""
    return ports.reachable(snapshot, "admin")


def _admin_probes(snapshot: Snapshot) -> Iterator[AdminProbe | Outcome]:
    live = snapshot.live
    if live is None:
        yield not_probed(snapshot)
        return
    answered = [a for a in live.admin if not a.error]
    for probe in live.admin:
        if probe.error:
            shown = f"{probe.address}:{probe.port}"
            yield skipped(
                port_subject(probe.address, probe.port, probe.app),
                f"the admin port {shown} did not answer: {probe.error}",
                address=shown,
            )
    if not live.admin:
        yield skipped(f"host:{snapshot.host}", "no admin port was known to probe")
    yield from answered


def _evidence(probe: AdminProbe) -> dict[str, object]:
    shown = f"[{probe.address}]" if ":" in probe.address else probe.address
    return {
        "address": f"{shown}:{probe.port}",
        "vantage": probe.vantage,
        "http_status": probe.unauthenticated_status,
        "result": probe.unauthenticated_result,
    }


@check(
    id="admin-api-accepts-unauthenticated",
    section="8",
    title="The admin API answers requests without a password",
    severity=Severity.CRITICAL,
    rationale="Anyone who reaches an admin API without authentication controls the runtime.",
    remediation="Set admin_pass to a long random string and restart the runtime.",
)
def admin_api_accepts_unauthenticated(snapshot: Snapshot) -> Iterator[Outcome]:
    """Fail an admin port that does not refuse a request without X-M2EE-Authentication."""
    for item in _admin_probes(snapshot):
        if isinstance(item, Outcome):
            yield item
            continue
        subject = port_subject(item.address, item.port, item.app)
        evidence = _evidence(item)
        where = evidence["address"]
        if item.is_unauthenticated_refused:
            yield passed(
                subject,
                f"{where} refuses a request without a password "
                f"(HTTP {item.unauthenticated_status}, result {item.unauthenticated_result})",
                **evidence,
            )
        else:
            yield failed(
                subject,
                f"{where} ran runtime_status without a password "
                f"(HTTP {item.unauthenticated_status}, result {item.unauthenticated_result})",
                **evidence,
            )


@check(
    id="admin-api-accepts-default-password",
    section="8",
    title="The admin API accepts a well-known default password",
    severity=Severity.CRITICAL,
    rationale=(
        "Default admin passwords (1, password, admin, ...) are the first an attacker tries."
    ),
    remediation="Set admin_pass to a long random string (openssl rand -base64 36) and restart.",
)
def admin_api_accepts_default_password(snapshot: Snapshot) -> Iterator[Outcome]:
    """Fail an admin port where one of the default passwords worked (only when asked to try)."""
    live = snapshot.live
    if live is not None and not live.tried_default_passwords:
        yield skipped(
            f"host:{snapshot.host}",
            "default passwords were not tried (use --try-default-admin-passwords)",
        )
        return
    for item in _admin_probes(snapshot):
        if isinstance(item, Outcome):
            yield item
            continue
        subject = port_subject(item.address, item.port, item.app)
        evidence = {**_evidence(item), "tried": item.defaults_tried}
        where = evidence["address"]
        if item.defaults_accepted:
            yield failed(subject, f"{where} accepts a well-known default password", **evidence)
        else:
            yield passed(
                subject, f"{where} refused all {item.defaults_tried} default passwords", **evidence
            )
