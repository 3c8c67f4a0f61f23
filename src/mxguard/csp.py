"""A Content-Security-Policy parser and evaluator that understands CSP Level 3.

`parse_csp` reads a header value the way a browser does (directives split on `;`, names
case-insensitive, a repeated directive ignored, policies split on `,`). `evaluate_csp`
judges it: what an attacker who can inject markup could still run, and what the policy
forgot. Each issue has a stable kebab-case `code` that reports and tests rely on.

Semantics followed, because they decide whether a weakness is real:

- `script-src` falls back to `default-src`; `object-src` too; `base-uri` and
  `frame-ancestors` fall back to nothing.
- A nonce or hash in a script list makes the browser ignore `'unsafe-inline'`.
- `'strict-dynamic'` makes the browser ignore host and scheme sources, `*`, `'self'` and
  `'unsafe-inline'` in that list: only nonces, hashes and scripts they load run.
- Several policies (comma-separated, or several headers joined) are all enforced: a
  weakness counts only when every policy has it.
- A report-only policy enforces nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mxguard.model import Severity

# Directives of CSP Level 3 and its companions that browsers know.
FETCH_DIRECTIVES = frozenset(
    {
        "child-src",
        "connect-src",
        "default-src",
        "fenced-frame-src",
        "font-src",
        "frame-src",
        "img-src",
        "manifest-src",
        "media-src",
        "object-src",
        "prefetch-src",
        "script-src",
        "script-src-attr",
        "script-src-elem",
        "style-src",
        "style-src-attr",
        "style-src-elem",
        "worker-src",
    }
)
OTHER_DIRECTIVES = frozenset(
    {
        "base-uri",
        "form-action",
        "frame-ancestors",
        "navigate-to",
        "report-to",
        "report-uri",
        "require-trusted-types-for",
        "sandbox",
        "trusted-types",
        "upgrade-insecure-requests",
        "webrtc",
    }
)
DEPRECATED_DIRECTIVES = frozenset(
    {"block-all-mixed-content", "plugin-types", "referrer", "reflected-xss", "disown-opener"}
)
KNOWN_DIRECTIVES = FETCH_DIRECTIVES | OTHER_DIRECTIVES | DEPRECATED_DIRECTIVES

KEYWORDS = frozenset(
    {
        "'self'",
        "'none'",
        "'unsafe-inline'",
        "'unsafe-eval'",
        "'unsafe-hashes'",
        "'strict-dynamic'",
        "'report-sample'",
        "'wasm-unsafe-eval'",
        "'unsafe-allow-redirects'",
        "'inline-speculation-rules'",
        "'trusted-types-eval'",
    }
)
# Directives that take no source list have quoted keywords of their own.
_OWN_KEYWORDS = {
    "require-trusted-types-for": frozenset({"'script'"}),
    "trusted-types": frozenset({"'none'", "'allow-duplicates'"}),
    "webrtc": frozenset({"'allow'", "'block'"}),
}
# Written without quotes these are host names, which is never what the author meant.
_BARE_KEYWORDS = frozenset(k.strip("'") for k in KEYWORDS)

MIN_NONCE_LENGTH = 8
_NONCE = re.compile(r"^'nonce-([^']*)'$", re.IGNORECASE)
_HASH = re.compile(r"^'(sha256|sha384|sha512)-([A-Za-z0-9+/_=-]+)'$", re.IGNORECASE)
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:$", re.IGNORECASE)
_DIRECTIVE_NAME = re.compile(r"^[a-z0-9-]+$", re.IGNORECASE)


@dataclass(frozen=True, slots=True, kw_only=True)
class Directive:
    """One directive of a policy: its lower-case name and its source expressions."""

    name: str
    sources: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Policy:
    """One serialised policy, parsed; `duplicates` lists names that were repeated."""

    directives: tuple[Directive, ...]
    duplicates: tuple[str, ...] = ()
    others: tuple[Policy, ...] = ()  # further comma-separated policies, enforced as well

    def get(self, name: str) -> Directive | None:
        """Return the directive called `name`, or None."""
        return next((d for d in self.directives if d.name == name), None)

    def effective(self, name: str) -> Directive | None:
        """Return the directive that governs `name`, following the fallback to `default-src`."""
        for candidate in _fallbacks(name):
            found = self.get(candidate)
            if found is not None:
                return found
        return None

    @property
    def policies(self) -> tuple[Policy, ...]:
        """Return this policy and every further one given in the same value."""
        return (Policy(directives=self.directives, duplicates=self.duplicates), *self.others)


@dataclass(frozen=True, slots=True, kw_only=True)
class CspIssue:
    """A weakness of a policy, with a stable `code`."""

    code: str
    severity: Severity
    directive: str
    message: str


def parse_csp(value: str) -> Policy:
    """Parse a `Content-Security-Policy` header value as a browser does."""
    parsed = [_parse_one(part) for part in value.split(",")]
    parsed = [p for p in parsed if p.directives or p.duplicates] or [Policy(directives=())]
    first, *rest = parsed
    return Policy(directives=first.directives, duplicates=first.duplicates, others=tuple(rest))


def evaluate_csp(value: str, *, report_only: bool = False) -> tuple[CspIssue, ...]:
    """Return the weaknesses of a policy, the worst first."""
    policy = parse_csp(value)
    issues: list[CspIssue] = []
    if report_only:
        issues.append(
            CspIssue(
                code="report-only",
                severity=Severity.HIGH,
                directive="",
                message="the policy is report-only: it enforces nothing",
            )
        )

    # Mistakes of form count wherever they are; weaknesses only when every policy shares them.
    per_policy = [_weaknesses(p) for p in policy.policies]
    shared = set.intersection(*({i.code for i in found} for found in per_policy))
    issues.extend(i for i in per_policy[0] if i.code in shared)
    for one in policy.policies:
        issues.extend(_form_issues(one))

    unique = list(dict.fromkeys(issues))
    return tuple(sorted(unique, key=lambda i: -i.severity.rank))


def _parse_one(text: str) -> Policy:
    directives: list[Directive] = []
    seen: set[str] = set()
    duplicates: list[str] = []
    for chunk in text.split(";"):
        tokens = chunk.split()
        if not tokens:
            continue
        name = tokens[0].lower()
        if not _DIRECTIVE_NAME.match(name):
            continue  # browsers drop a directive whose name is not a token
        if name in seen:
            duplicates.append(name)  # only the first occurrence counts
            continue
        seen.add(name)
        directives.append(Directive(name=name, sources=tuple(tokens[1:])))
    return Policy(directives=tuple(directives), duplicates=tuple(duplicates))


def _fallbacks(name: str) -> tuple[str, ...]:
    if name in ("script-src-elem", "script-src-attr"):
        return (name, "script-src", "default-src")
    if name in ("style-src-elem", "style-src-attr"):
        return (name, "style-src", "default-src")
    if name == "frame-src":
        return (name, "child-src", "default-src")
    if name == "worker-src":
        return (name, "child-src", "script-src", "default-src")
    if name in FETCH_DIRECTIVES:
        return (name, "default-src")
    return (name,)


def _weaknesses(policy: Policy) -> list[CspIssue]:
    if not policy.directives:
        return [_issue("empty-policy", Severity.HIGH, "", "the policy has no directive at all")]
    issues = _script_issues(policy)
    issues.extend(_object_issues(policy))
    if policy.get("base-uri") is None:
        issues.append(
            _issue(
                "base-uri-missing",
                Severity.MEDIUM,
                "base-uri",
                "no base-uri: injected <base> tags can redirect relative script URLs",
            )
        )
    issues.extend(_framing_issues(policy))
    return issues


def _script_issues(policy: Policy) -> list[CspIssue]:
    governing = policy.effective("script-src")
    if governing is None:
        return [
            _issue(
                "script-src-missing",
                Severity.HIGH,
                "script-src",
                "neither script-src nor default-src is set: scripts from anywhere run",
            )
        ]
    name, sources = governing.name, [s.lower() for s in governing.sources]
    where = "script-src" if name == "script-src" else "default-src (fallback for script-src)"
    has_nonce_or_hash = any(_NONCE.match(s) or _HASH.match(s) for s in sources)
    is_strict_dynamic = "'strict-dynamic'" in sources and has_nonce_or_hash
    issues: list[CspIssue] = []
    if "'none'" in sources and len(sources) == 1:
        return issues

    if "'unsafe-inline'" in sources and not has_nonce_or_hash:
        issues.append(
            _issue(
                "script-src-unsafe-inline",
                Severity.HIGH,
                name,
                f"{where} allows 'unsafe-inline': injected inline scripts run",
            )
        )
    if "'unsafe-eval'" in sources:
        issues.append(
            _issue(
                "script-src-unsafe-eval",
                Severity.MEDIUM,
                name,
                f"{where} allows 'unsafe-eval': strings can be run as code",
            )
        )
    if "'unsafe-hashes'" in sources:
        issues.append(
            _issue(
                "script-src-unsafe-hashes",
                Severity.MEDIUM,
                name,
                f"{where} allows 'unsafe-hashes': hashed inline event handlers run",
            )
        )
    if is_strict_dynamic:
        return issues  # host, scheme and wildcard sources are ignored by the browser

    if "'strict-dynamic'" in sources:
        issues.append(
            _issue(
                "script-src-strict-dynamic-without-nonce",
                Severity.LOW,
                name,
                f"{where} has 'strict-dynamic' without a nonce or hash: no script can load",
            )
        )
    if "*" in sources:
        issues.append(
            _issue(
                "script-src-wildcard",
                Severity.HIGH,
                name,
                f"{where} allows '*': scripts from any host run",
            )
        )
    issues.extend(
        _issue(
            "script-src-scheme-source",
            Severity.HIGH,
            name,
            f"{where} allows every URL of scheme {scheme!r}",
        )
        for scheme in sources
        if _SCHEME.match(scheme)
    )
    return issues


def _object_issues(policy: Policy) -> list[CspIssue]:
    governing = policy.effective("object-src")
    if governing is None:
        return [
            _issue(
                "object-src-missing",
                Severity.MEDIUM,
                "object-src",
                "neither object-src nor default-src is set: plugins can load from anywhere",
            )
        ]
    sources = [s.lower() for s in governing.sources]
    loose = [s for s in sources if s == "*" or _SCHEME.match(s)]
    if loose:
        return [
            _issue(
                "object-src-permissive",
                Severity.MEDIUM,
                governing.name,
                f"{governing.name} governs plugins and allows {', '.join(loose)}",
            )
        ]
    return []


def _framing_issues(policy: Policy) -> list[CspIssue]:
    directive = policy.get("frame-ancestors")
    if directive is None:
        return [
            _issue(
                "frame-ancestors-missing",
                Severity.MEDIUM,
                "frame-ancestors",
                "no frame-ancestors: the policy does not forbid framing (clickjacking)",
            )
        ]
    loose = [s for s in directive.sources if s == "*" or _SCHEME.match(s)]
    if loose:
        return [
            _issue(
                "frame-ancestors-permissive",
                Severity.MEDIUM,
                "frame-ancestors",
                f"frame-ancestors allows {', '.join(loose)}: any site can frame the page",
            )
        ]
    return []


def _form_issues(policy: Policy) -> list[CspIssue]:
    issues = [
        _issue(
            "duplicate-directive",
            Severity.LOW,
            name,
            f"{name} is given twice: browsers ignore the second",
        )
        for name in policy.duplicates
    ]
    for directive in policy.directives:
        issues.extend(_directive_form_issues(directive))
    return issues


def _directive_form_issues(directive: Directive) -> list[CspIssue]:
    name = directive.name
    issues: list[CspIssue] = []
    if name not in KNOWN_DIRECTIVES:
        issues.append(
            _issue("unknown-directive", Severity.LOW, name, f"{name} is not a CSP directive")
        )
    elif name in DEPRECATED_DIRECTIVES:
        issues.append(_issue("deprecated-directive", Severity.INFO, name, f"{name} is deprecated"))

    for source in directive.sources:
        lowered = source.lower()
        if lowered in KNOWN_DIRECTIVES:
            issues.append(
                _issue(
                    "missing-semicolon",
                    Severity.MEDIUM,
                    name,
                    f"{name} lists {source!r} as a source: a ';' is missing before it",
                )
            )
        elif lowered in _BARE_KEYWORDS:
            issues.append(
                _issue(
                    "keyword-missing-quotes",
                    Severity.MEDIUM,
                    name,
                    f"{name} lists {source} without quotes: it is read as a host name",
                )
            )
        elif (nonce := _NONCE.match(source)) is not None:
            if len(nonce.group(1)) < MIN_NONCE_LENGTH:
                issues.append(
                    _issue(
                        "nonce-too-short",
                        Severity.MEDIUM,
                        name,
                        f"{name} has a nonce of {len(nonce.group(1))} characters, "
                        f"fewer than {MIN_NONCE_LENGTH}",
                    )
                )
        elif lowered.startswith("http://") and name not in ("report-uri",):
            issues.append(
                _issue(
                    "http-source",
                    Severity.MEDIUM if name in _SCRIPTISH else Severity.LOW,
                    name,
                    f"{name} allows {source} over plain HTTP: it can be tampered with",
                )
            )
        elif (
            lowered.startswith("'")
            and lowered not in _OWN_KEYWORDS.get(name, KEYWORDS)
            and not _HASH.match(source)
        ):
            issues.append(
                _issue(
                    "unknown-keyword", Severity.LOW, name, f"{name} lists unknown keyword {source}"
                )
            )
    if "'strict-dynamic'" in (s.lower() for s in directive.sources) and name not in _SCRIPTISH:
        issues.append(
            _issue(
                "strict-dynamic-misplaced",
                Severity.INFO,
                name,
                f"'strict-dynamic' has no effect in {name}",
            )
        )
    return issues


_SCRIPTISH = frozenset(
    {"script-src", "script-src-elem", "script-src-attr", "default-src", "object-src"}
)


def _issue(code: str, severity: Severity, directive: str, message: str) -> CspIssue:
    return CspIssue(code=code, severity=severity, directive=directive, message=message)
