"""The sources file (CONTRACT.md "Sources file"): strict loading with file, line, source and key
named in every error.

Unknown keys, duplicate keys or ids, wrong types, URLs that are not http(s) and regexes that do
not compile are all :class:`~indexing.settings.ConfigError`.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
)

from indexing.settings import ConfigError, get_settings
from indexing.urls import host_in_scope
from indexing.yamlconfig import check_http_url, compose, error_line, mapping_keys, node_line

logger = logging.getLogger(__name__)

_ID_RE = re.compile(r"^[a-z0-9-]+$")
_LANG_RE = re.compile(r"^[a-z]{2,3}([-_][A-Za-z0-9]{2,8})*$")


def _check_regex(pattern: str) -> str:
    try:
        re.compile(pattern)
    except (re.error, OverflowError) as exc:  # OverflowError: a{99999999999}
        raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from exc
    return pattern


HttpUrl = Annotated[str, AfterValidator(check_http_url)]
Regex = Annotated[str, AfterValidator(_check_regex)]


class Source(BaseModel):
    """One news source. Keys exactly as in CONTRACT.md."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    name: str = ""
    url: HttpUrl
    language: str | None = None
    feeds: list[HttpUrl] = Field(default_factory=list)
    sitemaps: list[HttpUrl] = Field(default_factory=list)
    sections: list[HttpUrl] = Field(default_factory=list)
    allow: list[Regex] = Field(default_factory=list)
    deny: list[Regex] = Field(default_factory=list)
    allow_private_network: bool = False

    _allow_re: list[re.Pattern[str]] = PrivateAttr(default_factory=list)
    _deny_re: list[re.Pattern[str]] = PrivateAttr(default_factory=list)

    @field_validator("id")
    @classmethod
    def _valid_id(cls, v: str) -> str:
        if not _ID_RE.match(v):
            raise ValueError(f"must match [a-z0-9-]+, got {v!r}")
        return v

    @field_validator("language")
    @classmethod
    def _valid_language(cls, v: str | None) -> str | None:
        if v is not None and not _LANG_RE.match(v):
            raise ValueError(f"must be a language code such as 'en' or 'pt-BR', got {v!r}")
        return v

    def model_post_init(self, __context: Any) -> None:
        self._allow_re = [re.compile(p) for p in self.allow]
        self._deny_re = [re.compile(p) for p in self.deny]

    @property
    def display_name(self) -> str:
        return self.name or self.id

    def url_allowed(self, url: str) -> bool:
        """True when ``url`` matches an allow regex (or there are none) and no deny regex
        (``re.search`` on the whole URL)."""
        if self.is_denied(url):
            return False
        return not self._allow_re or any(r.search(url) for r in self._allow_re)

    def is_denied(self, url: str) -> bool:
        """True when a deny regex matches ``url``."""
        return any(r.search(url) for r in self._deny_re)

    def in_scope(self, url: str) -> bool:
        """True when ``url`` is on this source's host or a subdomain."""
        return host_in_scope(url, self.url)


# --- loading ---------------------------------------------------------------------------------


def parse_sources(text: str, path: Path) -> list[Source]:
    """Parse and validate the text of a sources file (``path`` is used in messages)."""
    root, data = compose(text, path)
    if root is None or data is None:
        return []
    if not isinstance(root, yaml.MappingNode) or not isinstance(data, dict):
        raise ConfigError(f"{path}:{node_line(root)}: expected a mapping with a 'sources' list at the top level")
    top = mapping_keys(root, path, "top level")
    for key, (key_node, _) in top.items():
        if key != "sources":
            raise ConfigError(
                f"{path}:{node_line(key_node)}: top level: unknown key '{key}' (expected 'sources')"
            )
    if "sources" not in top:
        raise ConfigError(f"{path}:{node_line(root)}: top level: missing key 'sources'")
    seq_node = top["sources"][1]
    items = data["sources"]
    if items is None:
        return []
    if not isinstance(seq_node, yaml.SequenceNode) or not isinstance(items, list):
        raise ConfigError(f"{path}:{node_line(seq_node)}: key 'sources': expected a list of sources")

    sources: list[Source] = []
    seen_ids: dict[str, int] = {}
    for index, (item_node, item) in enumerate(zip(seq_node.value, items, strict=True)):
        label = f"source #{index + 1}"
        if not isinstance(item_node, yaml.MappingNode) or not isinstance(item, dict):
            raise ConfigError(f"{path}:{node_line(item_node)}: {label}: expected a mapping of keys")
        keys = mapping_keys(item_node, path, label)
        raw_id = item.get("id")
        if isinstance(raw_id, str):
            label = f"source '{raw_id}'"
        try:
            source = Source.model_validate(item)
        except ValidationError as exc:
            messages = []
            for err in exc.errors():
                loc = err.get("loc", ())
                key = str(loc[0]) if loc else "?"
                line = error_line(keys, loc, node_line(item_node))
                msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
                if err.get("type") == "extra_forbidden":
                    msg = "unknown key"
                elif err.get("type") == "missing":
                    msg = "required key is missing"
                detail = f"key '{key}'" + (
                    f" item {loc[1]}" if len(loc) > 1 and isinstance(loc[1], int) else ""
                )
                messages.append(f"{path}:{line}: {label}: {detail}: {msg}")
            raise ConfigError("; ".join(messages) if len(messages) > 1 else messages[0]) from exc
        if source.id in seen_ids:
            raise ConfigError(
                f"{path}:{node_line(keys['id'][1])}: {label}: key 'id': duplicate id "
                f"(first used on line {seen_ids[source.id]})"
            )
        seen_ids[source.id] = node_line(keys["id"][1])
        sources.append(source)
    return sources


def load_sources(path: Path | None = None) -> list[Source]:
    """Load and validate the sources file (default: ``get_settings().sources``)."""
    path = Path(path) if path is not None else get_settings().sources
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: sources file not found") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read sources file: {exc}") from exc
    sources = parse_sources(text, path)
    logger.debug("loaded %d sources from %s", len(sources), path)
    return sources
