"""Reading YAML from files that may be malformed or hostile, keeping the line of every key.

m2ee configs are small. A file that is large, nests deeply, expands many aliases or asks
for language-specific objects is refused with an `UnsafeConfigError` that names it; a file
that is not valid UTF-8 or not valid YAML raises a `ConfigError` with the line.
"""

from __future__ import annotations

import os
from collections.abc import Hashable
from typing import Any

import yaml

from mxguard.errors import ConfigError, UnsafeConfigError
from mxguard.safeio import open_regular

MAX_BYTES = 1024 * 1024
MAX_DEPTH = 50
MAX_ALIASES = 100
MAX_EXPANDED_NODES = 100_000


class LineDict(dict[Any, Any]):
    """A mapping that remembers the 1-based line on which each of its keys was written."""

    __slots__ = ("lines",)

    def __init__(self) -> None:
        super().__init__()
        self.lines: dict[Hashable, int] = {}


class _GuardedLoader(yaml.SafeLoader):
    """A safe loader that bounds nesting and alias expansion, and records key lines."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._aliases = 0

    def _line(self) -> int:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        return int(event.start_mark.line) + 1

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise UnsafeConfigError(
                    f"more than {MAX_ALIASES} aliases; refusing a possible alias bomb",
                    path="",
                    line=self._line(),
                )
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise UnsafeConfigError(
                    f"nested deeper than {MAX_DEPTH} levels",
                    path="",
                    line=self._line(),
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def guarded_data(self) -> Any:
        """Return the document, refusing one whose aliases expand beyond a sane size."""
        node = self.get_single_node()
        if node is None:
            return None
        if _expanded_size(node, {}) > MAX_EXPANDED_NODES:
            raise UnsafeConfigError(
                f"aliases expand to more than {MAX_EXPANDED_NODES} nodes; refusing an alias bomb",
                path="",
                line=node.start_mark.line + 1,
            )
        return self.construct_document(node)


def _expanded_size(node: yaml.Node, sizes: dict[int, int]) -> int:
    # A node reached through several aliases is counted each time, as a consumer walking
    # the data would meet it; the memo keeps the counting itself linear.
    if id(node) in sizes:
        return sizes[id(node)]
    size = 1
    if isinstance(node, yaml.SequenceNode):
        size += sum(_expanded_size(child, sizes) for child in node.value)
    elif isinstance(node, yaml.MappingNode):
        size += sum(
            _expanded_size(key, sizes) + _expanded_size(value, sizes) for key, value in node.value
        )
    sizes[id(node)] = size
    return size


def _construct_line_dict(loader: yaml.SafeLoader, node: yaml.MappingNode) -> Any:
    data = LineDict()
    yield data
    loader.flatten_mapping(node)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, Hashable):
            raise yaml.constructor.ConstructorError(
                None, None, "a mapping key that cannot be hashed", key_node.start_mark
            )
        data[key] = loader.construct_object(value_node, deep=True)
        data.lines[key] = key_node.start_mark.line + 1


_GuardedLoader.add_constructor("tag:yaml.org,2002:map", _construct_line_dict)


def load_file(path: str) -> Any:
    """Return the YAML document in `path`, or raise a `ConfigError` naming the file.

    `OSError` is left to the caller, who knows whether a missing file matters.
    """
    with open_regular(path) as handle:
        size = os.fstat(handle.fileno()).st_size
        if size > MAX_BYTES:
            raise UnsafeConfigError(f"{size} bytes is larger than {MAX_BYTES}", path=path)
        raw = handle.read(MAX_BYTES + 1)
    if len(raw) > MAX_BYTES:
        raise UnsafeConfigError(f"larger than {MAX_BYTES} bytes", path=path)
    return loads(raw, path=path)


def loads(raw: bytes, *, path: str) -> Any:
    """Return the YAML document in `raw`; `path` names it in errors."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(f"not valid UTF-8 (byte {exc.start})", path=path, line=line) from exc

    try:
        # The reader checks every character as it is built: a control character fails here.
        loader = _GuardedLoader(text)
    except yaml.reader.ReaderError as exc:
        line = text[: exc.position].count("\n") + 1
        code = exc.character if isinstance(exc.character, int) else ord(exc.character[:1] or " ")
        raise ConfigError(
            f"invalid YAML: control character U+{code:04X} is not allowed", path=path, line=line
        ) from exc
    try:
        return loader.guarded_data()
    except UnsafeConfigError as exc:
        raise UnsafeConfigError(str(exc.args[0]), path=path, line=exc.line) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = mark.line + 1 if mark else None
        problem = exc.problem or exc.context or "invalid YAML"
        raise ConfigError(f"invalid YAML: {problem}", path=path, line=where) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML: {exc}", path=path) from exc
    except RecursionError as exc:
        raise UnsafeConfigError("nested too deeply to read", path=path) from exc
    finally:
        loader.dispose()
