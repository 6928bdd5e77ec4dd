"""Named entities from a multilingual gazetteer (config/entities.yaml).

People, organisations and places of the war with their names across languages, scripts and
inflections. All names of all entities are compiled into one token trie
(:class:`~indexing.enrich.matcher.PhraseMatcher`); a text is matched in one pass, and where
names overlap the longest wins (``North Korea`` over ``Korea``, ``Zaporizhzhia NPP`` over
``Zaporizhzhia``).
"""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

from indexing.settings import get_settings

from ._config import EnrichConfigError, check_keys, per_language, read_yaml
from .matcher import Match, PatternError, PhraseMatcher
from .text import Token, nfc, tokenize

log = logging.getLogger(__name__)

ENTITY_TYPES = ("person", "org", "place")
_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_ALLOWED = {"id", "type", "name", "labels", "aliases", "adjectives", "lat", "lon", "description"}


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
        out: list[EntityMatch] = []
        for m in _longest_leftmost(self._matcher.find(tokens)):
            ent = self.entities[str(m.payload)]
            start, end = tokens[m.start].start, tokens[m.end - 1].end
            out.append(EntityMatch(ent.id, ent.name, ent.type, text[start:end], ent.lat, ent.lon, start, end))
        return out

    def find_adjectives(self, text: str) -> list[EntityMatch]:
        """Adjectival mentions (``nordkoreanische``): used by query expansion only."""
        text = nfc(text)
        tokens = tokenize(text)
        out: list[EntityMatch] = []
        for m in _longest_leftmost(self._adjectives.find(tokens)):
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


def _parse_entity(path: Path, index: int, raw: object) -> Entity:
    where = f"entities[{index}]"
    if isinstance(raw, dict) and isinstance(raw.get("id"), str):
        where = f"entity '{raw['id']}'"
    item = check_keys(path, where, raw, _ALLOWED, {"id", "type", "name"})
    eid, etype, name = item["id"], item["type"], item["name"]
    if not isinstance(eid, str) or not _ID_RE.match(eid):
        raise EnrichConfigError(f"{path}: {where}: key 'id' must match [a-z0-9-]+")
    if etype not in ENTITY_TYPES:
        raise EnrichConfigError(f"{path}: {where}: key 'type' must be one of {', '.join(ENTITY_TYPES)}")
    if not isinstance(name, str):
        raise EnrichConfigError(f"{path}: {where}: key 'name' must be a string")
    labels_raw = item.get("labels") or {}
    if not isinstance(labels_raw, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in labels_raw.items()
    ):
        raise EnrichConfigError(f"{path}: {where}: key 'labels' must map language -> name")
    lat, lon = item.get("lat"), item.get("lon")
    if etype == "place":
        if not isinstance(lat, int | float) or not isinstance(lon, int | float):
            raise EnrichConfigError(f"{path}: {where}: a place needs numeric 'lat' and 'lon'")
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise EnrichConfigError(f"{path}: {where}: key 'lat'/'lon' out of range")
    elif lat is not None or lon is not None:
        raise EnrichConfigError(f"{path}: {where}: key 'lat'/'lon' is only for places")
    return Entity(
        id=eid,
        type=etype,
        name=name.strip(),
        labels={k: v.strip() for k, v in labels_raw.items()},
        aliases=per_language(path, f"{where}: aliases", item.get("aliases")),
        adjectives=per_language(path, f"{where}: adjectives", item.get("adjectives")),
        lat=float(lat) if lat is not None else None,
        lon=float(lon) if lon is not None else None,
    )


def parse_gazetteer(path: Path) -> Gazetteer:
    items = read_yaml(path, "entities")
    entities = [_parse_entity(path, i, raw) for i, raw in enumerate(items)]
    gz = Gazetteer(entities, source=str(path))
    log.debug("loaded %d entities from %s", len(gz), path)
    return gz


@functools.lru_cache(maxsize=8)
def _load_cached(path: Path, mtime_ns: int) -> Gazetteer:
    return parse_gazetteer(path)


def load_gazetteer(path: Path | None = None) -> Gazetteer:
    """The gazetteer in ``path`` (default: config/entities.yaml), parsed once per file version."""
    p = Path(path) if path is not None else get_settings().config_file("entities.yaml")
    try:
        mtime = p.stat().st_mtime_ns
    except OSError as exc:
        raise EnrichConfigError(f"{p}: cannot read: {exc}") from exc
    return _load_cached(p.resolve(), mtime)
