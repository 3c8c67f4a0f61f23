"""Shared verdicts of §6 and §8 on ports probed over the network."""

from __future__ import annotations

from collections.abc import Iterator

from mxguard.checks.live_common import not_probed, port_subject
from mxguard.checks.registry import Outcome, failed, passed, skipped
from mxguard.facts import Snapshot


def reachable(snapshot: Snapshot, role: str) -> Iterator[Outcome]:
    """Judge whether the `role` ports answered a probe made from another host."""
    live = snapshot.live
    if live is None:
        yield not_probed(snapshot)
        return
    if live.vantage != "outside":
        yield skipped(
            f"host:{snapshot.host}",
            f"whether the {role} port answers from elsewhere is decided from elsewhere: run "
            "mxguard audit --from-outside HOST on another machine (on the host, the bound "
            "addresses are judged instead)",
        )
        return
    probes = [p for p in live.ports if p.role == role]
    if not probes:
        yield skipped(f"host:{snapshot.host}", f"no {role} port was named or known to probe")
        return
    for probe in probes:
        shown = f"[{probe.address}]" if ":" in probe.address else probe.address
        evidence = {
            "address": f"{shown}:{probe.port}",
            "state": probe.state,
            "detail": probe.detail,
            "http_status": probe.http_status or None,
        }
        subject = port_subject(probe.address, probe.port, probe.app)
        if probe.state == "open":
            yield failed(
                subject,
                f"the {role} port {shown}:{probe.port} accepts connections from outside",
                **evidence,
            )
        elif probe.state == "error":
            yield skipped(subject, f"{shown}:{probe.port}: {probe.detail}", **evidence)
        else:
            yield passed(subject, f"{shown}:{probe.port} is {probe.state} from outside", **evidence)
