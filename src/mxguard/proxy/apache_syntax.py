"""The syntax of Apache httpd configuration files: directives, sections, quoting, lines.

No maintained Python parser reads httpd's syntax faithfully, so this one follows httpd's own
rules: one directive per logical line; a backslash at the very end of a line continues it;
a line whose first non-blank character is `#` is a comment (there are no trailing
comments); arguments are separated by blanks and may be quoted with `"` or `'`, inside which
a backslash escapes the quote; `<Name args>` opens a section that `</Name>` closes, names
case-insensitive. `dump` writes a tree back so that it parses to the same tree.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from mxguard.errors import ConfigError

MAX_LINE = 1024 * 1024
MAX_DEPTH = 64


class ApacheSyntaxError(ConfigError):
    """An Apache httpd configuration file breaks the syntax."""


@dataclass(slots=True, kw_only=True)
class Node:
    """A directive, or a section when `children` is not None."""

    name: str
    args: list[str]
    file: str
    line: int
    children: list[Node] | None = None

    @property
    def key(self) -> str:
        """Return the lower-case name, as httpd compares names."""
        return self.name.lower()

    def walk(self) -> Iterator[Node]:
        """Yield this node and every node below it, in file order."""
        yield self
        for child in self.children or ():
            yield from child.walk()


@dataclass(slots=True)
class _Frame:
    node: Node | None
    items: list[Node] = field(default_factory=list)


def parse_text(text: str, *, file: str) -> list[Node]:
    """Return the directives and sections of one file's `text`."""
    stack = [_Frame(node=None)]
    for line_number, line in _logical_lines(text, file):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("</"):
            _close(stack, stripped, file, line_number)
        elif stripped.startswith("<"):
            if not stripped.endswith(">"):
                raise ApacheSyntaxError(
                    f"section {stripped.split()[0]}> is not closed with '>'",
                    path=file,
                    line=line_number,
                )
            words = split_args(stripped[1:-1], file=file, line=line_number)
            if not words:
                raise ApacheSyntaxError("empty section name", path=file, line=line_number)
            if len(stack) > MAX_DEPTH:
                raise ApacheSyntaxError("sections nested too deeply", path=file, line=line_number)
            node = Node(name=words[0], args=words[1:], file=file, line=line_number, children=[])
            stack[-1].items.append(node)
            stack.append(_Frame(node=node, items=node.children or []))
            node.children = stack[-1].items
        else:
            words = split_args(stripped, file=file, line=line_number)
            stack[-1].items.append(Node(name=words[0], args=words[1:], file=file, line=line_number))
    if len(stack) > 1:
        open_node = stack[-1].node
        assert open_node is not None  # noqa: S101 - only the root frame has no node
        raise ApacheSyntaxError(
            f"<{open_node.name}> is never closed", path=file, line=open_node.line
        )
    return stack[0].items


def _close(stack: list[_Frame], stripped: str, file: str, line: int) -> None:
    name = stripped[2:].rstrip(">").strip()
    if len(stack) == 1:
        raise ApacheSyntaxError(f"</{name}> without matching section", path=file, line=line)
    open_node = stack[-1].node
    assert open_node is not None  # noqa: S101 - only the root frame has no node
    if name.lower() != open_node.key:
        raise ApacheSyntaxError(
            f"</{name}> closes <{open_node.name}> opened on line {open_node.line}",
            path=file,
            line=line,
        )
    stack.pop()


def _logical_lines(text: str, file: str) -> Iterator[tuple[int, str]]:
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        if len(raw) > MAX_LINE:
            raise ApacheSyntaxError("line too long", path=file, line=number)
        if not pending:
            start = number
        if raw.endswith("\\"):
            pending.append(raw[:-1])
            continue
        pending.append(raw)
        yield start, " ".join(pending) if len(pending) > 1 else pending[0]
        pending = []
    if pending:
        yield start, " ".join(pending)


def split_args(text: str, *, file: str = "", line: int = 0) -> list[str]:
    """Split a directive's text into words as httpd does, removing quotes."""
    words: list[str] = []
    index, size = 0, len(text)
    while index < size:
        while index < size and text[index] in " \t\r\f\v":
            index += 1
        if index >= size:
            break
        quote = text[index] if text[index] in "\"'" else ""
        if quote:
            index += 1
            word: list[str] = []
            while index < size and text[index] != quote:
                if text[index] == "\\" and index + 1 < size and text[index + 1] == quote:
                    index += 1
                word.append(text[index])
                index += 1
            if index >= size:
                raise ApacheSyntaxError(f"unterminated {quote} quote", path=file, line=line)
            index += 1
            words.append("".join(word))
        else:
            end = index
            while end < size and text[end] not in " \t\r\f\v":
                end += 1
            words.append(text[index:end])
            index = end
    return words


def dump(nodes: Sequence[Node], indent: str = "") -> str:
    """Return configuration text that parses back to `nodes`."""
    out: list[str] = []
    for node in nodes:
        args = " ".join(_quote(a) for a in node.args)
        head = f"{node.name} {args}".rstrip()
        if node.children is None:
            out.append(f"{indent}{head}\n")
            continue
        out.append(f"{indent}<{head}>\n")
        out.append(dump(node.children, indent + "    "))
        out.append(f"{indent}</{node.name}>\n")
    return "".join(out)


def _quote(word: str) -> str:
    if word and not any(c in word for c in " \t\"'\\") and not word.startswith("#"):
        return word
    return '"' + word.replace('"', '\\"') + '"'
