"""`Set-Cookie` lines reduced to a cookie's name and attributes; the value is dropped."""

from __future__ import annotations

import re

from mxguard.live.facts import Cookie

_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
MAX_LINE = 8192


def parse_set_cookie(line: str) -> Cookie:
    """Return the cookie a `Set-Cookie` header value sets, noting what is malformed in it."""
    if len(line) > MAX_LINE:
        line = line[:MAX_LINE]
    pair, _, rest = line.partition(";")
    name, has_equals, _value = pair.partition("=")
    name = name.strip()
    problems = []
    if not has_equals:
        problems.append("no name=value pair")
    if not name:
        problems.append("an empty cookie name")
    elif not _TOKEN.match(name):
        problems.append("a cookie name with characters HTTP does not allow")
        name = name.encode("unicode_escape").decode("ascii")[:80]

    attributes: dict[str, str] = {}
    for part in rest.split(";"):
        key, _, value = part.partition("=")
        key = key.strip().lower()
        if key:
            attributes.setdefault(key, value.strip())
    return Cookie(
        name=name[:200],
        is_secure="secure" in attributes,
        is_http_only="httponly" in attributes,
        same_site=attributes.get("samesite", "")[:40],
        path=attributes.get("path", "")[:200],
        domain=attributes.get("domain", "")[:200],
        problem="; ".join(problems),
    )


def base_name(name: str) -> str:
    """Return a cookie name without its `__Host-` or `__Secure-` prefix."""
    for prefix in ("__Host-", "__Secure-"):
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name
