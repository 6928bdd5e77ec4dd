"""Reading and checking the enrichment YAML files; every error names the file and the key."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from indexing.settings import ConfigError

_LANG_RE = re.compile(r"^(?:[a-z]{2}|any)$")
# libyaml's loader when PyYAML was built with it: the gazetteer is thousands of lines, which the
# pure-Python scanner takes most of a second to read (same result, same yaml.YAMLError on errors).
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class EnrichConfigError(ConfigError):
    """topics.yaml or entities.yaml is wrong."""


def read_yaml(path: Path, top_key: str) -> list[Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise EnrichConfigError(f"{path}: cannot read: {exc}") from exc
    try:
        data = yaml.load(text, Loader=_LOADER)  # noqa: S506 - a safe loader (C or Python)
    except yaml.YAMLError as exc:
        raise EnrichConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict) or top_key not in data:
        raise EnrichConfigError(f"{path}: expected a mapping with the key '{top_key}'")
    unknown = [k for k in data if k != top_key and k != "version" and not str(k).startswith("x-")]
    if unknown:
        raise EnrichConfigError(f"{path}: unknown top-level key '{unknown[0]}' (allowed: {top_key}, version, x-*)")
    items = data[top_key]
    if not isinstance(items, list) or not items:
        raise EnrichConfigError(f"{path}: '{top_key}' must be a non-empty list")
    return items


def check_keys(path: Path, where: str, item: Any, allowed: set[str], required: set[str]) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise EnrichConfigError(f"{path}: {where}: expected a mapping, got {type(item).__name__}")
    for key in item:
        if key not in allowed:
            raise EnrichConfigError(f"{path}: {where}: unknown key '{key}' (allowed: {', '.join(sorted(allowed))})")
    for key in required:
        if item.get(key) in (None, "", [], {}):
            raise EnrichConfigError(f"{path}: {where}: missing key '{key}'")
    return item


def per_language(path: Path, where: str, value: Any, *, default_lang: str = "any") -> dict[str, list[str]]:
    """A list of strings, or a mapping language -> string or list of strings."""
    if value is None:
        return {}
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list):
        value = {default_lang: value}
    if not isinstance(value, dict):
        raise EnrichConfigError(f"{path}: {where}: expected a list or a mapping language -> list")
    out: dict[str, list[str]] = {}
    for lang, items in value.items():
        if not isinstance(lang, str) or not _LANG_RE.match(lang):
            raise EnrichConfigError(f"{path}: {where}: '{lang}' is not a language code (xx or 'any')")
        if isinstance(items, str):
            items = [items]
        if not isinstance(items, list) or not all(isinstance(i, str) and i.strip() for i in items):
            raise EnrichConfigError(f"{path}: {where}.{lang}: expected a list of non-empty strings")
        out.setdefault(lang, []).extend(i.strip() for i in items)
    return out
