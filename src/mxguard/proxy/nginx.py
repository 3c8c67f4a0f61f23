"""nginx configurations into the proxy model, with nginx's own inheritance computed.

crossplane reads the files (following `include` globs relative to the main file's folder,
as nginx does for a config given with `-c`). This module walks the tree http → server →
location → nested location → `if`, and computes what each route really does:

- `add_header` and `proxy_set_header` are array directives: a level that defines one of
  them replaces the whole inherited list; a level that defines none inherits it all.
  nginx 1.29.3's `add_header_inherit merge` appends the outer list to a level's own, and
  `off` inherits nothing (modelled from nginx's documentation: the nginx here is older).
- `add_header` without `always` is not added to error responses.
- Without any `proxy_set_header`, nginx sends `Host: $proxy_host` and `Connection: close`.
- A server-level `return` (or a catch-all `rewrite ... redirect|permanent`) answers every
  request before any location is chosen.
- A `proxy_set_header` value that names a variable defined by `map` or `set` is expanded to
  every value that variable can take where the route runs (a map without `default` can also
  be empty, a regex capture stands for the map's source; `set` counts at server level for
  the whole server and in a location for that location only), so that
  `$proxy_x_forwarded_proto` built from `$http_x_forwarded_proto` is seen to carry what the
  client sent.
- The headers-more module's `more_set_headers` and `more_clear_headers` take effect at every
  level, outer first, on every status unless `-s` limits them; they run before `add_header`,
  so a clear never removes what `add_header` adds (both confirmed against a running nginx).
"""

from __future__ import annotations

import dataclasses
import glob
import logging
import os
import posixpath
import re
import stat
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import crossplane

from mxguard.discovery.rootfs import Root
from mxguard.proxy.model import (
    ConfigProblem,
    Header,
    Listen,
    Origin,
    ProxyConfig,
    Route,
    Site,
    Tls,
)
from mxguard.safeio import open_regular

logger = logging.getLogger(__name__)

Block = Sequence[Mapping[str, Any]]
DEFAULT_PROXY_HEADERS = (("Host", "$proxy_host"), ("Connection", "close"))
_REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
_CATCH_ALL = re.compile(r"^\^?(\(?\.\*\)?|/\(?\.\*\)?|/?\(\.\*\))?\$?$")


@dataclass(slots=True, kw_only=True)
class _Scope:
    """What a level inherits from the levels around it."""

    add_headers: tuple[Header, ...] = ()
    add_header_inherit: str = "on"  # nginx 1.29.3+: on | merge | off, itself inherited
    more_headers: tuple[Header, ...] = ()  # headers-more: merged over levels, outer first
    proxy_headers: tuple[Header, ...] | None = None  # None: nginx's defaults apply
    # `set` values visible here: the server's, then the location's own (a nested location
    # runs only its own `set` lines, never its parent's), then an `if` block's.
    server_sets: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    sets: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    root: str = "html"
    server_tokens: bool | None = None
    is_access_restricted: bool = False


@dataclass(slots=True)
class _Context:
    main: str
    prefix: str  # `-p`: where a relative `root` or `alias` points
    conf_dir: str  # the main file's folder: where a relative `include` points
    root: Root
    upstreams: dict[str, tuple[str, ...]] = field(default_factory=dict)
    variables: dict[str, list[str]] = field(default_factory=dict)  # map and set, by name
    problems: list[ConfigProblem] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    def read(self, path: str, *, depth: int, origin: Origin | None) -> list[Any] | None:
        """Return the directives of `path` with its includes spliced in, or None."""
        if len(self.files) >= MAX_FILES:
            self._problem("too many included files; the rest was not read", origin, "warn")
            return None
        try:
            real = self.root.real(self.root.resolve(path))
        except OSError as exc:
            self._problem(f"{path}: {exc.strerror}", origin, "warn")
            return None
        try:
            info = os.stat(real)
            why = "" if stat.S_ISREG(info.st_mode) else "not a regular file"
        except OSError:
            why = "no such file"
        if why:
            status = "warn" if origin is not None else "error"
            self._problem(f"{path}: {why}", origin or Origin(file=path), status)
            return None
        if info.st_size > MAX_BYTES:
            self._problem(f"{path}: larger than {MAX_BYTES} bytes; not read", origin, "error")
            return None
        self.files.append(path)
        try:
            payload = _parse_file(real)
        except Exception as exc:  # noqa: BLE001 - crossplane raises many kinds; the run goes on
            self._problem(f"{path}: cannot be parsed: {exc}", Origin(file=path), "error")
            return None
        for error in payload.get("errors", []):
            message = str(error.get("error", "parse error")).replace(real, path)
            line = int(error.get("line") or 0)
            self._problem(message, Origin(file=path, line=line), "error")
        configs = payload.get("config") or [{}]
        return self._splice(configs[0].get("parsed", []), path, depth)

    def _splice(self, block: Block, file: str, depth: int) -> list[Any]:
        out: list[Any] = []
        for directive in block:
            directive = dict(directive, file=file)
            if directive["directive"] == "include" and directive["args"]:
                out.extend(self._include(directive, depth))
                continue
            if "block" in directive:
                directive["block"] = self._splice(directive["block"], file, depth)
            out.append(directive)
        return out

    def _include(self, directive: Mapping[str, Any], depth: int) -> list[Any]:
        origin = _origin(directive)
        pattern = directive["args"][0]
        if not pattern.startswith("/"):
            pattern = posixpath.join(self.conf_dir, pattern)
        if depth >= MAX_INCLUDE_DEPTH:
            self._problem(f"include {pattern}: nested too deeply; not read", origin, "warn")
            return []
        matches = sorted(self._glob(pattern)) if glob.has_magic(pattern) else [pattern]
        out: list[Any] = []
        for match in matches:
            out.extend(self.read(match, depth=depth + 1, origin=origin) or [])
        return out

    def _glob(self, pattern: str) -> list[str]:
        if self.root.is_live:
            return glob.glob(pattern)
        base = self.root.directory.rstrip("/")
        return ["/" + p[len(base) :].lstrip("/") for p in glob.glob(self.root.real(pattern))]

    def _problem(self, message: str, origin: Origin | None, status: str) -> None:
        where = origin or Origin(file=self.main)
        self.problems.append(
            ConfigProblem(message=message, file=where.file, line=where.line, status=status)
        )


MAX_INCLUDE_DEPTH = 16
MAX_FILES = 20_000
MAX_BYTES = 64 * 1024 * 1024


def parse_nginx(path: str, *, prefix: str | None = None, root: Root | None = None) -> ProxyConfig:
    """Parse the nginx configuration whose main file is `path` (a path on the audited host).

    `include` is followed here rather than by crossplane, so that a `--root` tree is read
    inside the tree and a missing include becomes a warning naming it. A relative include
    resolves against the main file's folder, as for `nginx -c FILE`; a relative `root` or
    `alias` against `prefix` (nginx's `-p`), which defaults to that folder too.
    """
    root = root or Root("/")
    conf_dir = posixpath.dirname(path)
    context = _Context(main=path, prefix=prefix or conf_dir, conf_dir=conf_dir, root=root)
    tree = context.read(path, depth=0, origin=None)
    if tree is None:
        return ProxyConfig(server="nginx", path=path, problems=tuple(context.problems))

    user = next((d["args"][0] for d in tree if d["directive"] == "user" and d["args"]), "")
    http_blocks = [d.get("block", []) for d in tree if d["directive"] == "http"]
    if not http_blocks and any(d["directive"] in ("server", "upstream") for d in tree):
        http_blocks = [tree]  # a file of server blocks only, such as one from sites-enabled
    sites: list[Site] = []
    for block in http_blocks:
        _collect_upstreams(block, context)
        _collect_variables(block, context)
        scope = _apply(_Scope(), block, context, "http")
        outer_tls = _tls(block)
        sites.extend(
            _site(server, scope, context, outer_tls)
            for server in block
            if server["directive"] == "server"
        )
    return ProxyConfig(
        server="nginx",
        path=path,
        sites=tuple(sites),
        files=tuple(context.files),
        problems=tuple(context.problems),
        user=user,
    )


def _parse_file(real: str) -> Mapping[str, Any]:
    payload: Mapping[str, Any] = crossplane.parse(
        real, catch_errors=True, single=True, check_ctx=False, check_args=False
    )
    return payload


def _origin(directive: Mapping[str, Any]) -> Origin:
    return Origin(file=str(directive["file"]), line=int(directive.get("line") or 0))


def _collect_upstreams(block: Block, context: _Context) -> None:
    for directive in block:
        if directive["directive"] != "upstream" or not directive["args"]:
            continue
        hosts = tuple(
            _host_port(d["args"][0])
            for d in directive.get("block", [])
            if d["directive"] == "server" and d["args"]
        )
        context.upstreams[directive["args"][0]] = hosts


_VARIABLE_USE = re.compile(r"\$(?:\{([A-Za-z0-9_]+)\}|([A-Za-z0-9_]+))")
_CAPTURE = re.compile(r"\$(?:\{[0-9]\}|[0-9])")
MAX_EXPANSIONS = 32


def _collect_variables(block: Block, context: _Context) -> None:
    """Record the values each `map` can give its variable (maps are global in nginx)."""
    for directive in block:
        name, args = directive["directive"], directive["args"]
        if name == "map" and len(args) >= 2:
            source, target = args[0], args[1].lstrip("$")
            values = []
            for entry in directive.get("block", []):
                if entry["directive"] in ("hostnames", "volatile", "include"):
                    continue
                value = entry["args"][0] if entry["args"] else ""
                values.append(_CAPTURE.sub(source.replace("\\", r"\\"), value))
            if not any(e["directive"] == "default" for e in directive.get("block", [])):
                values.append("")  # an unmatched source leaves the variable empty
            context.variables.setdefault(target, []).extend(values)
        elif "block" in directive and name != "map":
            _collect_variables(directive["block"], context)


def _own_sets(block: Block) -> dict[str, tuple[str, ...]]:
    """Return the values the `set` lines of this very block give each variable."""
    found: dict[str, list[str]] = {}
    for directive in block:
        if directive["directive"] == "set" and len(directive["args"]) >= 2:
            found.setdefault(directive["args"][0].lstrip("$"), []).append(directive["args"][1])
    return {name: tuple(values) for name, values in found.items()}


def _expand(value: str, variables: Mapping[str, Sequence[str]], depth: int = 0) -> list[str]:
    """Return every text `value` can become, or [] when it names no defined variable."""
    match = next(
        (m for m in _VARIABLE_USE.finditer(value) if (m.group(1) or m.group(2)) in variables),
        None,
    )
    if match is None or depth >= 4:
        return []
    found: list[str] = []
    for choice in dict.fromkeys(variables[match.group(1) or match.group(2)]):
        text = value[: match.start()] + choice + value[match.end() :]
        found.extend(_expand(text, variables, depth + 1) or [text])
        if len(found) >= MAX_EXPANSIONS:
            break
    return list(dict.fromkeys(found))[:MAX_EXPANSIONS]


def _host_port(text: str) -> str:
    if text.startswith("unix:"):
        return text
    if text.startswith("[") and "]:" in text:
        return text
    if text.startswith("[") or text.count(":") > 1:
        return f"{text}:80" if not text.startswith("[") else f"{text}:80"
    return text if ":" in text else f"{text}:80"


def _apply(outer: _Scope, block: Block, context: _Context, level: str) -> _Scope:
    """Return the scope of a level (http, server, location, if): what it inherits,
    overridden by what it defines."""
    adds = [d for d in block if d["directive"] == "add_header" and len(d["args"]) >= 2]
    sets = [d for d in block if d["directive"] == "proxy_set_header" and len(d["args"]) >= 2]
    inherit = next(
        (
            d["args"][0]
            for d in reversed(block)
            if d["directive"] == "add_header_inherit" and d["args"]
        ),
        outer.add_header_inherit,
    )
    scope = _Scope(
        add_headers=_inherited_adds(
            tuple(_add_header(d) for d in adds), outer.add_headers, inherit
        ),
        add_header_inherit=inherit,
        more_headers=_more_headers(outer.more_headers, block),
        proxy_headers=tuple(_set_header(d) for d in sets) if sets else outer.proxy_headers,
        root=outer.root,
        server_tokens=outer.server_tokens,
        is_access_restricted=outer.is_access_restricted,
    )
    own = _own_sets(block)
    if level == "server":
        # A server-level `if` has no route of its own to vary: what its `set` lines give is
        # one more possibility, beside the unconditional value (or none) of every request.
        for child in block:
            if child["directive"] != "if":
                continue
            for name, values in _own_sets(child.get("block", [])).items():
                own[name] = (*own.get(name, ("",)), *values)
        scope.server_sets = own
        scope.sets = own
    elif level in ("location", "if"):
        scope.server_sets = outer.server_sets
        below = outer.server_sets if level == "location" else outer.sets
        scope.sets = {**below, **own}
    for directive in block:
        name, args = directive["directive"], directive["args"]
        if name == "root" and args:
            scope.root = _absolute(args[0], context.prefix)
        elif name == "server_tokens" and args:
            scope.server_tokens = args[0] != "off"
        elif name in ("allow", "deny", "auth_basic", "auth_request", "satisfy") and args:
            scope.is_access_restricted = not (name == "auth_basic" and args[0] == "off")
    return scope


def _inherited_adds(
    own: tuple[Header, ...], outer: tuple[Header, ...], inherit: str
) -> tuple[Header, ...]:
    """Return a level's `add_header` list under `add_header_inherit` (`on` by default)."""
    if inherit == "merge":
        return own + outer
    if inherit == "off":
        return own
    return own or outer


def _add_header(directive: Mapping[str, Any]) -> Header:
    args = directive["args"]
    return Header(
        name=args[0],
        value=args[1],
        origin=_origin(directive),
        always=len(args) > 2 and args[2] == "always",
    )


def _more_headers(inherited: tuple[Header, ...], block: Block) -> tuple[Header, ...]:
    """Apply a level's `more_set_headers` and `more_clear_headers` to what it inherits.

    Unlike `add_header`, the headers-more directives of every level take effect, outer levels
    first. They run before `add_header` in nginx's filter chain, so a clear never removes a
    header `add_header` adds, and a header set by both is sent twice.
    """
    headers = list(inherited)
    for directive in block:
        name = directive["directive"]
        if name not in ("more_set_headers", "more_clear_headers"):
            continue
        statuses, types, specs = _more_options(directive["args"])
        if types and not any("text/html" in t for t in types):
            continue  # limited to other content types: no HTML page gets it
        for spec in specs:
            field, colon, value = spec.partition(":")
            field = field.strip()
            headers = [h for h in headers if not _more_matches(field, h.name)]
            if name == "more_set_headers" and colon and value.strip():
                condition = f"status {' '.join(statuses)}" if statuses else ""
                headers.append(
                    Header(
                        name=field,
                        value=value.strip(),
                        origin=_origin(directive),
                        always=not statuses,
                        condition=condition,
                    )
                )
    return tuple(headers)


def _more_options(args: Sequence[str]) -> tuple[list[str], list[str], list[str]]:
    """Split headers-more arguments into `-s` statuses, `-t` types and header specs."""
    statuses: list[str] = []
    types: list[str] = []
    specs: list[str] = []
    pending: list[str] | None = None
    for arg in args:
        if pending is not None:
            pending.extend(arg.split())
            pending = None
        elif arg == "-s":
            pending = statuses
        elif arg == "-t":
            pending = types
        else:
            specs.append(arg)
    return statuses, types, specs


def _more_matches(pattern: str, name: str) -> bool:
    """Return whether a headers-more name (a trailing `*` is a wildcard) names `name`."""
    pattern, name = pattern.lower(), name.lower()
    return name.startswith(pattern[:-1]) if pattern.endswith("*") else name == pattern


def _set_header(directive: Mapping[str, Any]) -> Header:
    args = directive["args"]
    return Header(name=args[0], value=args[1], origin=_origin(directive), always=True)


def _expanded(headers: tuple[Header, ...], scope: _Scope, context: _Context) -> tuple[Header, ...]:
    """Return `headers` with the values their variables can take where `scope` applies."""
    variables: dict[str, Sequence[str]] = {**context.variables, **scope.sets}
    return tuple(dataclasses.replace(h, values=tuple(_expand(h.value, variables))) for h in headers)


def _absolute(path: str, prefix: str) -> str:
    if path.startswith("/"):
        return path
    joined = posixpath.normpath(posixpath.join(prefix, path))
    return joined + "/" if path.endswith("/") else joined  # the slash matters to `alias`


def _site(server: Mapping[str, Any], outer: _Scope, context: _Context, http: Tls) -> Site:
    block = server.get("block", [])
    scope = _apply(outer, block, context, "server")
    listens = tuple(_listens(block, server))
    names = tuple(n for d in block if d["directive"] == "server_name" for n in d["args"])
    tls = inherit_tls(http, _tls(block)) if any(listen.is_tls for listen in listens) else None
    shown = next((n for n in names if n not in ("_", "")), "_")
    # A server on both 80 and 443 is named by its TLS port: that is where the app is served.
    port = next((x.port for x in listens if x.is_tls), listens[0].port if listens else 80)
    site_name = f"{shown}:{port}"

    routes: list[Route] = []
    redirect = _server_redirect(block)
    if redirect is not None:
        routes.append(_route_from(redirect, len(routes), "prefix", "/", None, scope, context))
    else:
        for directive in block:
            if directive["directive"] == "location":
                _location(directive, None, scope, context, routes)
            elif directive["directive"] == "if":
                _if_block(directive, None, scope, context, routes)
        if not any(r.match == "prefix" and r.path == "/" and r.parent is None for r in routes):
            # Without `location /`, nginx serves the server's root for what matches nothing.
            routes.append(
                _make_route(
                    index=len(routes),
                    match="prefix",
                    path="/",
                    kind="static",
                    origin=_origin(server),
                    parent=None,
                    scope=scope,
                    context=context,
                    static_root=scope.root,
                    is_implicit=True,
                )
            )
    _resolve_fallbacks(routes)
    return Site(
        name=site_name,
        server_names=names,
        listens=listens,
        origin=_origin(server),
        tls=tls,
        routes=tuple(routes),
        document_root=scope.root,
    )


def _listens(block: Block, server: Mapping[str, Any]) -> Iterator[Listen]:
    has_ssl_on = any(d["directive"] == "ssl" and d["args"][:1] == ["on"] for d in block)
    found = False
    for directive in block:
        if directive["directive"] != "listen" or not directive["args"]:
            continue
        found = True
        target, *flags = directive["args"]
        address, port = _split_listen(target)
        yield Listen(
            address=address,
            port=port,
            is_tls="ssl" in flags or has_ssl_on,
            is_default="default_server" in flags or "default" in flags,
            origin=_origin(directive),
        )
    if not found:
        yield Listen(address="*", port=80, is_tls=has_ssl_on, origin=_origin(server))


def _split_listen(target: str) -> tuple[str, int]:
    if target.startswith("unix:"):
        return target, 0
    if target.isdigit():
        return "*", int(target)
    if target.startswith("["):
        address, _, port = target[1:].partition("]")
        port = port.lstrip(":")
        return address, int(port) if port.isdigit() else 80
    address, _, port = target.rpartition(":")
    if not address:
        return target, 80
    return address, int(port) if port.isdigit() else 80


def _tls(block: Block) -> Tls:
    found: dict[str, Mapping[str, Any]] = {}
    for directive in block:
        if directive["directive"] in (
            "ssl_protocols",
            "ssl_ciphers",
            "ssl_certificate",
            "ssl_certificate_key",
        ):
            found.setdefault(directive["directive"], directive)
    protocols = found.get("ssl_protocols")
    certificate = found.get("ssl_certificate")
    key = found.get("ssl_certificate_key")
    ciphers = found.get("ssl_ciphers")
    return Tls(
        protocols=tuple(protocols["args"]) if protocols else (),
        protocols_origin=_origin(protocols) if protocols else None,
        ciphers=ciphers["args"][0] if ciphers and ciphers["args"] else "",
        certificate_file=certificate["args"][0] if certificate and certificate["args"] else "",
        certificate_origin=_origin(certificate) if certificate else None,
        key_file=key["args"][0] if key and key["args"] else "",
        key_origin=_origin(key) if key else None,
    )


def inherit_tls(outer: Tls, tls: Tls) -> Tls:
    """Return `tls` completed with what the http level sets and the server does not."""
    return Tls(
        protocols=tls.protocols or outer.protocols,
        protocols_origin=tls.protocols_origin or outer.protocols_origin,
        ciphers=tls.ciphers or outer.ciphers,
        certificate_file=tls.certificate_file or outer.certificate_file,
        certificate_origin=tls.certificate_origin or outer.certificate_origin,
        key_file=tls.key_file or outer.key_file,
        key_origin=tls.key_origin or outer.key_origin,
    )


def _server_redirect(block: Block) -> Mapping[str, Any] | None:
    for directive in block:
        name, args = directive["directive"], directive["args"]
        if name == "return" and args:
            return directive
        if (
            name == "rewrite"
            and len(args) >= 3
            and args[2] in ("redirect", "permanent")
            and _CATCH_ALL.match(args[0])
        ):
            return directive
    return None


def _location(
    directive: Mapping[str, Any],
    parent: int | None,
    outer: _Scope,
    context: _Context,
    routes: list[Route],
) -> None:
    args = directive["args"]
    match, path = _location_match(args)
    block = directive.get("block", [])
    scope = _apply(outer, block, context, "location")
    index = len(routes)
    routes.append(_route_from(directive, index, match, path, parent, scope, context))
    for child in block:
        if child["directive"] == "location":
            _location(child, index, scope, context, routes)
        elif child["directive"] == "if":
            _if_block(child, index, scope, context, routes)


def _if_block(
    directive: Mapping[str, Any],
    parent: int | None,
    outer: _Scope,
    context: _Context,
    routes: list[Route],
) -> None:
    block = directive.get("block", [])
    scope = _apply(outer, block, context, "if")
    condition = " ".join(directive["args"])
    route = _route_from(directive, len(routes), "if", condition, parent, scope, context)
    if route.kind == "none" and parent is not None:
        # Without an action of its own, an `if` keeps its location's handler (proxy_pass
        # included) and request headers, but its own `add_header` list.
        owner = routes[parent]
        route = _replace(
            route,
            kind=owner.kind,
            upstream=owner.upstream,
            upstream_hosts=owner.upstream_hosts,
            static_root=owner.static_root,
            is_alias=owner.is_alias,
            # the location's headers, with what this block's `set` lines make of them
            request_headers=_expanded(owner.request_headers, scope, context),
        )
    routes.append(route)


def _location_match(args: Sequence[str]) -> tuple[str, str]:
    if len(args) >= 2:
        modifier, path = args[0], args[1]
        return {
            "=": "exact",
            "^~": "prefix-priority",
            "~": "regex",
            "~*": "regex-ci",
        }.get(modifier, "prefix"), path
    if args and args[0].startswith("@"):
        return "named", args[0]
    if args and args[0].startswith("="):
        return "exact", args[0][1:]
    return "prefix", args[0] if args else "/"


def _route_from(
    directive: Mapping[str, Any],
    index: int,
    match: str,
    path: str,
    parent: int | None,
    scope: _Scope,
    context: _Context,
) -> Route:
    if directive["directive"] in ("return", "rewrite"):
        block: Block = [directive]
    else:
        block = directive.get("block", [])
    kind, extra = _action(block, scope, context, match, path)
    return _make_route(
        index=index,
        match=match,
        path=path,
        kind=kind,
        origin=_origin(directive),
        parent=parent,
        scope=scope,
        context=context,
        **extra,
    )


def _action(
    block: Block, scope: _Scope, context: _Context, match: str, path: str
) -> tuple[str, dict[str, Any]]:
    by_name: dict[str, Mapping[str, Any]] = {}
    for directive in block:
        by_name.setdefault(directive["directive"], directive)

    if "return" in by_name:
        return _return(by_name["return"]["args"])
    rewrite = by_name.get("rewrite")
    if (
        rewrite is not None
        and len(rewrite["args"]) >= 3
        and rewrite["args"][2]
        in (
            "redirect",
            "permanent",
        )
    ):
        code = 301 if rewrite["args"][2] == "permanent" else 302
        return "redirect", {"redirect_to": rewrite["args"][1], "status": code}
    if "proxy_pass" in by_name and by_name["proxy_pass"]["args"]:
        upstream = by_name["proxy_pass"]["args"][0]
        return "proxy", {"upstream": upstream, "upstream_hosts": _resolve(upstream, context)}
    denies = [d for d in block if d["directive"] == "deny"]
    allows = [d for d in block if d["directive"] == "allow"]
    if any(d["args"][:1] == ["all"] for d in denies) and not allows:
        return "deny", {"status": 403}
    if match == "if":
        return "none", {}

    extra: dict[str, Any] = {"static_root": scope.root}
    if "alias" in by_name and by_name["alias"]["args"]:
        extra = {
            "static_root": _absolute(by_name["alias"]["args"][0], context.prefix),
            "is_alias": True,
        }
    try_files = by_name.get("try_files")
    if try_files is not None and try_files["args"]:
        last = try_files["args"][-1]
        if last.startswith("@"):
            extra["fallback_upstream"] = last
    return "static", extra


def _return(args: Sequence[str]) -> tuple[str, dict[str, Any]]:
    first = args[0]
    if not first.isdigit():
        return "redirect", {"redirect_to": first, "status": 302}
    code = int(first)
    target = args[1] if len(args) > 1 else ""
    if code in _REDIRECT_CODES:
        return "redirect", {"redirect_to": target, "status": code}
    if code >= 400:
        return "deny", {"status": code}
    return "return", {"status": code}


def _resolve(upstream: str, context: _Context) -> tuple[str, ...]:
    text = re.sub(r"^[a-z]+://", "", upstream, flags=re.IGNORECASE)
    if text.startswith("unix:"):
        return (text.split(":", 2)[0] + ":" + text.split(":", 2)[1],)
    hostport = text.split("/", 1)[0]
    if hostport in context.upstreams:
        return context.upstreams[hostport]
    if "$" in hostport:
        return ()  # a variable: only known at request time
    scheme_port = "443" if upstream.lower().startswith("https") else "80"
    if hostport.startswith("["):
        return (hostport if "]:" in hostport else f"{hostport}:{scheme_port}",)
    return (hostport if ":" in hostport else f"{hostport}:{scheme_port}",)


def _make_route(
    *,
    index: int,
    match: str,
    path: str,
    kind: str,
    origin: Origin,
    parent: int | None,
    scope: _Scope,
    context: _Context,
    is_implicit: bool = False,
    **extra: Any,
) -> Route:
    request = scope.proxy_headers
    if request is None:
        request = tuple(
            Header(name=name, value=value, origin=origin, always=True)
            for name, value in DEFAULT_PROXY_HEADERS
        )
    request = _expanded(request, scope, context)
    return Route(
        index=index,
        match=match,
        path=path,
        kind=kind,
        origin=origin,
        parent=parent,
        is_access_restricted=scope.is_access_restricted,
        request_headers=request if kind == "proxy" or extra.get("fallback_upstream") else (),
        response_headers=scope.more_headers + scope.add_headers,
        server_tokens=scope.server_tokens,
        **extra,
    )


def _resolve_fallbacks(routes: list[Route]) -> None:
    """Replace `try_files ... @name` with the upstream the named location proxies to."""
    named = {r.path: r for r in routes if r.match == "named"}
    for position, route in enumerate(routes):
        target = named.get(route.fallback_upstream)
        if target is None or not route.fallback_upstream:
            continue
        routes[position] = _replace(
            route,
            fallback_upstream=target.upstream or route.fallback_upstream,
            upstream_hosts=target.upstream_hosts,
            request_headers=target.request_headers,
        )


def _replace(route: Route, **changes: Any) -> Route:
    return dataclasses.replace(route, **changes)


_DUMP_HEADER = re.compile(r"^# configuration file (/.+):$")


def is_nginx_dump(text: str) -> bool:
    """Return whether `text` is the output of `nginx -T`."""
    for line in text.splitlines()[:5]:
        if _DUMP_HEADER.match(line):
            return True
    return False


def parse_nginx_dump(path: str, *, prefix: str | None = None) -> ProxyConfig:
    """Parse the output of `nginx -T` saved in `path`, as the files it shows.

    Each file of the dump is laid out under a private temporary tree at its own path, and
    read from there as a `--root` tree would be: findings name the original paths and lines.
    """
    try:
        with open_regular(path) as handle:
            text = handle.read(MAX_BYTES).decode("utf-8", errors="replace")
    except OSError as exc:
        problem = ConfigProblem(message=f"{path}: {exc.strerror or exc}", file=path)
        return ProxyConfig(server="nginx", path=path, problems=(problem,))

    files: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        header = _DUMP_HEADER.match(line)
        if header is not None:
            current = files.setdefault(posixpath.normpath(header.group(1)), [])
        elif current is not None:
            current.append(line)
    if not files:
        problem = ConfigProblem(message=f"{path}: no '# configuration file' in it", file=path)
        return ProxyConfig(server="nginx", path=path, problems=(problem,))

    with tempfile.TemporaryDirectory(prefix="mxguard-nginx-T-") as tree:
        for name, lines in files.items():
            target = os.path.join(tree, name.lstrip("/"))
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, "w", encoding="utf-8") as handle:
                handle.write("\n".join(lines) + "\n")
        main = next(iter(files))
        return parse_nginx(main, prefix=prefix, root=Root(tree))
