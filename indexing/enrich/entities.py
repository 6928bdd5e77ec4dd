"""Named entities from a multilingual gazetteer (config/entities.yaml).

People, organisations and places of the war with their names across languages, scripts and
inflections. All names of all entities are compiled into one token trie
(:class:`~indexing.enrich.matcher.PhraseMatcher`); a text is matched in one pass, and where
names overlap the longest wins (``North Korea`` over ``Korea``, ``Zaporizhzhia NPP`` over
``Zaporizhzhia``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from indexing.errors import raised_as
from indexing.settings import default_config_dir
from indexing.yamlconfig import cached_by_mtime

from ._config import EnrichConfigError, EnrichId, PerLanguage, Text, load_items
from .matcher import Match, PatternError, PhraseMatcher
from .text import Token, nfc, tokenize

log = logging.getLogger(__name__)

ENTITY_TYPES = ("person", "org", "place")


@dataclass(frozen=True)
class Entity:
    id: str
    type: str
    name: str  # canonical, English
    labels: dict[str, str]  # language -> usual name
    aliases: dict[str, list[str]]  # language (or "any") -> other spellings / patterns
    adjectives: dict[str, list[str]] = field(default_factory=dict)
    lat: float | None = None
    lon: float | None = None

    @property
    def names(self) -> list[str]:
        """Canonical name then the label of every language, without repeats."""
        out = [self.name]
        for label in self.labels.values():
            if label not in out:
                out.append(label)
        return out

    def patterns(self) -> list[str]:
        """Everything that counts as a mention of this entity."""
        out = list(self.names)
        for items in self.aliases.values():
            out.extend(i for i in items if i not in out)
        return out


@dataclass(frozen=True)
class EntityMatch:
    id: str
    name: str  # canonical, English
    type: str  # "person" | "org" | "place"
    surface: str  # as written in the text
    lat: float | None = None
    lon: float | None = None
    start: int = 0  # character offsets into the (NFC) text
    end: int = 0


class Gazetteer:
    """Compiled gazetteer: ``find(text)`` returns every entity mention in text order."""

    def __init__(self, entities: list[Entity], source: str = "<memory>") -> None:
        self.source = source
        self.entities: dict[str, Entity] = {}
        self._matcher = PhraseMatcher()
        self._adjectives = PhraseMatcher()
        for ent in entities:
            if ent.id in self.entities:
                raise EnrichConfigError(f"{source}: entity '{ent.id}': duplicate id")
            self.entities[ent.id] = ent
            for pattern in ent.patterns():
                try:
                    self._matcher.add(pattern, ent.id)
                except PatternError as exc:
                    raise EnrichConfigError(f"{source}: entity '{ent.id}': aliases: {exc}") from exc
            for items in ent.adjectives.values():
                for pattern in items:
                    try:
                        self._adjectives.add(pattern, ent.id)
                    except PatternError as exc:
                        raise EnrichConfigError(f"{source}: entity '{ent.id}': adjectives: {exc}") from exc

    def __len__(self) -> int:
        return len(self.entities)

    def get(self, entity_id: str) -> Entity:
        try:
            return self.entities[entity_id]
        except KeyError:
            raise KeyError(f"unknown entity id {entity_id!r} (gazetteer {self.source})") from None

    def find(self, text: str, language: str | None = None) -> list[EntityMatch]:
        """Every mention, longest-leftmost where names overlap. ``language`` is accepted for
        callers' symmetry; names are matched in every language, because articles quote names in
        foreign spellings (an English ``Andriy Yermak`` in a German article)."""
        if not text:
            return []
        text = nfc(text)
        return self.find_in(text, tokenize(text))

    def find_in(self, text: str, tokens: list[Token]) -> list[EntityMatch]:
        """:meth:`find` on an already tokenised (NFC) text: callers tokenise once for all."""
        return self._mentions(self._matcher, text, tokens)

    def find_adjectives(self, text: str) -> list[EntityMatch]:
        """Adjectival mentions (``nordkoreanische``): used by query expansion only."""
        text = nfc(text)
        return self._mentions(self._adjectives, text, tokenize(text))

    def _mentions(self, matcher: PhraseMatcher, text: str, tokens: list[Token]) -> list[EntityMatch]:
        out: list[EntityMatch] = []
        for m in _longest_leftmost(matcher.find(tokens)):
            ent = self.entities[str(m.payload)]
            start, end = tokens[m.start].start, tokens[m.end - 1].end
            out.append(EntityMatch(ent.id, ent.name, ent.type, text[start:end], ent.lat, ent.lon, start, end))
        return out


def _longest_leftmost(matches: list[Match]) -> list[Match]:
    taken: set[int] = set()
    chosen: list[Match] = []
    for m in sorted(matches, key=lambda m: (-(m.end - m.start), m.start)):
        span = range(m.start, m.end)
        if any(i in taken for i in span):
            continue
        taken.update(span)
        chosen.append(m)
    chosen.sort(key=lambda m: m.start)
    return chosen


def _range(low: float, high: float) -> Any:
    return Field(default=None, ge=low, le=high, strict=True)


class EntitySpec(BaseModel):
    """One item of entities.yaml (see the file's header)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: EnrichId
    type: Literal["person", "org", "place"]
    name: Text
    labels: dict[str, Text] = Field(default_factory=dict)
    aliases: PerLanguage = Field(default_factory=dict)
    adjectives: PerLanguage = Field(default_factory=dict)
    lat: float | None = _range(-90, 90)
    lon: float | None = _range(-180, 180)
    description: str = ""

    @model_validator(mode="after")
    def _coordinates(self) -> EntitySpec:
        has = (self.lat is not None, self.lon is not None)
        if self.type == "place" and has != (True, True):
            raise ValueError("a place needs numeric 'lat' and 'lon'")
        if self.type != "place" and any(has):
            raise ValueError("key 'lat'/'lon' is only for places")
        return self

    def entity(self) -> Entity:
        return Entity(id=self.id, type=self.type, name=self.name, labels=dict(self.labels),
                      aliases=dict(self.aliases), adjectives=dict(self.adjectives), lat=self.lat, lon=self.lon)


def parse_gazetteer(path: Path) -> Gazetteer:
    entities = [item.value.entity() for item in load_items(path, "entities", EntitySpec, "entity")]
    gz = Gazetteer(entities, source=str(path))
    log.debug("loaded %d entities from %s", len(gz), path)
    return gz


_load_gazetteer = cached_by_mtime(parse_gazetteer)


def load_gazetteer(path: Path | None = None) -> Gazetteer:
    """The gazetteer in ``path`` (default: entities.yaml in the config directory), parsed once per
    file version."""
    with raised_as(EnrichConfigError):
        return _load_gazetteer(Path(path) if path is not None else default_config_dir() / "entities.yaml")
