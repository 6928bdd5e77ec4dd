"""Strict YAML configuration files: line numbers for every error, duplicate keys refused.

Shared by the sources file (indexing/sources.py) and the watches file (indexing/alerts/config.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from indexing.settings import ConfigError


def check_http_url(value: str) -> str:
    value = value.strip()
    try:
        parts = urlsplit(value)
    except ValueError as exc:
        raise ValueError(f"not a valid URL: {value!r}") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"must be an http(s) URL with a host, got {value!r}")
    return value


def node_line(node: yaml.Node) -> int:
    """1-based line of a YAML node."""
    return node.start_mark.line + 1


def mapping_keys(node: yaml.MappingNode, path: Path, what: str) -> dict[str, tuple[yaml.Node, yaml.Node]]:
    """key -> (key node, value node); duplicate keys are an error (YAML would silently keep one)."""
    keys: dict[str, tuple[yaml.Node, yaml.Node]] = {}
    for key_node, value_node in node.value:
        key = str(key_node.value)
        if key in keys:
            raise ConfigError(f"{path}:{node_line(key_node)}: {what}: key '{key}' appears twice")
        keys[key] = (key_node, value_node)
    return keys


def error_line(keys: dict[str, tuple[yaml.Node, yaml.Node]], loc: Iterable[Any], default: int) -> int:
    loc = list(loc)
    if not loc or str(loc[0]) not in keys:
        return default
    key_node, value_node = keys[str(loc[0])]
    if len(loc) > 1 and isinstance(loc[1], int) and isinstance(value_node, yaml.SequenceNode):
        if 0 <= loc[1] < len(value_node.value):
            return node_line(value_node.value[loc[1]])
    return node_line(key_node)


def _yaml_error(exc: yaml.YAMLError, text: str, path: Path) -> ConfigError:
    mark = getattr(exc, "problem_mark", None)
    if mark is not None:
        where = f"{path}:{mark.line + 1}"
    elif isinstance(exc, yaml.reader.ReaderError):  # refused before parsing: no mark, a position
        where = f"{path}:{text.count(chr(10), 0, max(exc.position, 0)) + 1}"
    else:
        where = str(path)
    return ConfigError(f"{where}: not valid YAML: {getattr(exc, 'problem', None) or exc}")


def compose(text: str, path: Path) -> tuple[yaml.Node | None, Any]:
    try:
        # The reader refuses control characters while it is being built, before parsing.
        loader = yaml.SafeLoader(text)
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, text, path) from exc
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, text, path) from exc
    finally:
        loader.dispose()
    return node, data
