"""Cross-lingual query expansion through topic terms and entity aliases.

``expand_query("North Korean troops")`` recognises the topic north-korean-troops-in-russia and
the entity North Korea (through its adjective) and returns, per recognised concept, its
alternative surface forms in every configured language, for the search layer to OR into the
query. Plain forms are literal phrases; wildcard forms (``nordkoreanisch*``) suit query_string.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from .entities import Entity, Gazetteer, load_gazetteer
from .text import normalize_word, tokenize
from .topics import TopicSet, load_topics

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExpansionGroup:
    """One recognised concept of the query and its alternatives."""

    kind: str  # "topic" | "entity"
    id: str
    matched: str  # the query text recognised
    start: int  # character offsets into the query
    end: int
    alternatives: dict[str, list[str]]  # language ("any" = language-neutral) -> literal phrases
    wildcards: dict[str, list[str]] = field(default_factory=dict)  # language -> patterns with *

    def phrases(self) -> list[str]:
        return _flatten(self.alternatives)


@dataclass(frozen=True)
class QueryExpansion:
    query: str
    topics: list[str]  # topic ids recognised
    entities: list[str]  # entity ids recognised
    groups: list[ExpansionGroup]
    terms: list[str]  # every literal alternative of every group, no repeats
    wildcard_terms: list[str]  # every wildcard alternative
    residual: str  # query words no group covers

    @property
    def is_empty(self) -> bool:
        return not self.groups

    def for_language(self, language: str) -> list[str]:
        """Literal alternatives in one language plus the language-neutral ones."""
        out: list[str] = []
        for g in self.groups:
            for lang in (language, "any"):
                out.extend(p for p in g.alternatives.get(lang, []) if p not in out)
        return out


def _flatten(by_lang: dict[str, list[str]]) -> list[str]:
    out: list[str] = []
    seen: set[str] = set()
    for items in by_lang.values():
        for item in items:
            key = " ".join(normalize_word(w) for w in item.split())
            if key not in seen:
                seen.add(key)
                out.append(item)
    return out


def _entity_forms(ent: Entity, with_adjectives: bool) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    plain: dict[str, list[str]] = {"en": [ent.name]}
    wild: dict[str, list[str]] = {}
    for lang, label in ent.labels.items():
        plain.setdefault(lang, [])
        if label not in plain[lang]:
            plain[lang].append(label)
    sources = [ent.aliases] + ([ent.adjectives] if with_adjectives else [])
    for src in sources:
        for lang, items in src.items():
            for item in items:
                target = wild if "*" in item else plain
                bucket = target.setdefault(lang, [])
                if item not in bucket:
                    bucket.append(item)
    return plain, wild


def expand_query(
    query: str, topics: TopicSet | None = None, gazetteer: Gazetteer | None = None
) -> QueryExpansion:
    """Recognise topic terms and entity names (in any language) in ``query``."""
    topics = topics if topics is not None else load_topics()
    gazetteer = gazetteer if gazetteer is not None else load_gazetteer()
    groups: list[ExpansionGroup] = []
    covered: set[int] = set()

    for hit in topics.find_terms(query):
        topic = topics.topics[hit.topic]
        groups.append(
            ExpansionGroup(
                "topic", topic.id, query[hit.start : hit.end], hit.start, hit.end,
                topic.plain_terms(), topic.wildcard_terms(),
            )
        )
        for span_start, span_end in hit.spans or ((hit.start, hit.end),):
            covered.update(range(span_start, span_end))

    seen_entities: set[str] = set()
    mentions = [(m, False) for m in gazetteer.find(query)] + [(m, True) for m in gazetteer.find_adjectives(query)]
    for m, is_adjective in sorted(mentions, key=lambda x: x[0].start):
        if m.id in seen_entities:
            continue
        seen_entities.add(m.id)
        plain, wild = _entity_forms(gazetteer.get(m.id), with_adjectives=is_adjective)
        groups.append(ExpansionGroup("entity", m.id, m.surface, m.start, m.end, plain, wild))
        covered.update(range(m.start, m.end))

    groups.sort(key=lambda g: (g.start, g.kind != "topic"))
    residual = " ".join(t.orig for t in tokenize(query) if t.start not in covered)
    terms = _flatten({str(i): g.phrases() for i, g in enumerate(groups)})
    wild_terms: list[str] = []
    for g in groups:
        for items in g.wildcards.values():
            wild_terms.extend(i for i in items if i not in wild_terms)
    result = QueryExpansion(
        query=query,
        topics=[g.id for g in groups if g.kind == "topic"],
        entities=[g.id for g in groups if g.kind == "entity"],
        groups=groups,
        terms=terms,
        wildcard_terms=wild_terms,
        residual=residual,
    )
    log.debug("expanded %r: topics=%s entities=%s", query, result.topics, result.entities)
    return result
