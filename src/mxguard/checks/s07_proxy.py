"""§7 — the proxy serves static content; the runtime only its request handlers."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator

from mxguard.checks.proxyview import (
    DEV_HANDLERS,
    DOC_HANDLERS,
    RUNTIME_HANDLERS,
    evidence,
    nginx_views,
    no_proxy_reason,
    reaches_runtime,
    route_subject,
    selected,
    site_subject,
    site_views,
    static_file,
)
from mxguard.checks.registry import Outcome, check, failed, passed, skipped, warned
from mxguard.facts import Installation, Snapshot
from mxguard.model import Severity
from mxguard.proxy.apps import SiteView, is_under
from mxguard.proxy.model import Route, Site, route_path_matches

# Paths that are not handlers, used to find regex routes that reach too far.
_NON_HANDLER_PROBES = ("/", "/index.html", "/mxclientsystem/mxui/mxui.js", "/login.html", "/x")


def _views(snapshot: Snapshot) -> Iterator[SiteView]:
    reason = no_proxy_reason(snapshot)
    if reason is not None:
        return
    for view in site_views(snapshot):
        # Plain-HTTP sites are to redirect only (§5); judge where the app is really served.
        if view.site.listens and not view.site.is_tls and _redirects_everything(view.site):
            continue
        yield view


def _redirects_everything(site: Site) -> bool:
    return all(r.kind in ("redirect", "deny") for r in site.routes if r.match != "if")


def _skip_all(snapshot: Snapshot) -> Iterator[Outcome]:
    reason = no_proxy_reason(snapshot)
    if reason is not None:
        yield skipped(f"host:{snapshot.host}", reason)


def _need_apps(snapshot: Snapshot, view: SiteView, what: str) -> Outcome | None:
    if view.apps:
        return None
    if not snapshot.installations:
        return skipped(
            site_subject(view.site),
            f"no Mendix installation is known (give --config) to judge {what}",
        )
    return skipped(site_subject(view.site), "the site serves none of the known installations")


@check(
    id="root-not-served-from-web-folder",
    section="7",
    title="The site root is not served from the app's web folder",
    severity=Severity.MEDIUM,
    rationale="The proxy should serve the static content of web/ itself; the runtime only "
    "dynamic requests.",
    remediation="Serve / from APP_BASE/web (nginx: root APP_BASE/web; try_files $uri $uri/ "
    "@runtime;), falling back to the runtime when no file exists.",
)
def root_not_served_from_web_folder(snapshot: Snapshot) -> Iterator[Outcome]:
    """Judge what answers `/` on each site that serves an app."""
    if no_proxy_reason(snapshot):
        yield from _skip_all(snapshot)
        return
    for view in _views(snapshot):
        missing = _need_apps(snapshot, view, "the static root")
        if missing is not None:
            yield missing
            continue
        route = selected(view.site, "/")
        subject = site_subject(view.site)
        if route is None:
            yield failed(subject, "no route answers /", file=view.site.origin.file)
            continue
        if route.kind == "proxy":
            continue  # judged by root-proxied-to-runtime
        folder = static_file(route, "/")
        webs = [posixpath.join(app.app_base, "web") for app in view.apps]
        ev = evidence(route, root=route.static_root or None)
        if folder is not None and any(is_under(folder, web) for web in webs):
            yield passed(route_subject(view.site, route), f"/ is served from {folder}", **ev)
        else:
            yield failed(
                route_subject(view.site, route),
                f"/ is answered by {route.kind}"
                + (f" from {route.static_root}" if route.static_root else "")
                + f", not from {' or '.join(webs)}",
                **ev,
            )


@check(
    id="root-proxied-to-runtime",
    section="7",
    title="Everything under / is proxied to the runtime",
    severity=Severity.MEDIUM,
    rationale="Proxying every path hands the runtime static files and every handler, "
    "development and documentation ones included.",
    remediation="Serve / statically from web/ and proxy only the runtime's handlers.",
)
def root_proxied_to_runtime(snapshot: Snapshot) -> Iterator[Outcome]:
    """Fail a site whose `/` goes straight to the runtime."""
    if no_proxy_reason(snapshot):
        yield from _skip_all(snapshot)
        return
    for view in _views(snapshot):
        route = selected(view.site, "/")
        if route is None:
            continue
        subject = route_subject(view.site, route)
        if route.kind == "proxy" and reaches_runtime(route, view.apps):
            yield failed(subject, f"/ is proxied to {route.upstream}", **evidence(route))
        else:
            yield passed(subject, f"/ is answered by {route.kind}", **evidence(route))


def _handlers(apps: tuple[Installation, ...]) -> tuple[str, ...]:
    extra = [h if h.startswith("/") else "/" + h for app in apps for h in app.request_handlers]
    return (*RUNTIME_HANDLERS, *DOC_HANDLERS, *extra)


def _is_handler_path(path: str, handlers: tuple[str, ...]) -> bool:
    return any(path.startswith(h) or path == h.rstrip("/") for h in handlers)


@check(
    id="runtime-reached-beyond-handlers",
    section="7",
    title="A route proxies to the runtime paths that are not its request handlers",
    severity=Severity.MEDIUM,
    rationale="The runtime should only see /xas/, /ws/ and the other handlers; static "
    "content belongs to the proxy.",
    remediation="Limit proxy locations to the handler paths (/xas/, /ws/, /file, /p/, "
    "/link/, /rest/, /odata/, /api/, /oauth/, /sso/ and the model's own).",
)
def runtime_reached_beyond_handlers(snapshot: Snapshot) -> Iterator[Outcome]:
    """Judge every proxy route by the paths it matches."""
    if no_proxy_reason(snapshot):
        yield from _skip_all(snapshot)
        return
    for view in _views(snapshot):
        handlers = _handlers(view.apps)
        for route in view.site.routes:
            if route.kind != "proxy" or route.match in ("if", "named"):
                continue
            if not reaches_runtime(route, view.apps) or route.path in ("/", ""):
                continue
            subject = route_subject(view.site, route)
            beyond = _beyond(route, handlers, is_relative=view.site.is_path_relative)
            if beyond:
                yield failed(
                    subject, "proxies non-handler paths such as " + beyond, **evidence(route)
                )
            else:
                yield passed(subject, "proxies handler paths only", **evidence(route))


def _beyond(route: Route, handlers: tuple[str, ...], *, is_relative: bool) -> str:
    if route.match in ("regex", "regex-ci"):
        for literal in _alternatives(route.path, is_relative=is_relative):
            if not _is_handler_path(literal, handlers):
                return literal
        for probe in _NON_HANDLER_PROBES:
            target = probe.lstrip("/") if is_relative else probe
            if route_path_matches(route, target):
                return probe
        return ""
    return "" if _is_handler_path(route.path, handlers) else route.path


_ALTERNATION = re.compile(r"^\^/?\(\??:?([\w|/.-]+)\)(/?)")


def _alternatives(pattern: str, *, is_relative: bool) -> list[str]:
    """Return the literal paths a `^/(a|b|c)/` pattern stands for; empty for other shapes."""
    match = _ALTERNATION.match(pattern)
    if match is None:
        return []
    tail = match.group(2)
    return ["/" + alt.strip("/") + (tail or "") for alt in match.group(1).split("|") if alt]


def _access(site: Site, path: str, apps: tuple[Installation, ...]) -> tuple[Route | None, bool]:
    route = selected(site, path)
    if route is None:
        return None, False
    reaches = route.kind == "proxy" or bool(route.fallback_upstream)
    open_to_all = reaches and reaches_runtime(route, apps) and not route.is_access_restricted
    return route, open_to_all


@check(
    id="documentation-handler-open",
    section="7",
    title="A documentation handler of the runtime is open to everyone",
    severity=Severity.LOW,
    rationale="/ws-doc/, /rest-doc/, /odata-doc/ and /api-doc/ describe the app's services "
    "to whoever asks; production usually denies them.",
    remediation="Deny these paths at the proxy, or restrict them to known addresses.",
)
def documentation_handler_open(snapshot: Snapshot) -> Iterator[Outcome]:
    """Warn when a documentation handler reaches the runtime without restriction."""
    yield from _handler_access(snapshot, DOC_HANDLERS, fail=False)


@check(
    id="development-handler-reachable",
    section="7",
    title="A development handler (/mxdevtools, /debugger/) reaches the runtime",
    severity=Severity.HIGH,
    rationale="Development tooling must not be reachable on a production app.",
    remediation="Deny /mxdevtools and /debugger/ at the proxy (nginx: location ^~ "
    "/mxdevtools { return 404; }).",
)
def development_handler_reachable(snapshot: Snapshot) -> Iterator[Outcome]:
    """Fail when a development handler reaches the runtime."""
    yield from _handler_access(snapshot, DEV_HANDLERS, fail=True)


def _handler_access(snapshot: Snapshot, paths: tuple[str, ...], *, fail: bool) -> Iterator[Outcome]:
    if no_proxy_reason(snapshot):
        yield from _skip_all(snapshot)
        return
    for view in _views(snapshot):
        for path in paths:
            route, is_open = _access(view.site, path, view.apps)
            subject = site_subject(view.site, path)
            if route is None:
                yield passed(subject, f"no route answers {path}")
                continue
            ev = evidence(route, location=route.path)
            if is_open and fail:
                yield failed(subject, f"{path} reaches the runtime through {route.path!r}", **ev)
            elif is_open:
                yield warned(subject, f"{path} reaches the runtime through {route.path!r}", **ev)
            else:
                how = "restricted" if route.is_access_restricted else route.kind
                yield passed(subject, f"{path} is {how} ({route.path!r})", **ev)


@check(
    id="mxclientsystem-not-served-statically",
    section="7",
    title="/mxclientsystem is not served from the runtime's client system",
    severity=Severity.LOW,
    rationale="The client system is static; the proxy should serve it from the runtime "
    "version the model needs.",
    remediation="Serve /mxclientsystem from APP_BASE/runtimes/VERSION/runtime/mxclientsystem "
    "(or web/mxclientsystem, which links there).",
)
def mxclientsystem_not_served_statically(snapshot: Snapshot) -> Iterator[Outcome]:
    """Judge which folder answers `/mxclientsystem/`."""
    if no_proxy_reason(snapshot):
        yield from _skip_all(snapshot)
        return
    probe = "/mxclientsystem/mxui/mxui.js"
    for view in _views(snapshot):
        missing = _need_apps(snapshot, view, "the client system")
        if missing is not None:
            yield missing
            continue
        route = selected(view.site, probe)
        subject = site_subject(view.site, "/mxclientsystem")
        if route is None:
            yield failed(subject, "no route answers /mxclientsystem")
            continue
        file = static_file(route, probe)
        ev = evidence(route, location=route.path, resolves_to=file)
        if file is None:
            yield failed(subject, f"/mxclientsystem is answered by {route.kind}", **ev)
            continue
        wanted = _client_systems(view.apps)
        if any(is_under(file, folder) for folder in wanted):
            yield passed(subject, f"served from {posixpath.dirname(posixpath.dirname(file))}", **ev)
        else:
            yield failed(
                subject,
                f"resolves to {file}, not inside " + " or ".join(wanted),
                **ev,
            )


def _client_systems(apps: tuple[Installation, ...]) -> list[str]:
    folders = []
    for app in apps:
        folders.append(posixpath.join(app.app_base, "web", "mxclientsystem"))
        if app.runtime_version:
            folders.append(
                posixpath.join(
                    app.app_base, "runtimes", app.runtime_version, "runtime", "mxclientsystem"
                )
            )
    return folders


@check(
    id="alias-path-traversal",
    section="7",
    title="An nginx alias lets a request climb out of its folder",
    severity=Severity.HIGH,
    rationale=(
        "A location without a trailing slash whose alias ends in one maps /static../x to the "
        "folder above the alias: one request away from the project's model, data or "
        "~/.m2ee if the alias points into the project."
    ),
    remediation=(
        "Give the location and its alias the same ending: location /mxclientsystem/ { alias "
        "APP_BASE/runtimes/VERSION/runtime/mxclientsystem/; } (or use root where it fits)."
    ),
)
def alias_path_traversal(snapshot: Snapshot) -> Iterator[Outcome]:
    """Fail nginx prefix locations whose alias lets `location..` reach the parent folder."""
    if no_proxy_reason(snapshot):
        yield from _skip_all(snapshot)
        return
    # httpd matches an Alias by whole path segments (a test asks a running httpd).
    for view in nginx_views(
        _views(snapshot),
        apache="httpd matches an Alias by whole segments",
        other="IIS virtual directories live in applicationHost.config, which is not read",
    ):
        if isinstance(view, Outcome):
            yield view
            continue
        escaping = [r for r in view.site.routes if _escapes(r)]
        for route in escaping:
            above = posixpath.dirname(route.static_root.rstrip("/")) or "/"
            yield failed(
                route_subject(view.site, route),
                f"{route.path}../ is served from {above}/ (the alias {route.static_root} ends "
                f"in a slash, the location does not)",
                **evidence(route, alias=route.static_root, reaches=above),
            )
        if not escaping:
            aliases = sum(1 for r in view.site.routes if r.is_alias)
            yield passed(
                site_subject(view.site),
                f"no alias lets a request out of its folder ({aliases} aliases)",
            )


def _escapes(route: Route) -> bool:
    return (
        route.is_alias
        and route.match in ("prefix", "prefix-priority")
        and not route.path.endswith("/")
        and route.static_root.endswith("/")
    )
