"""§7 over the network — the proxy, not the runtime, serves static content."""

from __future__ import annotations

from collections.abc import Iterator

from mxguard.checks.live_common import content_pages, site_subject, sites, with_connection_evidence
from mxguard.checks.registry import Outcome, check, failed, passed, skipped
from mxguard.facts import Snapshot
from mxguard.model import Severity


@check(
    id="static-content-served-by-runtime",
    section="7",
    title="Static content is served by the runtime instead of the proxy",
    severity=Severity.MEDIUM,
    rationale=(
        "The runtime should handle only dynamic paths (/xas/, /ws/, ...). A proxy that "
        "forwards everything exposes every runtime handler and spends runtime threads on files."
    ),
    remediation=(
        "Serve the project's web/ folder at / and the client system at /mxclientsystem from "
        "the proxy (nginx: root APP_BASE/web; try_files $uri $uri/ @runtime;), and forward "
        "only the runtime's handlers."
    ),
)
@with_connection_evidence
def static_content_served_by_runtime(snapshot: Snapshot) -> Iterator[Outcome]:
    """Fail a site whose static paths came from the runtime, judged against the runtime port."""
    for item in sites(snapshot):
        if isinstance(item, Outcome):
            yield item
            continue
        subject = site_subject(item)
        pages = content_pages(item)
        if not pages:
            yield skipped(subject, "no static path answered with content", url=item.probed_url)
            continue
        runtime = [p for p in pages if p.served_by == "runtime"]
        known = [p for p in pages if p.served_by != "unknown"]
        evidence = {
            "url": item.probed_url,
            "paths": {p.path: f"{p.served_by}: {p.served_by_reason}" for p in pages},
        }
        if runtime:
            urls = ", ".join(p.response.url for p in runtime)
            yield failed(subject, f"served by the runtime: {urls}", **evidence)
        elif not known:
            yield skipped(
                subject, f"cannot tell who served them: {pages[0].served_by_reason}", **evidence
            )
        else:
            yield passed(subject, f"{len(known)} static paths served by the proxy", **evidence)
