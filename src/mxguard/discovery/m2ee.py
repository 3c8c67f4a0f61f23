"""m2ee configuration files: loading them safely, following `include:`, merging them.

The merged configuration holds secrets (`admin_pass`, `DatabasePassword`). It lives only in
memory during collection; what leaves this module for the facts is derived from it.
"""

from __future__ import annotations

import logging
import posixpath
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mxguard.discovery.rootfs import Root
from mxguard.discovery.safeyaml import LineDict, load_file
from mxguard.errors import ConfigError
from mxguard.facts import ConfigFile, Source

logger = logging.getLogger(__name__)

SYSTEM_CONFIG = "/etc/m2ee/m2ee.yaml"
SECRET_KEYS = frozenset({("m2ee", "admin_pass"), ("m2ee", "monitoring_pass")}) | frozenset(
    {("mxruntime", "DatabasePassword"), ("mxruntime", "JavaKeyStorePassword")}
)
MAX_FILES = 32


@dataclass(slots=True, kw_only=True)
class M2eeConfig:
    """The merged m2ee configuration of one installation, with where each value came from."""

    files: list[ConfigFile] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)
    sources: dict[tuple[str, str], Source] = field(default_factory=dict)

    @property
    def problem(self) -> str:
        """Return why the configuration is incomplete, or an empty string."""
        broken = [f"{f.path}: {f.problem}" for f in self.files if f.status != "ok"]
        return "; ".join(broken)

    def get(self, section: str, key: str) -> Any:
        """Return the value of `section.key`, or None."""
        part = self.values.get(section)
        return part.get(key) if isinstance(part, Mapping) else None

    def source(self, section: str, key: str) -> Source:
        """Return where `section.key` was set, or an empty source."""
        return self.sources.get((section, key), Source())


def load_m2ee(paths: Iterable[str], *, root: Root) -> M2eeConfig:
    """Load the m2ee files `paths` (host paths, lowest precedence first) and merge them.

    A file that cannot be read or parsed is recorded with its problem; the others still
    count. `include:` lists are followed (their files rank below the file naming them).
    """
    config = M2eeConfig()
    seen: set[str] = set()
    for path in paths:
        _merge_file(config, path, root=root, seen=seen, depth=0)
    return config


def _merge_file(config: M2eeConfig, path: str, *, root: Root, seen: set[str], depth: int) -> None:
    if path in seen or len(seen) >= MAX_FILES or depth > 8:
        return
    seen.add(path)

    try:
        document = load_file(root.open_path(path))
    except PermissionError:
        config.files.append(
            ConfigFile(path=path, status="unreadable", problem="permission denied; run as root")
        )
        return
    except OSError as exc:
        config.files.append(ConfigFile(path=path, status="error", problem=exc.strerror or str(exc)))
        return
    except ConfigError as exc:
        config.files.append(
            ConfigFile(path=path, status="error", problem=str(exc.args[0]), line=exc.line)
        )
        return

    if document is None:
        document = LineDict()
    if not isinstance(document, dict):
        config.files.append(
            ConfigFile(path=path, status="error", problem="the top level is not a mapping")
        )
        return

    for included in _includes(document, path):
        _merge_file(config, included, root=root, seen=seen, depth=depth + 1)

    holds_secrets = any(_lookup(document, section, key) is not None for section, key in SECRET_KEYS)
    config.files.append(ConfigFile(path=path, holds_secrets=holds_secrets))
    _deep_merge(config.values, document)
    for section, part in document.items():
        if isinstance(part, LineDict):
            for key, line in part.lines.items():
                config.sources[(str(section), str(key))] = Source(file=path, line=line)


def _includes(document: Mapping[str, Any], path: str) -> list[str]:
    listed = document.get("include")
    if isinstance(listed, str):
        listed = [listed]
    if not isinstance(listed, list):
        return []
    base = posixpath.dirname(path)
    return [
        posixpath.normpath(posixpath.join(base, item)) for item in listed if isinstance(item, str)
    ]


def _lookup(document: Mapping[str, Any], section: str, key: str) -> Any:
    part = document.get(section)
    return part.get(key) if isinstance(part, Mapping) else None


def _deep_merge(target: dict[str, Any], update: Mapping[str, Any]) -> None:
    for key, value in update.items():
        if key == "include":
            continue
        current = target.get(key)
        if isinstance(current, dict) and isinstance(value, Mapping):
            _deep_merge(current, value)
        elif isinstance(value, Mapping):
            target[key] = {}
            _deep_merge(target[key], value)
        else:
            target[key] = value
