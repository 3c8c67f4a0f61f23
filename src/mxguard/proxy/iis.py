"""IIS `web.config` files into the proxy model, by static analysis only.

Read: URL Rewrite inbound rules (`match url`, `action type="Rewrite"` to an upstream,
`Redirect`, `CustomResponse`, `AbortRequest`, `serverVariables` such as
`HTTP_X_FORWARDED_PROTO`), outbound rules that set `RESPONSE_*` variables, and
`httpProtocol/customHeaders` (`add`, `remove`, `clear`). The static site path is the
folder that holds `web.config`. Bindings (ports, TLS, certificates) live in IIS's
`applicationHost.config`, not here: sites parsed from `web.config` have no listens, and
the TLS checks say so instead of guessing.

The XML is read with defusedxml: no DTDs, no entity expansion, no external references.
"""

from __future__ import annotations

import ntpath
import posixpath
import re
from typing import Any

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from mxguard.discovery.rootfs import Root
from mxguard.proxy.model import ConfigProblem, Header, Origin, ProxyConfig, Route, Site
from mxguard.safeio import open_regular

MAX_BYTES = 8 * 1024 * 1024


def parse_iis(path: str, *, root: Root | None = None) -> ProxyConfig:
    """Parse the IIS `web.config` at `path`."""
    root = root or Root("/")
    try:
        real = root.real(root.resolve(path))
        with open_regular(real) as handle:
            raw = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        return _failed(path, f"{path}: {exc.strerror or exc}", 0)
    if len(raw) > MAX_BYTES:
        return _failed(path, f"{path}: larger than {MAX_BYTES} bytes; not read", 0)
    try:
        document = SafeET.fromstring(raw, forbid_dtd=True)
    except DefusedXmlException as exc:
        return _failed(path, f"{path}: refused: {type(exc).__name__}", 0)
    except SafeET.ParseError as exc:
        line = exc.position[0] if getattr(exc, "position", None) else 0
        return _failed(path, f"{path}: not well-formed XML: {exc}", line)
    except (LookupError, ValueError) as exc:  # an XML declaration naming an unknown encoding
        return _failed(path, f"{path}: not readable XML: {exc}", 1)

    lines = _element_lines(raw)
    folder = posixpath.dirname(path) if "/" in path else ntpath.dirname(path)
    server = document.find("system.webServer")
    if server is None:
        server = document.find(".//system.webServer")
    headers = _custom_headers(server, path, lines)
    outbound = _outbound_headers(server, path, lines)
    response = (*headers, *outbound)

    routes: list[Route] = []
    rules = server.findall("rewrite/rules/rule") if server is not None else []
    for position, rule in enumerate(rules):
        route = _rule(rule, len(routes), path, _line_of(lines, "rule", position), response)
        if route is not None:
            routes.append(route)
    routes.append(
        Route(
            index=len(routes),
            match="prefix",
            path="",
            kind="static",
            origin=Origin(file=path, line=1),
            static_root=folder,
            response_headers=response,
        )
    )
    site = Site(
        name=f"{folder}:web.config",
        server_names=(),
        listens=(),
        origin=Origin(file=path, line=1),
        routes=tuple(routes),
        document_root=folder,
        matching="first",
        is_path_relative=True,
    )
    return ProxyConfig(server="iis", path=path, sites=(site,), files=(path,))


def _failed(path: str, message: str, line: int) -> ProxyConfig:
    problem = ConfigProblem(message=message, file=path, line=line)
    return ProxyConfig(server="iis", path=path, problems=(problem,))


def _element_lines(raw: bytes) -> dict[str, list[int]]:
    """Return the lines on which each tag name opens, in order, for evidence."""
    lines: dict[str, list[int]] = {}
    for number, text in enumerate(raw.decode("utf-8", errors="replace").splitlines(), start=1):
        for match in re.finditer(r"<([A-Za-z][\w.:-]*)", text):
            lines.setdefault(match.group(1), []).append(number)
    return lines


def _line_of(lines: dict[str, list[int]], tag: str, occurrence: int) -> int:
    found = lines.get(tag, [])
    return found[occurrence] if occurrence < len(found) else (found[-1] if found else 0)


def _custom_headers(server: Any, path: str, lines: dict[str, list[int]]) -> tuple[Header, ...]:
    if server is None:
        return ()
    table: dict[str, Header] = {}
    counter = 0
    for element in server.findall("httpProtocol/customHeaders/*"):
        tag = element.tag
        name = element.get("name", "")
        if tag == "clear":
            table.clear()
        elif tag == "remove":
            table.pop(name.lower(), None)
        elif tag == "add" and name:
            origin = Origin(file=path, line=_line_of(lines, "add", counter))
            # customHeaders are added to every response IIS sends, errors included.
            table[name.lower()] = Header(
                name=name, value=element.get("value", ""), origin=origin, always=True
            )
        if tag == "add":
            counter += 1
    return tuple(table.values())


def _outbound_headers(server: Any, path: str, lines: dict[str, list[int]]) -> tuple[Header, ...]:
    if server is None:
        return ()
    found: list[Header] = []
    for position, rule in enumerate(server.findall("rewrite/outboundRules/rule")):
        match = rule.find("match")
        action = rule.find("action")
        if match is None or action is None:
            continue
        variable = match.get("serverVariable", "")
        if not variable.upper().startswith("RESPONSE_") or action.get("type") != "Rewrite":
            continue
        name = variable[len("RESPONSE_") :].replace("_", "-")
        conditions = rule.find("conditions")
        found.append(
            Header(
                name=name,
                value=action.get("value", ""),
                origin=Origin(file=path, line=_outbound_line(lines, position)),
                always=conditions is None or not list(conditions),
                condition=match.get("pattern", ""),
            )
        )
    return tuple(found)


def _outbound_line(lines: dict[str, list[int]], position: int) -> int:
    # Outbound rules follow the inbound ones; count `rule` tags after `outboundRules`.
    start = _line_of(lines, "outboundRules", 0)
    after = [n for n in lines.get("rule", []) if n > start]
    return after[position] if position < len(after) else start


def _rule(
    rule: Any,
    index: int,
    path: str,
    line: int,
    response: tuple[Header, ...],
) -> Route | None:
    match = rule.find("match")
    action = rule.find("action")
    if match is None or action is None:
        return None
    origin = Origin(file=path, line=line)
    pattern = match.get("url", ".*")
    if match.get("negate", "false").lower() == "true":
        pattern = f"^(?!{pattern})"
    kind_name = action.get("type", "None")
    url = action.get("url", "")
    request = tuple(
        Header(
            name=_variable_header(element.get("name", "")),
            value=element.get("value", ""),
            origin=origin,
            always=True,
            client_value_kept_by=(
                'replace="false"' if element.get("replace", "true").lower() == "false" else ""
            ),
        )
        for element in rule.findall("serverVariables/set")
        if element.get("name", "").upper().startswith("HTTP_")
    )
    common: dict[str, Any] = {
        "index": index,
        "match": "regex" if match.get("ignoreCase", "true").lower() == "false" else "regex-ci",
        "path": pattern,
        "origin": origin,
        "response_headers": response,
    }
    if kind_name == "Rewrite" and re.match(r"^[a-z]+://", url, re.IGNORECASE):
        hostport = re.sub(r"^[a-z]+://", "", url, flags=re.IGNORECASE).split("/", 1)[0]
        default = "443" if url.lower().startswith("https") else "80"
        hosts = (hostport if ":" in hostport else f"{hostport}:{default}",)
        return Route(
            kind="proxy", upstream=url, upstream_hosts=hosts, request_headers=request, **common
        )
    if kind_name == "Redirect":
        code = {"Permanent": 301, "Found": 302, "SeeOther": 303, "Temporary": 307}
        status = code.get(action.get("redirectType", "Permanent"), 301)
        return Route(kind="redirect", redirect_to=url, status=status, **common)
    if kind_name in ("CustomResponse", "AbortRequest"):
        status = int(action.get("statusCode", "403") or 403)
        return Route(kind="deny", status=status, **common)
    return None


def _variable_header(variable: str) -> str:
    """Return the request header a `HTTP_*` server variable sets: HTTP_X_A_B → X-A-B."""
    return "-".join(part.capitalize() for part in variable[len("HTTP_") :].split("_"))
