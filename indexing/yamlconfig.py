"""The one strict path for YAML configuration files (sources, watches, topics, entities,
boilerplate): every error names the file, the line, the item and the key.

A file is read (:func:`read_config`), composed with its line marks (:func:`load_document`,
libyaml's C loader when PyYAML has it: the gazetteer is thousands of lines), its top-level keys
are checked (unknown ones and duplicates refused), and each item of its list is validated by a
pydantic model (:func:`validate_items`: unknown keys, wrong types, duplicate ids). Pydantic's
errors become one :class:`~indexing.errors.ConfigError` (:func:`validation_error`) with the line
of the deepest YAML node the error's location reaches: ``watches.yaml:7: watch 'nk': key
'channels.webhook.token': unknown key``.

:func:`cached_by_mtime` turns a ``parse(path)`` into a loader that parses each file version once.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Generic, TypeVar
from urllib.parse import urlsplit

import yaml
from pydantic import AfterValidator, BaseModel, ValidationError

from indexing.errors import ConfigError

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")
Keys = dict[str, tuple[yaml.Node, yaml.Node]]

# libyaml's loader when PyYAML was built with it: the same nodes, marks and errors, ~10x faster.
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_ID_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789-")


# --- reusable field types ---------------------------------------------------------------------


def check_http_url(value: str) -> str:
    value = value.strip()
    try:
        parts = urlsplit(value)
    except ValueError as exc:
        raise ValueError(f"not a valid URL: {value!r}") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"must be an http(s) URL with a host, got {value!r}")
    return value


def check_id(value: str) -> str:
    """Ids of sources and watches: ``[a-z0-9-]+`` (used in file names, state and documents)."""
    if not value or not set(value) <= _ID_CHARS:
        raise ValueError(f"must match [a-z0-9-]+, got {value!r}")
    return value


def check_regex(pattern: str) -> str:
    try:
        re.compile(pattern)
    except (re.error, OverflowError) as exc:  # OverflowError: a{99999999999}
        raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from exc
    return pattern


HttpUrl = Annotated[str, AfterValidator(check_http_url)]
ItemId = Annotated[str, AfterValidator(check_id)]
Regex = Annotated[str, AfterValidator(check_regex)]


# --- nodes and lines --------------------------------------------------------------------------


def node_line(node: yaml.Node) -> int:
    """1-based line of a YAML node."""
    return int(node.start_mark.line) + 1


def mapping_keys(node: yaml.MappingNode, path: Path, what: str) -> Keys:
    """key -> (key node, value node); duplicate keys are an error (YAML would silently keep one)."""
    keys: Keys = {}
    for key_node, value_node in node.value:
        key = str(key_node.value)
        if key in keys:
            raise ConfigError(f"{path}:{node_line(key_node)}: {what}: key '{key}' appears twice")
        keys[key] = (key_node, value_node)
    return keys


def line_of(node: yaml.Node, loc: Iterable[Any]) -> int:
    """The line of the deepest node along a pydantic error location (a mapping key's own line
    for mappings, an item's line for sequences)."""
    line = node_line(node)
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if str(key_node.value) == str(part):
                    line, node = node_line(key_node), value_node
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            node = node.value[part]
            line = node_line(node)
        else:
            return line
    return line


def _key_name(loc: Sequence[Any]) -> str:
    """``('channels', 'webhook', 'url')`` -> ``'channels.webhook.url'``; ``('deny', 1)`` -> ``'deny' item 1``."""
    names = [str(p) for p in loc if not isinstance(p, int) and p != "[key]"]
    items = [p for p in loc if isinstance(p, int)]
    text = f"key '{'.'.join(names)}'" if names else ""
    if items:
        text += f" item {items[-1]}"
    return text.strip()


def validation_error(exc: ValidationError, node: yaml.Node | None, path: Path, label: str) -> ConfigError:
    """One ConfigError for all of pydantic's errors: ``path:line: label: key 'a.b': message``."""
    messages = []
    for err in exc.errors():
        loc = list(err.get("loc", ()))
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        if err.get("type") == "extra_forbidden":
            msg = "unknown key"
        elif err.get("type") == "missing":
            msg = "required key is missing"
        where = f"{path}:{line_of(node, loc)}" if node is not None else str(path)
        key = _key_name(loc)
        messages.append(f"{where}: {label}: {key + ': ' if key else ''}{msg}")
    return ConfigError("; ".join(dict.fromkeys(messages)))


def validate(model: type[M], data: Any, node: yaml.Node | None, path: Path, label: str) -> M:
    """``model.model_validate(data)`` with errors naming the file, line, ``label`` and key."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc, node, path, label) from exc


# --- files ------------------------------------------------------------------------------------


def read_config(path: Path, what: str) -> str:
    """The text of a configuration file; a missing or unreadable file is a ConfigError."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: {what} not found") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read {what}: {exc}") from exc


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
    """The node tree (with line marks) and the constructed data of one YAML document."""
    loader = None
    try:
        # The pure-Python reader refuses control characters while it is being built.
        loader = _LOADER(text)
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, text, path) from exc
    finally:
        if loader is not None:
            loader.dispose()
    if node is not None:
        _refuse_duplicate_keys(node, path)
    return node, data


def _refuse_duplicate_keys(root: yaml.Node, path: Path) -> None:
    """YAML keeps the last of two equal keys silently; a config file with one is wrong."""
    seen: set[int] = set()  # an anchored node is walked once, however often it is used
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            mapping_keys(node, path, "mapping")
            stack.extend(value for _, value in node.value)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)


def load_file(path: Path, model: type[M], what: str) -> M | None:
    """A whole file validated by ``model`` (a RootModel for files keyed by names); None when
    the file is empty."""
    root, data = compose(read_config(path, what), path)
    if root is None or data is None:
        return None
    return validate(model, data, root, path, what)


@dataclass
class YamlDocument:
    """A composed configuration file whose top-level keys were checked."""

    path: Path
    root: yaml.Node | None
    data: Any
    top: Keys

    @property
    def empty(self) -> bool:
        return self.root is None or self.data is None

    def fail(self, node: yaml.Node | None, message: str) -> ConfigError:
        where = f"{self.path}:{node_line(node)}" if node is not None else str(self.path)
        return ConfigError(f"{where}: {message}")


def load_document(text: str, path: Path, allowed: Sequence[str], *, extensions: bool = False) -> YamlDocument:
    """Compose ``text`` and check its top level: a mapping whose keys are ``allowed`` (and
    ``x-*`` keys for anchors when ``extensions``). An empty document has no keys."""
    root, data = compose(text, path)
    doc = YamlDocument(path, root, data, {})
    if doc.empty:
        return doc
    expected = " or ".join(f"'{k}'" for k in allowed)
    if not isinstance(root, yaml.MappingNode) or not isinstance(data, dict):
        raise doc.fail(root, f"expected a mapping with the key {expected} at the top level")
    doc.top = mapping_keys(root, path, "top level")
    for key, (key_node, _) in doc.top.items():
        if key not in allowed and not (extensions and key.startswith("x-")):
            raise doc.fail(key_node, f"top level: unknown key '{key}' (expected {expected})")
    return doc


@dataclass(frozen=True)
class ConfigItem(Generic[M]):
    """One validated item of a configuration list, with what error messages about it need."""

    value: M
    node: yaml.MappingNode
    label: str  # "source 'demo'", "watch #2"

    def line(self, *loc: Any) -> int:
        return line_of(self.node, loc)


def validate_items(doc: YamlDocument, key: str, model: type[M], kind: str, *, required: bool = False,
                   non_empty: bool = False, id_key: str | None = "id") -> list[ConfigItem[M]]:
    """Validate every item of the list under ``key`` with ``model``; ids must be unique."""
    if key not in doc.top:
        if required or non_empty:
            raise doc.fail(doc.root, f"top level: missing key '{key}'")
        return []
    seq_node, items = doc.top[key][1], doc.data[key]
    if items is None and not non_empty:
        return []
    if not isinstance(seq_node, yaml.SequenceNode) or not isinstance(items, list) or (non_empty and not items):
        raise doc.fail(seq_node, f"key '{key}': expected a {'non-empty ' if non_empty else ''}list of {kind}s")
    out: list[ConfigItem[M]] = []
    first_line: dict[Any, int] = {}
    for index, (node, item) in enumerate(zip(seq_node.value, items, strict=True)):
        label = f"{kind} #{index + 1}"
        if not isinstance(node, yaml.MappingNode) or not isinstance(item, dict):
            raise doc.fail(node, f"{label}: expected a mapping of keys")
        keys = mapping_keys(node, doc.path, label)
        if id_key and isinstance(item.get(id_key), str):
            label = f"{kind} '{item[id_key]}'"
        value = validate(model, item, node, doc.path, label)
        if id_key:
            ident, line = getattr(value, id_key), node_line(keys[id_key][1])
            if ident in first_line:
                raise doc.fail(keys[id_key][1], f"{label}: key '{id_key}': duplicate id "
                               f"(first used on line {first_line[ident]})")
            first_line[ident] = line
        out.append(ConfigItem(value, node, label))
    return out


def cached_by_mtime(parse: Callable[[Path], T], *, maxsize: int = 8) -> Callable[[Path], T]:
    """``load(path)``: ``parse(path)`` once per file version (path and modification time), so a
    long-running process picks up an edited file and never re-parses an unchanged one."""

    @functools.lru_cache(maxsize=maxsize)
    def parse_version(path: Path, mtime_ns: int) -> T:
        return parse(path)

    def load(path: Path) -> T:
        try:
            mtime = Path(path).stat().st_mtime_ns
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read: {exc}") from exc
        return parse_version(Path(path).resolve(), mtime)

    load.cache_clear = parse_version.cache_clear  # type: ignore[attr-defined]
    return load
