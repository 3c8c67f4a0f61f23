"""Helpers for the proxy checks: subjects, evidence, and which routes reach which app."""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Iterator, Sequence

from mxguard.checks.common import is_loopback
from mxguard.checks.registry import Outcome, passed, skipped
from mxguard.facts import Installation, Snapshot
from mxguard.proxy import apps
from mxguard.proxy.apps import SiteView, port_of, reaches, upstreams_of
from mxguard.proxy.model import Header, Route, Site, select_route

RUNTIME_HANDLERS = (
    "/xas/",
    "/ws/",
    "/file",
    "/p/",
    "/link/",
    "/rest/",
    "/odata/",
    "/api/",
    "/oauth/",
    "/sso/",
    "/manifest.webmanifest",
)
DOC_HANDLERS = ("/ws-doc/", "/rest-doc/", "/odata-doc/", "/api-doc/")
DEV_HANDLERS = ("/mxdevtools/", "/debugger/")
HTML_PATHS = ("/", "/index.html", "/p/home")


def no_proxy_reason(snapshot: Snapshot) -> str | None:
    """Return why there is nothing to judge, or None when configurations were read."""
    proxy = snapshot.proxy
    if proxy is None:
        return "the proxy configuration was not collected"
    if not proxy.configs:
        return proxy.reason or "no proxy configuration was found"
    if not any(config.sites for config in proxy.configs):
        return "the proxy configuration defines no site"
    if not site_views(snapshot):
        return (
            "no proxy site serves a Mendix installation found here; name the app's m2ee "
            "config with --config, or the proxy config with --proxy-config to judge it anyway"
        )
    return None


def site_subject(site: Site, path: str = "/") -> str:
    """Return the subject of a finding about a site (or one of its paths)."""
    return f"route:{site.name} {path}"


def route_subject(site: Site, route: Route) -> str:
    """Return the subject of a finding about one route."""
    path = route.path if route.match != "if" else f"if ({route.path})"
    if route.parent is not None and route.match == "if":
        path = f"{site.routes[route.parent].path} {path}"
    return f"route:{site.name} {path}"


def evidence(route: Route, **extra: object) -> dict[str, object]:
    """Return the evidence naming where a route is written."""
    return {"file": route.origin.file, "line": route.origin.line, **extra}


def site_views(snapshot: Snapshot) -> list[SiteView]:
    """Return the sites to judge: those serving a known app, else those the user named."""
    return apps.site_views(snapshot.proxy, snapshot.installations)


def reaches_runtime(route: Route, apps: Sequence[Installation]) -> bool:
    """Return whether a route reaches a runtime: one of `apps`, or any upstream when none."""
    if not apps:
        return bool(upstreams_of(route))
    return any(reaches(route, app) for app in apps)


def is_loopback_upstream(hostport: str) -> bool:
    """Return whether an upstream is a unix socket or a loopback address."""
    host, _ = port_of(hostport)
    return host.startswith("unix:") or is_loopback(host)


def static_file(route: Route, path: str) -> str | None:
    """Return the file a static route maps `path` to, or None when it is not static."""
    if route.kind != "static" or not route.static_root:
        return None
    if route.is_alias and route.match in ("prefix", "prefix-priority", "exact"):
        rest = path[len(route.path) :] if path.startswith(route.path) else ""
        return posixpath.join(route.static_root, rest.lstrip("/"))
    return posixpath.join(route.static_root, path.lstrip("/"))


def selected(site: Site, path: str) -> Route | None:
    """Return the route that serves `path` on `site`."""
    return select_route(site, path)


def variants(site: Site, route: Route) -> Iterator[Route]:
    """Yield the route and the `if` blocks inside it, which replace its headers when true."""
    yield route
    for other in site.routes:
        if other.match == "if" and other.parent == route.index:
            yield other


def header_values(headers: Sequence[Header], name: str) -> list[Header]:
    """Return the headers called `name`, compared case-insensitively."""
    return [h for h in headers if h.name.lower() == name.lower()]


def nginx_views(
    views: Iterable[SiteView], *, apache: str, other: str
) -> Iterator[SiteView | Outcome]:
    """Yield the nginx sites of `views` to judge, and an outcome for every other site.

    For a weakness only nginx has: an httpd site passes with `apache` (the reason it cannot
    have it, confirmed against a running httpd), any other server is skipped with `other`.
    """
    for view in views:
        if view.config.server == "nginx":
            yield view
        elif view.config.server == "apache":
            yield passed(site_subject(view.site), apache)
        else:
            yield skipped(site_subject(view.site), other)
