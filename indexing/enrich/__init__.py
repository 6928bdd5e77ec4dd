"""Enrichment: topics, entities (multilingual gazetteer) and cross-lingual query expansion.

Document fields added by :func:`enrich` (all keyword-friendly):

- ``topics``         topic ids, best first (config/topics.yaml)
- ``entities``       for every entity found: its canonical English name and its label in every
                     configured language (``North Korea``, ``Nordkorea``, ``Corée du Nord``,
                     ``Північна Корея``, ``Северная Корея``), so a filter in any spelling works
- ``entity_canonical`` canonical English names only, one per entity (facets, Kibana top-N)
- ``entity_ids``     stable gazetteer ids; ``entity_types`` the type of each, same order
- ``people``, ``organizations``, ``places``   canonical English names per type (the spellings
                     of the index mapping; ``indexing.index.documents`` still reads ``persons`` and
                     ``organisations`` from enrichments written before)
- ``locations``      ``[{"lat", "lon"}]`` of the places (geo_point, Kibana maps)
- ``entity_mentions`` how often each entity id was mentioned (``{id: count}``)
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .entities import Entity, EntityMatch, Gazetteer, load_gazetteer
from .expansion import ExpansionGroup, QueryExpansion, expand_query
from .text import nfc, tokenize
from .topics import Topic, TopicSet, load_topics

__all__ = [
    "Entity",
    "EntityMatch",
    "ExpansionGroup",
    "Gazetteer",
    "QueryExpansion",
    "Topic",
    "TopicSet",
    "enrich",
    "entity_text",
    "expand_query",
    "load_gazetteer",
    "load_topics",
]

log = logging.getLogger(__name__)

_TYPE_FIELDS = {"person": "people", "org": "organizations", "place": "places"}


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _captions(article: Mapping[str, Any]) -> list[str]:
    out: list[str] = []
    images = article.get("images")
    for image in images if isinstance(images, list | tuple) else []:
        caption = image.get("caption") if isinstance(image, Mapping) else getattr(image, "caption", None)
        if isinstance(caption, str) and caption:
            out.append(caption)
    return out


def entity_text(article: Mapping[str, Any]) -> list[str]:
    """The texts entities are looked for in: title, lead, body and image captions (a caption
    names people and places of the story, e.g. ``In Seoul demonstrierten ...``)."""
    texts = [_str(article.get("title")), _str(article.get("lead")), _str(article.get("body"))]
    return [t for t in texts if t] + _captions(article)


def enrich(
    article: Mapping[str, Any],
    topics: TopicSet | None = None,
    gazetteer: Gazetteer | None = None,
    topics_path: Path | None = None,
    entities_path: Path | None = None,
) -> dict[str, Any]:
    """A copy of ``article`` (``Article.to_dict()`` output: title, lead, body, language, images)
    with topic and entity fields added. Missing or non-text fields are treated as empty."""
    topics = topics if topics is not None else load_topics(topics_path)
    gazetteer = gazetteer if gazetteer is not None else load_gazetteer(entities_path)
    out = dict(article)
    language = article.get("language") if isinstance(article.get("language"), str) else None
    # tokenise each field once; topics and entities share the tokens
    fields = {name: nfc(_str(article.get(name))) for name in ("title", "lead", "body")}
    tokens = {name: tokenize(text) for name, text in fields.items()}
    out["topics"] = topics.tag_tokens(tokens["title"], tokens["lead"] + tokens["body"])

    counts: Counter[str] = Counter()
    for name, text in fields.items():
        counts.update(m.id for m in gazetteer.find_in(text, tokens[name]))
    for caption in _captions(article):
        counts.update(m.id for m in gazetteer.find(caption, language))
    ordered = [eid for eid, _ in counts.most_common()]
    ents = [gazetteer.get(eid) for eid in ordered]
    names: list[str] = []
    for ent in ents:
        names.extend(n for n in ent.names if n not in names)
    out["entities"] = names
    out["entity_canonical"] = [e.name for e in ents]
    out["entity_ids"] = [e.id for e in ents]
    out["entity_types"] = [e.type for e in ents]
    for etype, fieldname in _TYPE_FIELDS.items():
        out[fieldname] = [e.name for e in ents if e.type == etype]
    out["locations"] = [{"lat": e.lat, "lon": e.lon} for e in ents if e.type == "place" and e.lat is not None]
    out["entity_mentions"] = dict(counts)
    return out
