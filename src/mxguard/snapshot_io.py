"""Writing facts snapshots to JSON and reading them back, with a published schema."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import msgspec

from mxguard.errors import FactsError
from mxguard.facts import SCHEMA_VERSION, Snapshot

MAX_BYTES = 512 * 1024 * 1024


def dumps(snapshots: Sequence[Snapshot]) -> bytes:
    """Return the JSON document holding `snapshots`."""
    return msgspec.json.format(
        msgspec.json.encode({"schema_version": SCHEMA_VERSION, "snapshots": list(snapshots)}),
        indent=1,
    )


def loads(raw: bytes, *, name: str) -> list[Snapshot]:
    """Return the snapshots in the JSON document `raw`; `name` identifies it in errors."""
    try:
        document = msgspec.json.decode(raw, type=_Document)
    except msgspec.ValidationError as exc:
        raise FactsError(f"{name}: not a facts file of this mxguard: {exc}") from exc
    except msgspec.DecodeError as exc:
        raise FactsError(f"{name}: not valid JSON: {exc}") from exc
    if document.schema_version != SCHEMA_VERSION:
        raise FactsError(
            f"{name}: facts schema {document.schema_version}, this mxguard reads {SCHEMA_VERSION}"
        )
    return list(document.snapshots)


def read(path: str) -> list[Snapshot]:
    """Return the snapshots in the facts file `path`."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise FactsError(f"{path}: {exc.strerror}") from exc
    if len(raw) > MAX_BYTES:
        raise FactsError(f"{path}: larger than {MAX_BYTES} bytes")
    return loads(raw, name=path)


def schema() -> dict[str, Any]:
    """Return the JSON schema of a facts file."""
    document: dict[str, Any] = msgspec.json.schema(_Document)
    document["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return document


def schema_text() -> str:
    """Return the JSON schema as the text committed in the repository."""
    return json.dumps(schema(), indent=2, sort_keys=True) + "\n"


class _Document(msgspec.Struct, frozen=True):
    schema_version: int
    snapshots: list[Snapshot]
