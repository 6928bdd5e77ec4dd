"""What enrichment knows, as words in the document: the labels of an article's topics and
entities in every language and script.

An article tagged ``north-korean-troops-in-russia`` and ``north-korea`` gets, in
``labels_en`` "North Korean troops in Russia", "North Korean troops", "North Korea", "North
Korean"; in ``labels_de`` "Nordkoreanische Truppen in Russland", "Nordkorea"; in ``labels_uk``
"Північнокорейські війська в Росії" ... Each ``labels_{lang}`` field is analysed with its
language's analyzer (templates.py) and is one of the index's default query fields
(``index.query.default_field``), so a query string without field names -- what Kibana's search
bar sends -- reaches coverage in every language. ``warwatch search`` does not read these fields:
it expands the query itself (search/query.py) and scores the tags.

Only plain forms go in (topic labels and plain terms, entity names, labels, aliases and plain
adjectives); wildcard and proximity patterns are matching rules, not words.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Iterable

from indexing.index.templates import LANG_FIELDS
from indexing.settings import default_config_dir

log = logging.getLogger(__name__)

#: document field of the labels of language ``lang`` ("other": language-neutral forms)
LABEL_FIELD = "labels_{lang}"


def _add(out: dict[str, list[str]], lang: str, forms: Iterable[str]) -> None:
    key = lang if lang in LANG_FIELDS else "other"
    bucket = out.setdefault(key, [])
    for form in forms:
        form = form.strip()
        if form and "*" not in form and not form.startswith("@") and form not in bucket:
            bucket.append(form)


@functools.lru_cache(maxsize=4096)
def _topic_labels(topics: object, topic_id: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    topic = topics.topics.get(topic_id)  # type: ignore[attr-defined]
    if topic is None:
        return ()
    out: dict[str, list[str]] = {}
    for lang, label in topic.label.items():
        _add(out, lang, [label])
    for lang, terms in topic.plain_terms().items():
        _add(out, lang, terms)
    return tuple((k, tuple(v)) for k, v in out.items())


@functools.lru_cache(maxsize=8192)
def _entity_labels(gazetteer: object, entity_id: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    try:
        ent = gazetteer.get(entity_id)  # type: ignore[attr-defined]
    except KeyError:
        return ()
    out: dict[str, list[str]] = {}
    _add(out, "en", [ent.name])
    for lang, label in ent.labels.items():
        _add(out, lang, [label])
    for source in (ent.aliases, ent.adjectives):
        for lang, items in source.items():
            _add(out, lang, items)
    return tuple((k, tuple(v)) for k, v in out.items())


#: (loaded at, (topics, gazetteer)): the loaders check the files' mtimes on every call, which
#: costs more than the labels themselves; a few seconds' delay in seeing an edited file is fine.
_CONFIG: list[tuple[float, object, tuple[object | None, object | None]]] = []
_CONFIG_TTL = 5.0


def _config() -> tuple[object | None, object | None]:
    """The loaded topic set and gazetteer, or None where unavailable."""
    now, where = time.monotonic(), default_config_dir()
    if _CONFIG and now - _CONFIG[0][0] < _CONFIG_TTL and _CONFIG[0][1] == where:
        return _CONFIG[0][2]
    try:
        from indexing.enrich import load_gazetteer, load_topics

        loaded: tuple[object | None, object | None] = (load_topics(), load_gazetteer())
    except ImportError:
        loaded = (None, None)
    except (OSError, ValueError) as exc:  # a broken config file is reported by enrichment itself
        log.debug("labels unavailable: %s", exc)
        loaded = (None, None)
    _CONFIG[:] = [(now, where, loaded)]
    return loaded


def label_fields(topic_ids: Iterable[str], entity_ids: Iterable[str]) -> dict[str, list[str]]:
    """``{"labels_de": [...], "labels_en": [...], ...}`` for the given tags (empty ones left out)."""
    topics, gazetteer = _config()
    merged: dict[str, list[str]] = {}
    parts = [_topic_labels(topics, t) for t in topic_ids] if topics is not None else []
    parts += [_entity_labels(gazetteer, e) for e in entity_ids] if gazetteer is not None else []
    for part in parts:
        for lang, forms in part:
            _add(merged, lang, forms)
    return {LABEL_FIELD.format(lang=lang): forms for lang, forms in merged.items() if forms}
