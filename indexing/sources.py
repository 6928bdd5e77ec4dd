"""The sources file (CONTRACT.md "Sources file"): strict loading with file, line, source and key
named in every error.

Unknown keys, duplicate keys or ids, wrong types, URLs that are not http(s) and regexes that do
not compile are all :class:`~indexing.errors.ConfigError`.
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator

from indexing.durations import parse_durations
from indexing.urls import host_in_scope
from indexing.yamlconfig import HttpUrl, ItemId, Regex, load_document, read_config, validate_items

logger = logging.getLogger(__name__)

_LANG_RE = re.compile(r"^[a-z]{2,3}([-_][A-Za-z0-9]{2,8})*$")


class Source(BaseModel):
    """One news source. Keys exactly as in CONTRACT.md."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: ItemId
    name: str = ""
    url: HttpUrl
    language: str | None = None
    feeds: list[HttpUrl] = Field(default_factory=list)
    sitemaps: list[HttpUrl] = Field(default_factory=list)
    sections: list[HttpUrl] = Field(default_factory=list)
    allow: list[Regex] = Field(default_factory=list)
    deny: list[Regex] = Field(default_factory=list)
    allow_private_network: bool = False
    #: this source's revisit intervals (``1h, 1d, 7d``; a list or a string), in place of the
    #: setting ``changes.revisit_after``; ``[]``: never revisit this source's articles
    revisit_after: list[timedelta] | None = None
    #: pages rendered in a headless browser before extraction (crawlers/render.py): ``auto``
    #: only pages that are script-rendered shells (indexing.extraction.scripted), ``always``
    #: every article page, ``never`` none
    render: Literal["auto", "always", "never"] = "auto"

    _allow_re: list[re.Pattern[str]] = PrivateAttr(default_factory=list)
    _deny_re: list[re.Pattern[str]] = PrivateAttr(default_factory=list)

    @field_validator("language")
    @classmethod
    def _valid_language(cls, v: str | None) -> str | None:
        if v is not None and not _LANG_RE.match(v):
            raise ValueError(f"must be a language code such as 'en' or 'pt-BR', got {v!r}")
        return v

    @field_validator("revisit_after", mode="before")
    @classmethod
    def _durations(cls, v: object) -> list[timedelta] | None:
        if v is None or v == []:
            return None if v is None else []
        return parse_durations(v)

    def revisit_intervals(self, default: list[timedelta]) -> list[timedelta]:
        """The intervals this source's articles are revisited at (its own, else ``default``)."""
        return list(self.revisit_after) if self.revisit_after is not None else list(default)

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
    doc = load_document(text, path, ["sources"])
    if doc.empty:
        return []
    return [item.value for item in validate_items(doc, "sources", Source, "source", required=True)]


def load_sources(path: Path) -> list[Source]:
    """Load and validate the sources file at ``path`` (the entry points hand in ``settings.sources``)."""
    path = Path(path)
    sources = parse_sources(read_config(path, "sources file"), path)
    logger.debug("loaded %d sources from %s", len(sources), path)
    return sources
