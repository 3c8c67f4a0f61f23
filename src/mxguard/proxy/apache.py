"""Apache httpd configurations into the proxy model.

Read: `Include`/`IncludeOptional` with globs (relative to `ServerRoot`), `Define` and
`${VAR}` (with Debian's `envvars` beside the main file), `Listen`, `<VirtualHost>`,
`ServerName`/`ServerAlias`, `SSLEngine`, `SSLProtocol`, `SSLCipherSuite`,
`SSLCertificateFile`/`SSLCertificateKeyFile`, `DocumentRoot`, `Alias`/`AliasMatch`,
`Redirect`/`RedirectMatch`, `ProxyPass`/`ProxyPassMatch` (also inside `<Location>`),
`RewriteRule` with `[P]`, `[R]`, `[F]`, `[G]` (and the `RewriteCond` "no such file under
DOCUMENT_ROOT" that makes a proxy rule a fallback), `<Location>`/`<LocationMatch>` with
`Require`, `RequestHeader` and `Header`, `ServerTokens`, `User`.

httpd's header semantics differ from nginx's: `Header` and `RequestHeader` of the server,
the virtual host and every matching `<Location>` are merged in that order (a later `set`
replaces, `unset` removes). `Header always` and `Header` (onsuccess) are separate tables;
only the `always` table reaches error responses.

`<IfModule>` is decided as httpd decides it while reading: a module counts as loaded once a
`LoadModule` line for it has been read, or when it is compiled into Debian's httpd. A
fragment that loads no module at all (a lone virtual host given with `--proxy-config`)
cannot be decided that way, so there every module is assumed loaded. A false `<IfModule>`
around directives the checks depend on (headers, proxying, rewriting, locations) is reported
as a warning: httpd ignores them without a word. The other conditional sections
(`<IfDefine>`, `<IfVersion>`, `<IfFile>`, `<IfDirective>`) are taken as true unless negated
with `!`, in which case they are skipped.
"""

from __future__ import annotations

import dataclasses
import glob
import os
import posixpath
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from mxguard.discovery.rootfs import Root
from mxguard.proxy.apache_syntax import ApacheSyntaxError, Node, parse_text
from mxguard.proxy.model import (
    ConfigProblem,
    Header,
    Listen,
    Origin,
    ProxyConfig,
    Route,
    Site,
    Tls,
    route_path_matches,
)
from mxguard.safeio import open_regular

MAX_BYTES = 16 * 1024 * 1024
MAX_FILES = 20_000
MAX_INCLUDE_DEPTH = 16
ALL_PROTOCOLS = ("SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")
_CONDITIONAL = frozenset({"ifmodule", "ifdefine", "ifversion", "iffile", "ifdirective"})
# `apache2 -l` on Debian 12: what httpd has without any LoadModule.
_COMPILED_IN = frozenset(
    {"core", "so", "watchdog", "http_core", "log_config", "logio", "version", "unixd"}
)
# Directives whose loss behind a false <IfModule> changes a verdict.
_WATCHED = frozenset(
    {
        "header",
        "requestheader",
        "proxypass",
        "proxypassmatch",
        "rewriterule",
        "location",
        "locationmatch",
    }
)
_VARIABLE = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


@dataclass(slots=True)
class _Reader:
    root: Root
    server_root: str
    variables: dict[str, str] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    problems: list[ConfigProblem] = field(default_factory=list)
    modules: set[str] = field(default_factory=lambda: set(_COMPILED_IN))
    loads_modules: bool = False

    def read(self, path: str, origin: Origin | None, depth: int = 0) -> list[Node]:
        if len(self.files) >= MAX_FILES:
            return []
        try:
            real = self.root.real(self.root.resolve(path))
            with open_regular(real) as handle:
                raw = handle.read(MAX_BYTES + 1)
        except OSError as exc:
            where = origin or Origin(file=path)
            status = "warn" if origin is not None else "error"
            self._problem(f"{path}: {exc.strerror or exc}", where, status)
            return []
        if len(raw) > MAX_BYTES:
            self._problem(f"{path}: larger than {MAX_BYTES} bytes; not read", Origin(file=path))
            return []
        self.files.append(path)
        try:
            nodes = parse_text(raw.decode("utf-8", errors="replace"), file=path)
        except ApacheSyntaxError as exc:
            self._problem(str(exc.args[0]), Origin(file=path, line=exc.line or 0))
            return []
        return self._expand(nodes, depth)

    def _expand(self, nodes: Sequence[Node], depth: int) -> list[Node]:
        out: list[Node] = []
        for node in nodes:
            node.args = [self._substitute(a) for a in node.args]
            key = node.key
            if key == "define" and node.args:
                self.variables[node.args[0]] = node.args[1] if len(node.args) > 1 else ""
            elif key == "serverroot" and node.args:
                self.server_root = node.args[0]
            elif key == "loadmodule" and node.args:
                self.loads_modules = True
                self.modules.add(_module_name(node.args[0]))
            if key in ("include", "includeoptional") and node.args:
                out.extend(self._include(node, depth, is_optional=key == "includeoptional"))
            elif key == "ifmodule":
                if self._module_condition(node):
                    out.extend(self._expand(node.children or [], depth))
            elif key in _CONDITIONAL:
                if not (node.args and node.args[0].startswith("!")):
                    out.extend(self._expand(node.children or [], depth))
            else:
                if node.children is not None:
                    node.children = self._expand(node.children, depth)
                out.append(node)
        return out

    def _module_condition(self, node: Node) -> bool:
        argument = node.args[0] if node.args else ""
        negated = argument.startswith("!")
        name = _module_name(argument.lstrip("!"))
        if not self.loads_modules or not name:
            return not negated  # cannot be decided: every module is assumed loaded
        holds = (name in self.modules) != negated
        if not holds:
            inside = (n for child in node.children or [] for n in child.walk())
            lost = sorted({n.name for n in inside if n.key in _WATCHED})
            if lost:
                state = "loaded" if negated else "not loaded"
                self._problem(
                    f"<IfModule {argument}> is false because {name} is {state}: httpd "
                    f"ignores the {', '.join(lost)} inside it",
                    Origin(file=node.file, line=node.line),
                    "warn",
                )
        return holds

    def _include(self, node: Node, depth: int, *, is_optional: bool) -> list[Node]:
        origin = Origin(file=node.file, line=node.line)
        pattern = node.args[0]
        if not pattern.startswith("/"):
            pattern = posixpath.join(self.server_root, pattern)
        if depth >= MAX_INCLUDE_DEPTH:
            self._problem(f"Include {pattern}: nested too deeply; not read", origin, "warn")
            return []
        if glob.has_magic(pattern):
            matches = sorted(self._glob(pattern))
        elif self._is_dir(pattern):
            matches = sorted(self._glob(posixpath.join(pattern, "*")))
        else:
            matches = [pattern]
            if is_optional and not self._exists(pattern):
                return []
        out: list[Node] = []
        for match in matches:
            out.extend(self.read(match, origin, depth + 1))
        return out

    def _glob(self, pattern: str) -> list[str]:
        if self.root.is_live:
            return glob.glob(pattern)
        base = self.root.directory.rstrip("/")
        return ["/" + p[len(base) :].lstrip("/") for p in glob.glob(self.root.real(pattern))]

    def _exists(self, path: str) -> bool:
        try:
            return os.path.exists(self.root.real(self.root.resolve(path)))
        except OSError:
            return False

    def _is_dir(self, path: str) -> bool:
        try:
            return os.path.isdir(self.root.real(self.root.resolve(path)))
        except OSError:
            return False

    def _substitute(self, text: str) -> str:
        if "${" not in text:
            return text
        return _VARIABLE.sub(lambda m: self.variables.get(m.group(1), m.group(0)), text)

    def _problem(self, message: str, origin: Origin, status: str = "error") -> None:
        self.problems.append(
            ConfigProblem(message=message, file=origin.file, line=origin.line, status=status)
        )


def _module_name(text: str) -> str:
    """Reduce `mod_headers.c`, `headers_module` and `mod_headers.so` to `headers`."""
    name = posixpath.basename(text.strip().strip('"')).lower()
    for suffix in (".c", ".so", "_module"):
        name = name.removesuffix(suffix)
    return name.removeprefix("mod_")


def parse_apache(path: str, *, root: Root | None = None) -> ProxyConfig:
    """Parse the Apache httpd configuration whose main file is `path`."""
    root = root or Root("/")
    reader = _Reader(root=root, server_root=posixpath.dirname(path))
    reader.variables.update(_envvars(root, posixpath.join(posixpath.dirname(path), "envvars")))
    nodes = reader.read(path, None)

    top = [n for n in nodes if n.children is None or n.key not in ("virtualhost",)]
    vhosts = [n for n in nodes if n.key == "virtualhost"]
    listens = _global_listens(nodes)
    sites = [_vhost_site(v, top, listens, reader) for v in vhosts]
    if not vhosts and any(n.key == "documentroot" for n in top):
        sites.append(_main_site(top, listens, reader, path))
    user = next((n.args[0] for n in top if n.key == "user" and n.args), "")
    return ProxyConfig(
        server="apache",
        path=path,
        sites=tuple(sites),
        files=tuple(reader.files),
        problems=tuple(reader.problems),
        user=user,
    )


def _envvars(root: Root, path: str) -> dict[str, str]:
    # Debian's `envvars` is a shell script; only plain `export NAME=value` lines are taken.
    found: dict[str, str] = {}
    try:
        with open_regular(
            root.real(root.resolve(path)), "r", encoding="utf-8", errors="replace"
        ) as handle:
            text = handle.read(256 * 1024)
    except OSError:
        return found
    for match in re.finditer(r"^\s*export\s+([A-Z0-9_]+)=([^\s$`;]+)\s*$", text, re.MULTILINE):
        found[match.group(1)] = match.group(2).strip("'\"")
    return found


def _global_listens(nodes: Sequence[Node]) -> list[tuple[str, int, bool, Origin]]:
    listens = []
    for node in nodes:
        if node.key != "listen" or not node.args:
            continue
        address, port = _split(node.args[0])
        is_tls = len(node.args) > 1 and node.args[1].lower() == "https"
        listens.append((address, port, is_tls, Origin(file=node.file, line=node.line)))
    return listens


def _split(text: str) -> tuple[str, int]:
    if text.startswith("["):
        address, _, port = text[1:].partition("]")
        port = port.lstrip(":")
        return address, int(port) if port.isdigit() else 80
    if text.isdigit():
        return "*", int(text)
    address, _, port = text.rpartition(":")
    if not address:
        return text, 80
    return ("*" if address in ("*", "_default_") else address), int(port) if port.isdigit() else 80


def _vhost_site(
    vhost: Node,
    top: Sequence[Node],
    global_listens: Sequence[tuple[str, int, bool, Origin]],
    reader: _Reader,
) -> Site:
    body = vhost.children or []
    origin = Origin(file=vhost.file, line=vhost.line)
    is_tls = _flag(body, "sslengine") or (_flag(top, "sslengine") and not _has(body, "sslengine"))
    listens = []
    for arg in vhost.args:
        address, port = _split(arg)
        listens.append(Listen(address=address, port=port, is_tls=is_tls, origin=origin))
    names = tuple(name for n in body if n.key in ("servername", "serveralias") for name in n.args)
    port = listens[0].port if listens else 80
    name = f"{names[0] if names else '_'}:{port}"
    return _site(
        name=name,
        names=names,
        listens=tuple(listens),
        origin=origin,
        body=body,
        top=top,
        is_tls=is_tls,
        reader=reader,
    )


def _main_site(
    top: Sequence[Node],
    global_listens: Sequence[tuple[str, int, bool, Origin]],
    reader: _Reader,
    path: str,
) -> Site:
    is_tls = _flag(top, "sslengine")
    listens = tuple(
        Listen(address=a, port=p, is_tls=tls or is_tls, origin=o) for a, p, tls, o in global_listens
    )
    names = tuple(n.args[0] for n in top if n.key == "servername" and n.args)
    port = listens[0].port if listens else 80
    return _site(
        name=f"{names[0] if names else '_'}:{port}",
        names=names,
        listens=listens,
        origin=Origin(file=path, line=1),
        body=[],
        top=top,
        is_tls=is_tls,
        reader=reader,
    )


def _flag(nodes: Iterable[Node], key: str) -> bool:
    return any(n.key == key and n.args[:1] and n.args[0].lower() == "on" for n in nodes)


def _has(nodes: Iterable[Node], key: str) -> bool:
    return any(n.key == key for n in nodes)


def _last(nodes: Sequence[Node], top: Sequence[Node], key: str) -> Node | None:
    for scope in (nodes, top):
        found = [n for n in scope if n.key == key and n.args]
        if found:
            return found[-1]
    return None


def _site(
    *,
    name: str,
    names: tuple[str, ...],
    listens: tuple[Listen, ...],
    origin: Origin,
    body: Sequence[Node],
    top: Sequence[Node],
    is_tls: bool,
    reader: _Reader,
) -> Site:
    document_root = _last(body, top, "documentroot")
    docroot = document_root.args[0] if document_root else ""
    tls = _tls(body, top) if is_tls else None
    tokens = _last([], top, "servertokens")
    server_tokens = not (tokens and tokens.args[0].lower() in ("prod", "productonly"))
    builder = _Routes(
        body=body, top=top, docroot=docroot, server_tokens=server_tokens, origin=origin
    )
    return Site(
        name=name,
        server_names=names,
        listens=listens,
        origin=origin,
        tls=tls,
        routes=builder.build(),
        document_root=docroot,
        matching="first",
    )


def _tls(body: Sequence[Node], top: Sequence[Node]) -> Tls:
    protocol = _last(body, top, "sslprotocol")
    certificate = _last(body, top, "sslcertificatefile")
    key = _last(body, top, "sslcertificatekeyfile")
    ciphers = _last(body, top, "sslciphersuite")
    return Tls(
        protocols=protocols_enabled(protocol.args) if protocol else (),
        protocols_origin=Origin(file=protocol.file, line=protocol.line) if protocol else None,
        ciphers=ciphers.args[-1] if ciphers else "",
        certificate_file=certificate.args[0] if certificate else "",
        certificate_origin=(
            Origin(file=certificate.file, line=certificate.line) if certificate else None
        ),
        key_file=key.args[0] if key else (certificate.args[0] if certificate else ""),
        key_origin=Origin(file=key.file, line=key.line) if key else None,
    )


def protocols_enabled(args: Sequence[str]) -> tuple[str, ...]:
    """Return the protocols an `SSLProtocol` line enables, in order from oldest."""
    enabled: set[str] = set()
    for arg in args:
        sign, name = (arg[0], arg[1:]) if arg[:1] in "+-" else ("", arg)
        chosen = ALL_PROTOCOLS[1:] if name.lower() == "all" else _protocol(name)
        if sign == "-":
            enabled.difference_update(chosen)
        elif sign == "+":
            enabled.update(chosen)
        else:
            enabled = set(chosen) if not enabled or name.lower() == "all" else enabled | set(chosen)
    return tuple(p for p in ALL_PROTOCOLS if p in enabled)


def _protocol(name: str) -> tuple[str, ...]:
    return tuple(p for p in ALL_PROTOCOLS if p.lower() == name.lower())


@dataclass(slots=True)
class _Routes:
    body: Sequence[Node]
    top: Sequence[Node]
    docroot: str
    server_tokens: bool
    origin: Origin
    routes: list[Route] = field(default_factory=list)
    restricted: list[tuple[str, str]] = field(default_factory=list)

    def build(self) -> tuple[Route, ...]:
        locations = [n for n in self.body if n.key in ("location", "locationmatch") and n.args]
        for location in locations:
            self._location_access(location)
        self._rewrites()
        for node in self.body:
            if node.key == "proxypass" and len(node.args) >= 2:
                self._proxy(node, node.args[0], node.args[1], "prefix")
            elif node.key == "proxypassmatch" and len(node.args) >= 2:
                self._proxy(node, node.args[0], node.args[1], "regex")
        for location in locations:
            for node in location.children or []:
                if node.key in ("proxypass", "proxypassmatch") and node.args:
                    match = "regex" if location.key == "locationmatch" else "prefix"
                    self._proxy(node, location.args[0], node.args[0], match)
        for node in self.body:
            self._alias_or_redirect(node)
        if not any(_is_catch_all(r) for r in self.routes):
            docroot = _last(self.body, self.top, "documentroot")
            self._add(
                docroot or Node(name="DocumentRoot", args=[], file="", line=0),
                match="prefix",
                path="/",
                kind="static",
                static_root=self.docroot,
                origin=None if docroot else self.origin,
            )
        return tuple(self.routes)

    def _location_access(self, location: Node) -> None:
        body = location.children or []
        requires = [n for n in body if n.key == "require"]
        if not requires and not any(n.key in ("deny", "authtype") for n in body):
            return
        match = "regex" if location.key == "locationmatch" else "prefix"
        is_denied = any([a.lower() for a in n.args] == ["all", "denied"] for n in requires)
        if any(n.key == "deny" and [a.lower() for a in n.args] == ["from", "all"] for n in body):
            is_denied = True
        if is_denied:
            self._add(location, match=match, path=location.args[0], kind="deny", status=403)
        elif not any([a.lower() for a in n.args] == ["all", "granted"] for n in requires):
            self.restricted.append((match, location.args[0]))

    def _rewrites(self) -> None:
        if not _flag(self.body, "rewriteengine"):
            return
        conditions: list[Node] = []
        for node in self.body:
            if node.key == "rewritecond":
                conditions.append(node)
                continue
            if node.key != "rewriterule" or len(node.args) < 2:
                continue
            pattern, target = node.args[0], node.args[1]
            flags = _rewrite_flags(node.args[2] if len(node.args) > 2 else "")
            only_when_no_file = _only_when_no_file(conditions)
            conditions = []  # conditions belong to the one rule that follows them
            if ("p" in flags or "proxy" in flags) and only_when_no_file:
                # Files that exist are served from DocumentRoot; the rest goes to the runtime.
                self._add(
                    node,
                    match="regex",
                    path=pattern,
                    kind="static",
                    static_root=self.docroot,
                    fallback_upstream=target,
                    upstream_hosts=_upstream_hosts(target),
                )
            elif "p" in flags or "proxy" in flags:
                self._proxy(node, pattern, target, "regex")
            elif "f" in flags or "forbidden" in flags:
                self._add(node, match="regex", path=pattern, kind="deny", status=403)
            elif "g" in flags or "gone" in flags:
                self._add(node, match="regex", path=pattern, kind="deny", status=410)
            elif any(f == "r" or f.startswith(("r=", "redirect")) for f in flags):
                code = next((f.split("=", 1)[1] for f in flags if f.startswith("r=")), "302")
                self._add(
                    node,
                    match="regex",
                    path=pattern,
                    kind="redirect",
                    redirect_to=target,
                    status=int(code) if code.isdigit() else 302,
                )

    def _proxy(self, node: Node, path: str, upstream: str, match: str) -> None:
        if upstream == "!":
            self._add(node, match=match, path=path, kind="static", static_root=self.docroot)
            return
        self._add(
            node,
            match=match,
            path=path,
            kind="proxy",
            upstream=upstream,
            upstream_hosts=_upstream_hosts(upstream),
        )

    def _alias_or_redirect(self, node: Node) -> None:
        key, args = node.key, node.args
        if key in ("alias", "aliasmatch") and len(args) >= 2:
            match = "regex" if key == "aliasmatch" else "prefix"
            self._add(node, match=match, path=args[0], kind="static", static_root=args[1])
            self._routes_alias_flag()
        elif key in ("redirect", "redirectmatch", "redirectpermanent") and args:
            status, rest = 302, list(args)
            if key == "redirectpermanent":
                status = 301
            elif rest[0].lower() in ("permanent", "temp", "seeother", "gone") or rest[0].isdigit():
                word = rest.pop(0).lower()
                status = {"permanent": 301, "temp": 302, "seeother": 303, "gone": 410}.get(
                    word, int(word) if word.isdigit() else 302
                )
            if not rest:
                return
            match = "regex" if key == "redirectmatch" else "prefix"
            kind = "deny" if status == 410 else "redirect"
            target = rest[1] if len(rest) > 1 else ""
            self._add(node, match=match, path=rest[0], kind=kind, redirect_to=target, status=status)

    def _routes_alias_flag(self) -> None:
        last = self.routes[-1]
        self.routes[-1] = _with(last, is_alias=True)

    def _add(
        self,
        node: Node,
        *,
        match: str,
        path: str,
        kind: str,
        origin: Origin | None = None,
        **extra: Any,
    ) -> None:
        where = origin or Origin(file=node.file, line=node.line)
        if match == "prefix" and kind in ("proxy", "static"):
            self._location_variants(path, kind, extra)
        to_runtime = kind == "proxy" or bool(extra.get("fallback_upstream"))
        request = self._headers(path, "requestheader") if to_runtime else ()
        response = self._headers(path, "header")
        restricted = any(_prefix_or_regex(m, p, path) for m, p in self.restricted)
        self.routes.append(
            Route(
                index=len(self.routes),
                match=match,
                path=path,
                kind=kind,
                origin=where,
                request_headers=request,
                response_headers=response,
                is_access_restricted=restricted,
                server_tokens=self.server_tokens,
                **extra,
            )
        )

    def _location_variants(self, path: str, kind: str, extra: dict[str, Any]) -> None:
        """Add a route for each `<Location>` below `path` with headers or access rules.

        httpd merges a `<Location>`'s headers and `Require` into every request below it, so
        the part of a `ProxyPass /` under `<Location /xas/>` is handled differently.
        """
        for location in self.body:
            if location.key != "location" or not location.args:
                continue
            below = location.args[0]
            if below == path or not below.startswith(path.rstrip("/") + "/"):
                continue
            has_headers = any(n.key in ("header", "requestheader") for n in location.children or [])
            if not has_headers and ("prefix", below) not in self.restricted:
                continue
            if any(r.path == below and r.match == "prefix" for r in self.routes):
                continue
            self._add(
                location,
                match="prefix",
                path=below,
                kind=kind,
                origin=Origin(file=location.file, line=location.line),
                **extra,
            )

    def _headers(self, path: str, key: str) -> tuple[Header, ...]:
        """Return the headers of `key` that apply to `path`: server, host, then locations."""
        scopes: list[Sequence[Node]] = [self.top, self.body]
        sample = _sample_path(path)
        for location in self.body:
            if location.key not in ("location", "locationmatch") or not location.args:
                continue
            if location.key == "location" and sample.startswith(location.args[0]):
                scopes.append(location.children or [])
            elif location.key == "locationmatch" and _search(location.args[0], sample):
                scopes.append(location.children or [])
        tables: dict[bool, dict[str, Header]] = {True: {}, False: {}}
        for scope in scopes:
            for node in scope:
                if node.key == key:
                    _merge(tables, node, is_request=key == "requestheader")
        return (*tables[False].values(), *tables[True].values())


def _with(route: Route, **changes: Any) -> Route:
    return dataclasses.replace(route, **changes)


def _merge(tables: dict[bool, dict[str, Header]], node: Node, *, is_request: bool) -> None:
    args = list(node.args)
    always = False
    if not is_request and args and args[0].lower() in ("always", "onsuccess"):
        always = args.pop(0).lower() == "always"
    if is_request and args and args[0].lower() == "early":
        args.pop(0)
    if len(args) < 2:
        return
    action, name = args[0].lower(), args[1]
    value = args[2] if len(args) > 2 else ""
    condition = " ".join(args[3:])
    table = tables[always or is_request]
    lowered = name.lower()
    # Only `set` replaces what the client sent; the others keep it unless an earlier `set`
    # of this proxy already did.
    keeps = is_request and action in ("setifempty", "append", "merge", "add")
    header = Header(
        name=name,
        value=value,
        origin=Origin(file=node.file, line=node.line),
        always=always or is_request,
        condition=condition,
        client_value_kept_by=f"RequestHeader {action}" if keeps and lowered not in table else "",
    )
    if action == "unset":
        table.pop(lowered, None)
    elif action in ("set", "setifempty") or lowered not in table:
        if action == "setifempty" and lowered in table:
            return
        if action in ("set", "setifempty", "append", "merge", "add"):
            table[lowered] = header
        elif action == "edit" or action == "edit*":
            return
    elif action in ("append", "merge", "add"):
        old = table[lowered]
        table[lowered] = Header(
            name=old.name,
            value=f"{old.value}, {value}",
            origin=header.origin,
            always=header.always,
            condition=condition,
        )


def _is_catch_all(route: Route) -> bool:
    probes = ("/", "/index.html", "/xas/", "/a/b.js")
    answers = route.kind in ("proxy", "redirect", "deny") or bool(route.fallback_upstream)
    return answers and all(route_path_matches(route, probe) for probe in probes)


# What `RewriteCond` tests to mean "no such file": only a path built from DOCUMENT_ROOT names
# the file in server or virtual-host context. There, REQUEST_FILENAME is still the URL path
# (httpd has not mapped it yet), so `%{REQUEST_FILENAME} !-f` holds for static files too.
_FILE_TESTS = frozenset({"!-f", "!-d", "!-s", "!-l", "!-L", "!-h"})
_MAPPED_PATHS = frozenset({"%{document_root}%{request_filename}", "%{document_root}%{request_uri}"})


def _only_when_no_file(conditions: Sequence[Node]) -> bool:
    """Return whether `conditions` let their rule apply only where no file or folder exists."""
    if not conditions:
        return False
    for condition in conditions:
        args = condition.args
        flags = _rewrite_flags(args[2]) if len(args) > 2 else []
        if len(args) < 2 or "or" in flags or "ornext" in flags:
            return False
        if args[0].lower() not in _MAPPED_PATHS or args[1] not in _FILE_TESTS:
            return False
    return True


def _rewrite_flags(text: str) -> list[str]:
    return [f.strip().lower() for f in text.strip("[]").split(",") if f.strip()]


def _upstream_hosts(upstream: str) -> tuple[str, ...]:
    text = upstream
    if text.lower().startswith("unix:"):
        return (text.split("|", 1)[0],)
    match = re.match(r"^[a-z]+://(\[[^\]]+\](?::\d+)?|[^/:$]+(?::\d+)?)", text, re.IGNORECASE)
    if match is None:
        return ()
    hostport = match.group(1)
    default = "443" if text.lower().startswith(("https", "wss")) else "80"
    if hostport.startswith("["):
        return (hostport if "]:" in hostport else f"{hostport}:{default}",)
    return (hostport if ":" in hostport else f"{hostport}:{default}",)


def _sample_path(path: str) -> str:
    """Return a request path that a route's pattern stands for, to find its <Location>s."""
    cleaned = re.sub(r"[\^$()?*+|\\]|\[[^\]]*\]|\.\*", "", path)
    return cleaned if cleaned.startswith("/") else "/" + cleaned


def _search(pattern: str, text: str) -> bool:
    try:
        return re.search(pattern, text) is not None
    except re.error:
        return False


def _prefix_or_regex(match: str, pattern: str, path: str) -> bool:
    sample = _sample_path(path)
    return _search(pattern, sample) if match == "regex" else sample.startswith(pattern)
