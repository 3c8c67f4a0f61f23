"""Helpers of the live checks: which sites were probed, and why a check cannot judge."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from dataclasses import replace

from mxguard.checks.registry import CheckFunction, Outcome, skipped
from mxguard.facts import Mode, Snapshot
from mxguard.live.cookies import base_name
from mxguard.live.facts import Cookie, Page, Response, SiteProbe

# Cookies the Mendix client reads with JavaScript; the others must be HttpOnly.
CLIENT_READABLE_COOKIES = frozenset(
    {"DeviceType", "SessionTimeZoneOffset", "Profile", "originURI", "DeviceProfile"}
)


def site_subject(site: SiteProbe) -> str:
    """Return the subject of findings about a probed site."""
    return f"url:{site.url}"


def with_connection_evidence(function: CheckFunction) -> CheckFunction:
    """Wrap a site check so that a site probed at another address says so in its evidence.

    A proxy site probed on the host is named by its server name but reached over loopback;
    every finding about it then carries `connected_to` and the `origin` of the target.
    """

    @functools.wraps(function)
    def judged(snapshot: Snapshot) -> Iterable[Outcome]:
        reached = {
            site_subject(site): site
            for site in (snapshot.live.sites if snapshot.live else ())
            if site.connected_to
        }
        for outcome in function(snapshot):
            site = reached.get(outcome.subject)
            if site is None:
                yield outcome
                continue
            extra = {"connected_to": site.connected_to, "origin": site.origin}
            yield replace(outcome, evidence={**extra, **outcome.evidence})

    return judged


def port_subject(address: str, port: int, app: str | None) -> str:
    """Return the subject of findings about a probed port."""
    if app:
        return f"app:{app}"
    shown = f"[{address}]" if ":" in address else address
    return f"url:http://{shown}:{port}/"


def not_probed(snapshot: Snapshot) -> Outcome:
    """Return the `skip` outcome of a snapshot for which no network probe ran."""
    if snapshot.mode is Mode.OFFLINE:
        why = f"an offline tree ({snapshot.root}) has no network to probe"
    else:
        why = "the network probes did not run"
    return skipped(f"host:{snapshot.host}", why)


def sites(snapshot: Snapshot) -> Iterator[SiteProbe | Outcome]:
    """Yield every probed site, or one `skip` outcome saying why there is none."""
    live = snapshot.live
    if live is None:
        yield not_probed(snapshot)
        return
    if not live.sites:
        yield skipped(
            f"host:{snapshot.host}",
            "no site to probe: give --url, or set ApplicationRootUrl in the m2ee config",
        )
        return
    yield from live.sites


def unreachable(site: SiteProbe, response: Response | None) -> Outcome | None:
    """Return a `skip` outcome when `response` is missing or failed, else None."""
    if response is None:
        return skipped(site_subject(site), "the site was not probed for this", url=site.url)
    if response.error and not response.status:
        return skipped(
            site_subject(site),
            f"{response.url} did not answer: {response.error}",
            url=response.url,
        )
    return None


def content_pages(site: SiteProbe) -> list[Page]:
    """Return the static pages the site answered with content."""
    return [p for p in site.pages if 200 <= p.response.status < 300 and not p.response.error]


def is_https(site: SiteProbe) -> bool:
    """Return whether the site's pages were probed over HTTPS."""
    return (site.probed_url or site.url).startswith("https://")


def is_session_cookie(cookie: Cookie, site: SiteProbe) -> bool:
    """Return whether `cookie` is the runtime's session cookie, prefixed or not."""
    return base_name(cookie.name) == site.session_cookie


def needs_http_only(cookie: Cookie) -> bool:
    """Return whether the client has no need to read `cookie` from JavaScript."""
    return base_name(cookie.name) not in CLIENT_READABLE_COOKIES
