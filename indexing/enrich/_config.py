"""The enrichment YAML files (topics.yaml, entities.yaml) through the one strict path of
:mod:`indexing.yamlconfig`: pydantic models, every error naming the file, line, item and key."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, StringConstraints

from indexing.errors import ConfigError, raised_as
from indexing.yamlconfig import ConfigItem, load_document, read_config, validate_items

M = TypeVar("M", bound=BaseModel)
_LANG_RE = re.compile(r"^(?:[a-z]{2}|any)$")

#: Ids of topics and entities (documents carry them): lowercase words joined by hyphens.
EnrichId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]*$")]


class EnrichConfigError(ConfigError):
    """topics.yaml or entities.yaml is wrong."""


def _language(value: str) -> str:
    if not _LANG_RE.match(value):
        raise ValueError(f"{value!r} is not a language code (xx or 'any')")
    return value


def as_per_language(value: Any) -> Any:
    """A string, a list of strings, or a mapping language -> string or list: as language -> list."""
    if value is None:
        return {}
    if isinstance(value, str | list):
        value = {"any": value}
    if isinstance(value, dict):
        return {lang: [items] if isinstance(items, str) else items for lang, items in value.items()}
    raise ValueError("expected a list or a mapping language -> list")


def _stripped(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value.strip()


Language = Annotated[str, AfterValidator(_language)]
Text = Annotated[str, AfterValidator(_stripped)]
#: Strings per language (``any``: every language); a plain string or list means ``any``.
PerLanguage = Annotated[dict[Language, list[Text]], BeforeValidator(as_per_language)]


def load_items(path: Path, key: str, model: type[M], kind: str) -> list[ConfigItem[M]]:
    """The validated items of the non-empty list ``key`` of an enrichment file (top-level keys:
    ``key``, ``version`` and ``x-*`` anchors)."""
    with raised_as(EnrichConfigError):
        doc = load_document(read_config(path, f"{kind}s file"), path, [key, "version"], extensions=True)
        if doc.empty:
            raise EnrichConfigError(f"{path}: expected a mapping with the key '{key}'")
        return validate_items(doc, key, model, kind, non_empty=True)

