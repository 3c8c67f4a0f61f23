"""Which proxy sites serve which installation: the ties the proxy checks and probes share.

A route reaches an installation when one of its upstreams (or its `try_files` fallback's)
is on the installation's runtime port; a static route belongs to it when its folder lies
under the installation's `web/`. Both the proxy checks (which sites to judge) and the live
collector (which TLS sites to probe) decide with these functions.
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from dataclasses import dataclass

from mxguard.facts import Installation
from mxguard.proxy.model import ProxyConfig, ProxyFacts, Route, Site


@dataclass(frozen=True, slots=True, kw_only=True)
class SiteView:
    """A site with the configuration it came from and the apps it serves."""

    config: ProxyConfig
    site: Site
    apps: tuple[Installation, ...]


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


def site_views(proxy: ProxyFacts | None, installations: Sequence[Installation]) -> list[SiteView]:
    """Return the sites to judge: those serving a known app, else those the user named."""
    if proxy is None:
        return []
    views = [
        SiteView(
            config=config,
            site=site,
            apps=tuple(i for i in installations if serves(site, i)),
        )
        for config in proxy.configs
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
