"""Helpers for the proxy checks: subjects, evidence, and which routes reach which app."""

from __future__ import annotations

import posixpath
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from mxguard.checks.common import is_loopback
from mxguard.facts import Installation, Snapshot
from mxguard.proxy.model import Header, ProxyConfig, Route, Site, select_route

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


@dataclass(frozen=True, slots=True, kw_only=True)
class SiteView:
    """A site with the configuration it came from and the apps it serves."""

    config: ProxyConfig
    site: Site
    apps: tuple[Installation, ...]


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


def port_of(hostport: str) -> tuple[str, int | None]:
    """Return the host and port of `host:port`, `[v6]:port` or `unix:/path`."""
    if hostport.startswith("unix:"):
        return hostport, None
    host, _, port = hostport.rpartition(":")
    return host.strip("[]"), int(port) if port.isdigit() else None


def runtime_ports(installation: Installation) -> set[int]:
    """Return the ports the app's runtime answers on, as configured or as running."""
    ports = {p.runtime_port for p in installation.processes if p.runtime_port}
    if installation.settings.runtime_port:
        ports.add(installation.settings.runtime_port)
    return ports


def upstreams_of(route: Route) -> tuple[str, ...]:
    """Return where a route (or its fallback) sends requests."""
    if route.kind == "proxy" or route.fallback_upstream:
        return route.upstream_hosts
    return ()


def reaches(route: Route, installation: Installation) -> bool:
    """Return whether a route sends requests to the installation's runtime port."""
    ports = runtime_ports(installation)
    return any(port_of(h)[1] in ports for h in upstreams_of(route))


def reaches_runtime(route: Route, apps: Sequence[Installation]) -> bool:
    """Return whether a route reaches a runtime: one of `apps`, or any upstream when none."""
    if not apps:
        return bool(upstreams_of(route))
    return any(reaches(route, app) for app in apps)


def is_under(path: str, folder: str) -> bool:
    """Return whether `path` is `folder` or below it."""
    path, folder = posixpath.normpath(path), posixpath.normpath(folder)
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def serves(site: Site, installation: Installation) -> bool:
    """Return whether any route of the site proxies to the app or serves its web folder."""
    web = posixpath.join(installation.app_base, "web")
    return any(
        reaches(route, installation)
        or (route.kind == "static" and route.static_root and is_under(route.static_root, web))
        for route in site.routes
    )


def site_views(snapshot: Snapshot) -> list[SiteView]:
    """Return the sites to judge: those serving a known app, else every site."""
    if snapshot.proxy is None:
        return []
    views = [
        SiteView(
            config=config,
            site=site,
            apps=tuple(i for i in snapshot.installations if serves(site, i)),
        )
        for config in snapshot.proxy.configs
        for site in config.sites
    ]
    # A site that only redirects serves no app itself, but belongs to the apps of the sites
    # that share its names: it is where users arrive with http://.
    by_name: dict[str, list[Installation]] = {}
    for view in views:
        for name in view.site.server_names:
            if name not in ("", "_"):
                by_name.setdefault(name, []).extend(view.apps)
    views = [
        view
        if view.apps
        else SiteView(
            config=view.config,
            site=view.site,
            apps=tuple(
                dict.fromkeys(a for n in view.site.server_names for a in by_name.get(n, []))
            ),
        )
        for view in views
    ]
    # Without a site tied to a known app, only configurations the user named are judged:
    # the default site of a web server that fronts no Mendix app is not the checklist's.
    tied = [view for view in views if view.apps]
    return tied or [view for view in views if view.config.is_explicit]


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
