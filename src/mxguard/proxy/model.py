"""One model of a reverse proxy's configuration, whatever server it came from.

nginx, Apache httpd and IIS configurations are parsed into `ProxyConfig`: sites (what they
listen on, TLS, names), and per site the routes (how a path is matched, what is done with
it) with the request headers sent upstream and the response headers added, as the server
computes them after its own inheritance rules. Every element keeps its file and line.

The model is plain data: it travels in the facts snapshot as JSON.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class Origin:
    """Where an element of the configuration was written."""

    file: str
    line: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Header:
    """A header as a route really sends it; `always` means error responses get it too."""

    name: str
    value: str
    origin: Origin
    always: bool = False
    condition: str = ""  # IIS/Apache conditions under which the header is added
    # What `value` can become where it names variables the configuration itself defines
    # (nginx `map` and `set`); empty when it names none.
    values: tuple[str, ...] = ()
    # For a request header: the directive that keeps the client's own header beside or
    # instead of this value (Apache `setifempty`/`append`/`merge`/`add`, IIS
    # `replace="false"`); empty when the proxy's value replaces whatever the client sent.
    client_value_kept_by: str = ""

    @property
    def possible_values(self) -> tuple[str, ...]:
        """Every value the header can be sent with, as far as the configuration tells."""
        return self.values or (self.value,)


@dataclass(frozen=True, slots=True, kw_only=True)
class Listen:
    """One address and port a site accepts connections on."""

    address: str  # "*" for every address, or an IP, or "unix:/path"
    port: int
    is_tls: bool = False
    is_default: bool = False
    origin: Origin


@dataclass(frozen=True, slots=True, kw_only=True)
class Tls:
    """The TLS settings of a site, with where each was set."""

    protocols: tuple[str, ...] = ()  # as configured, e.g. ("TLSv1.2", "TLSv1.3")
    protocols_origin: Origin | None = None
    ciphers: str = ""
    certificate_file: str = ""
    certificate_origin: Origin | None = None
    key_file: str = ""
    key_origin: Origin | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Route:
    """A way a site handles requests: what is matched, and what happens.

    `kind` is one of `static`, `proxy`, `redirect`, `deny`, `return` (another fixed
    response) or `none` (nothing of its own: the site's default static root applies).
    """

    index: int  # position among the site's routes, for `parent`
    match: str  # exact | prefix | prefix-priority | regex | regex-ci | if
    path: str  # the location pattern, or the `if` condition
    kind: str
    origin: Origin
    parent: int | None = None  # the enclosing route (nested location, `if` block)
    static_root: str = ""  # the folder a request path is mapped into
    is_alias: bool = False  # `alias`: the matched prefix is replaced, not appended
    fallback_upstream: str = ""  # try_files ... @runtime / a named location that proxies
    upstream: str = ""  # as written: http://127.0.0.1:8000, http://name, unix:/run/x.sock
    upstream_hosts: tuple[str, ...] = ()  # host:port or unix:path, upstream groups resolved
    redirect_to: str = ""
    status: int = 0  # return / redirect code
    is_access_restricted: bool = False  # allow/deny, auth, Require: not everyone gets in
    request_headers: tuple[Header, ...] = ()
    response_headers: tuple[Header, ...] = ()
    server_tokens: bool | None = None  # nginx `server_tokens`; None when unknown


@dataclass(frozen=True, slots=True, kw_only=True)
class Site:
    """A virtual server: where it listens, under which names, with TLS or not."""

    name: str  # the first server name, or the first listen address when unnamed
    server_names: tuple[str, ...]
    listens: tuple[Listen, ...]
    origin: Origin
    tls: Tls | None = None
    routes: tuple[Route, ...] = ()
    document_root: str = ""  # Apache DocumentRoot / IIS physical path / nginx server root
    matching: str = "nginx"  # nginx: nginx's location order | first: the first route matching
    is_path_relative: bool = False  # IIS: patterns match the path without its leading '/'

    @property
    def is_tls(self) -> bool:
        """Return whether the site speaks TLS on at least one of its listens."""
        return any(listen.is_tls for listen in self.listens)

    @property
    def is_tls_only(self) -> bool:
        """Return whether every listen of the site speaks TLS."""
        return bool(self.listens) and all(listen.is_tls for listen in self.listens)


@dataclass(frozen=True, slots=True, kw_only=True)
class ConfigProblem:
    """Something in the configuration that could not be read or followed."""

    message: str
    file: str
    line: int = 0
    status: str = "error"  # error | warn


@dataclass(frozen=True, slots=True, kw_only=True)
class ProxyConfig:
    """One proxy server's configuration, parsed."""

    server: str  # nginx | apache | iis
    path: str  # the main file
    sites: tuple[Site, ...] = ()
    files: tuple[str, ...] = ()  # every file read, the main one first
    problems: tuple[ConfigProblem, ...] = ()
    user: str = ""  # the account worker processes run as (nginx `user`, Apache `User`)
    is_explicit: bool = False  # named with --proxy-config rather than discovered


def route_path_matches(route: Route, path: str) -> bool:
    """Return whether the route's own pattern matches the request `path`."""
    if route.match == "exact":
        return path == route.path
    if route.match in ("prefix", "prefix-priority"):
        return path.startswith(route.path)
    if route.match in ("regex", "regex-ci"):
        flags = re.IGNORECASE if route.match == "regex-ci" else 0
        try:
            return re.search(_pcre_to_python(route.path), path, flags) is not None
        except re.error:
            return False
    return False


def select_route(site: Site, path: str) -> Route | None:
    """Return the route that serves `path`, following nginx's order of location matching.

    Exact matches win; then the longest prefix, whose nested locations are searched; a
    `^~` prefix stops there; otherwise the regexes of that level are tried in order and the
    first match wins; otherwise the longest prefix stands. Apache and IIS sites are given in
    the same shape by their parsers (their order of evaluation written as regex order).
    """
    if site.matching == "first":
        target = path.lstrip("/") if site.is_path_relative else path
        return next(
            (r for r in site.routes if r.match != "if" and route_path_matches(r, target)), None
        )
    children: dict[int | None, list[Route]] = {}
    for route in site.routes:
        if route.match != "if":
            children.setdefault(route.parent, []).append(route)
    found, _ = _find(children, None, path)
    return found


def _find(
    children: dict[int | None, list[Route]], parent: int | None, path: str
) -> tuple[Route | None, bool]:
    level = children.get(parent, [])
    exact = next((r for r in level if r.match == "exact" and r.path == path), None)
    if exact is not None:
        return exact, True

    prefixes = [
        r for r in level if r.match in ("prefix", "prefix-priority") and path.startswith(r.path)
    ]
    best = max(prefixes, key=lambda r: len(r.path), default=None)
    if best is not None:
        nested, is_final = _find(children, best.index, path)
        if is_final:
            return nested, True
        if best.match == "prefix-priority":
            return nested or best, False

    for route in level:
        if route.match in ("regex", "regex-ci") and route_path_matches(route, path):
            nested, _ = _find(children, route.index, path)
            return nested or route, True

    if best is None:
        return None, False
    nested, _ = _find(children, best.index, path)
    return nested or best, False


def _pcre_to_python(pattern: str) -> str:
    # PCRE named groups `(?<name>` and `(?P<name>` are both valid; Python wants the latter.
    return re.sub(r"\(\?<(?=[A-Za-z_])", "(?P<", pattern)


@dataclass(frozen=True, slots=True, kw_only=True)
class TlsFileFacts:
    """What was learnt from a site's certificate and key files; never the key itself."""

    certificate_file: str
    key_file: str = ""
    status: str = "ok"  # ok | missing | unreadable | invalid
    problem: str = ""
    subject: str = ""
    names: tuple[str, ...] = ()  # DNS and IP subject alternative names, else the CN
    not_before: str = ""  # ISO 8601, UTC
    not_after: str = ""
    is_self_signed: bool = False
    chain_status: str = "unknown"  # trusted | untrusted | unknown
    chain_problem: str = ""
    key_status: str = "unknown"  # ok | missing | unreadable | invalid | unknown
    key_problem: str = ""
    key_matches: bool | None = None
    key_uid: int = -1
    key_gid: int = -1
    key_mode: int = 0
    key_owner: str = ""
    key_group: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ProxyFacts:
    """Every proxy configuration found on the host, and the TLS files they name."""

    configs: tuple[ProxyConfig, ...] = ()
    tls_files: tuple[TlsFileFacts, ...] = ()
    searched: tuple[str, ...] = ()  # where discovery looked, for the report
    reason: str = ""  # why no configuration was found or read
    ca_bundle: str = ""

    def tls_file(self, certificate: str, key: str) -> TlsFileFacts | None:
        """Return the facts about a certificate and key pair, or None."""
        return next(
            (f for f in self.tls_files if f.certificate_file == certificate and f.key_file == key),
            None,
        )
