"""The search request: clause building, highlights, filters and date bounds.

How a query is scored (one bool query, ``should`` clauses, at least one must match):

1. the query as typed, in query-string syntax (``AND``, ``"phrases"``, ``title:x``, ``nord*``),
   over every language field (the article's own words, not its entity labels), each analysed with its own language's analyzer, so "Truppen" is
   stemmed the German way in German articles and "troops" the English way in English ones;
   the typed words must all occur (``default_operator AND``); a syntax error falls back to
   ``simple_query_string``;
2. the same words, any of them (``OR``, 60% of them at least), at low weight;
3. cross-lingual expansion (:func:`indexing.enrich.expand_query`) recognises the query's topics
   and entities in any language (``North Korea`` -> ``north-korea``); articles are matched through
   the tags enrichment gave them with the same multilingual terms (a concept without an id would
   be looked for as phrases of its surface forms in each language's fields). Explicit queries
   (fields, boolean operators) are not expanded: they mean exactly what they say;
4. articles tagged with a topic the query denotes get a large constant bonus, so real coverage in
   any language ranks above look-alikes that merely share words; each query entity an article
   carries adds a smaller one, growing (saturating) with how often the article mentions it, so
   articles about the entity beat those that name it in passing;
5. names the gazetteer does not know are bridged across scripts and transliterations: the typed
   words are folded to Latin skeletons (:mod:`indexing.translit`: ``Pokrovsk``, ``Pokrowsk``,
   ``Покровськ`` -> ``pakravsk``) and matched on the articles' ``names_translit`` field at
   modest weight (BM25, so rare names count more than common nouns), in articles whose own text
   does not match the word already. Words already recognised as a topic or entity are left to
   their tags; explicit queries get no such bridge.

Article bodies use BM25 with weaker length normalisation (templates.py), so full reports are not
outranked by two-line briefs.

Highlights come from the language fields, with the expanded forms included.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

from indexing.index.templates import LANG_FIELDS, TEXT_FIELDS
from indexing.search.safety import SIMPLE_FLAGS, check_query, is_explicit, is_match_all, query_string_limits
from indexing.settings import SearchSettings
from indexing.translit import BRIDGED, CARRIED, query_words

log = logging.getLogger(__name__)

Order = Literal["relevance", "date"]

#: Weights of the scoring parts (see the module docstring).
TOPIC_BONUS = 30.0
TOPIC_SCORE_BONUS = 30.0
TYPED_BONUS = 4.0
ENTITY_BONUS = 4.0
ENTITY_MENTION_BONUS = 8.0
#: every part of the query present (topics, entities, remaining words/names): see complete_clause
COMPLETE_BONUS = 30.0
TRACK_TOTAL_HITS = 10_000
EXPANSION_BOOST = 1.5
#: Weight of the names_translit match (5. in the module docstring): a rare name matched once
#: scores about idf x this, well below a topic bonus.
TRANSLIT_BOOST = 2.0
TRANSLIT_FIELD = "names_translit"
FIELD_WEIGHTS = {"title": 3.0, "lead": 2.0, "body": 1.0}
#: queries with more words than this are searched in title and body only (see _typed_clauses)
LONG_QUERY_WORDS = 8
#: Facets: name -> field (day is a date histogram on ``published``).
FACET_FIELDS = {"source": "source", "language": "language", "topic": "topics", "entity": "entity_canonical"}
#: the fields a search hit reads from each article's _source
SOURCE_FIELDS = ["id", "url", "canonical_url", "title", "source", "language", "published", "topics",
                 "entities", "entity_ids", "story_id"]


@dataclass
class Expansion:
    """What the enrichment side tells us about a query: per recognised concept (a topic or an
    entity) its surface forms in every language; the topic and entity ids."""

    #: per concept: language ("de", ..., "any" for language-neutral forms) -> surface forms
    groups: list[dict[str, list[str]]] = field(default_factory=list)
    #: "topic" or "entity", one per group
    kinds: list[str] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)
    entities: list[str] = field(default_factory=list)
    #: the query's words that no topic or entity accounts for (names the gazetteer lacks ...)
    residual: str = ""

    @property
    def surface_forms(self) -> list[str]:
        return list(dict.fromkeys(f for g in self.groups for forms in g.values() for f in forms))

    @property
    def one_concept(self) -> bool:
        """The query is one topic, entity or word: its tag, names or phrase are the whole of it."""
        return len(self.groups) + len(query_words(self.residual) if self.residual else []) <= 1



def expand(query: str) -> Expansion:
    """The query's expansion through ``indexing.enrich.expand_query`` (empty when unavailable
    and for explicit queries, see :func:`is_explicit`)."""
    if is_explicit(query):
        return Expansion()
    try:
        from indexing.enrich import expand_query
    except ImportError:
        log.debug("indexing.enrich.expand_query not available: no cross-lingual expansion")
        return Expansion()
    try:
        exp = expand_query(query)
    except Exception as exc:  # expansion is a bonus: a broken config must not break search
        log.warning("query expansion failed for %r: %s", query, exc)
        return Expansion()
    groups: list[dict[str, list[str]]] = []
    kinds: list[str] = []
    for g in getattr(exp, "groups", []) or []:
        kinds.append(str(getattr(g, "kind", "topic")))
        by_lang: dict[str, list[str]] = {}
        for source in (getattr(g, "alternatives", None) or {}, getattr(g, "wildcards", None) or {}):
            for lang, items in source.items():
                bucket = by_lang.setdefault(str(lang), [])
                bucket.extend(i for i in items if i not in bucket)
        groups.append(by_lang)
    return Expansion(groups=groups, kinds=kinds, topics=list(exp.topics), entities=list(exp.entities),
                     residual=str(getattr(exp, "residual", "") or ""))


# ----------------------------------------------------------------------------- query
def _fields(kinds: Iterable[str] = ("title", "lead", "body"), langs: Sequence[str] = LANG_FIELDS) -> list[str]:
    return [f"{k}_{lang}^{FIELD_WEIGHTS[k]:g}" for k in kinds for lang in langs]


def _to_datetime(value: str | date | datetime, *, end: bool) -> str:
    """ISO bound for a range filter; a bare day (or midnight) as ``until`` includes that whole day."""
    if isinstance(value, str):
        s = value.strip()
        dt = datetime.fromisoformat(s.replace("Z", "+00:00"))
        day_only = len(s) <= 10
    elif isinstance(value, datetime):
        dt, day_only = value, value.time() == time(0) and value.microsecond == 0
    else:
        dt, day_only = datetime.combine(value, time(0)), True
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    if end and day_only:
        try:
            dt = dt + timedelta(days=1)
        except OverflowError:  # until 9999-12-31: the last representable day, up to its end
            dt = dt.replace(hour=23, minute=59, second=59, microsecond=999999)
    return dt.isoformat()


def _filters(lang: str | None, source: str | None, topic: str | None, entity: str | None,
             since: Any, until: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if lang:
        out.append({"terms": {"language": [v.strip().lower() for v in lang.split(",") if v.strip()]}})
    if source:
        out.append({"terms": {"source": [v.strip() for v in source.split(",") if v.strip()]}})
    if topic:
        out.append({"terms": {"topics": [v.strip() for v in topic.split(",") if v.strip()]}})
    if entity:
        values = [v.strip() for v in entity.split(",") if v.strip()]
        out.append({"bool": {"should": [{"terms": {"entity_ids": values}}, {"terms": {"entities": values}}],
                             "minimum_should_match": 1}})
    rng: dict[str, str] = {}
    if since:
        rng["gte"] = _to_datetime(since, end=False)
    if until:
        rng["lt"] = _to_datetime(until, end=True)
    if rng:
        out.append({"range": {"published": rng}})
    return out



def _named(clause: dict[str, Any], name: str) -> dict[str, Any]:
    """``clause`` (one query type) with ``_name``: hits list the clauses they matched
    (``matched_queries``), the keyword side's evidence for hybrid fusion (:data:`EVIDENCE`)."""
    return {kind: {**params, "_name": name} for kind, params in clause.items()}


def _phrase_clause(form: str, fields: list[str]) -> dict[str, Any] | None:
    form = form.strip()
    if not form or form.startswith("*"):
        return None  # leading wildcards (compound suffixes) are too costly at query time
    if form.endswith("*"):
        stem = form.rstrip("*").strip()
        if len(stem) < 3:
            return None
        return {"multi_match": {"query": stem, "fields": fields, "type": "phrase_prefix", "max_expansions": 20}}
    return {"multi_match": {"query": form, "fields": fields, "type": "phrase"}}


def translit_clause(query: str, expansion: Expansion) -> dict[str, Any] | None:
    """The names_translit part for the typed words (None when there is nothing to bridge).

    A word's skeleton counts only in articles whose own text does not already match the word:
    the bridge stands in for the missing match of a name written another way (Курахове for
    Kurakhove). A word that matches anyway, such as "offensive" in a German article about
    another "Offensive", gets nothing twice.
    """
    if is_explicit(query):
        return None
    words = query_words(query, skip=expansion.surface_forms)
    if not words:
        return None
    # The article's own text through the generic fields (lowercased, accents folded, not stemmed):
    # a name is not inflected the way the language fields stem, and three fields instead of one
    # per language keep a long headline under the engine's clause limit (1024 on OpenSearch).
    fields = list(TEXT_FIELDS)
    # Each word's part is named (BRIDGED + word): hybrid fusion tells a name written in another
    # script (a query in Latin letters, the article in Cyrillic) from the other words.
    parts = [{"bool": {"must": [{"match": {TRANSLIT_FIELD: {"query": " ".join(skeletons)}}}],
                       "must_not": [{"multi_match": {"query": word, "fields": fields}}], "_name": BRIDGED + word}}
             for word, skeletons in words]
    return {"bool": {"should": parts, "boost": TRANSLIT_BOOST, "_name": "names"}}


def _typed_clauses(query: str, syntax: str) -> list[dict[str, Any]]:
    """The query as typed: all words (AND) at some weight, most words (OR, 60%) at less, and a
    fixed bonus for all of them."""
    # The typed words must occur in the article's own text (not only in its entity labels,
    # which text_all also holds): that is what the expansion and bonuses cannot tell apart.
    # Each word becomes one clause per field, three times over: a long query (a pasted headline)
    # leaves out the lead fields to stay under the engine's clause limit (1024 on OpenSearch).
    long_query = len(query.split()) > LONG_QUERY_WORDS
    fields = _fields(("title", "body") if long_query else ("title", "lead", "body"))
    loose_fields = fields + ["text_all^0.5"]
    typed: dict[str, Any]
    loose: dict[str, Any]
    if syntax == "query_string":
        safety = query_string_limits()
        typed = {"query_string": {"query": query, "fields": fields, "default_operator": "AND",
                                  "type": "cross_fields", "lenient": True, "boost": 2.0, **safety}}
        loose = {"query_string": {"query": query, "fields": loose_fields, "default_operator": "OR",
                                  "type": "cross_fields", "lenient": True,
                                  "minimum_should_match": "60%", "boost": 0.5, **safety}}
    else:
        typed = {"simple_query_string": {"query": query, "fields": fields, "default_operator": "AND",
                                         "lenient": True, "boost": 2.0, "flags": SIMPLE_FLAGS}}
        loose = {"simple_query_string": {"query": query, "fields": loose_fields, "default_operator": "OR",
                                         "lenient": True, "minimum_should_match": "60%", "boost": 0.5,
                                         "flags": SIMPLE_FLAGS}}
    # All typed words in the article's own text is worth a fixed amount on top of its BM25 score,
    # whose scale depends on the corpus: comparable to one entity the article is about, so among
    # equally on-topic articles those in the query's own words come first.
    typed_filter = {k: {**v, "boost": 1.0} for k, v in typed.items()}
    return [_named(typed, "all"), _named(loose, "some"),
            {"constant_score": {"filter": typed_filter, "boost": TYPED_BONUS, "_name": "all"}}]


def _phrase_clauses(expansion: Expansion) -> list[dict[str, Any]]:
    """Phrases of the concepts the expansion recognised but has no tag for."""
    out: list[dict[str, Any]] = []
    for group, kind in zip(expansion.groups, expansion.kinds or ["topic"] * len(expansion.groups), strict=False):
        if (kind == "entity" and expansion.entities) or (kind == "topic" and expansion.topics):
            # Recognised topics and entities are found through the tags enrichment put on the
            # articles with these very terms (topics/topic_scores, entity_ids/entity_mentions
            # below), which know inflections and scripts better than phrases, at a fraction of
            # the cost. Phrases only stand in for concepts without an id.
            continue
        # One concept counts once, however many of its spellings an article uses. A form is
        # looked for in the fields of its own language (analysed the same way), which keeps the
        # query small: a language-neutral form (names, acronyms) in all of them.
        alternatives: list[dict[str, Any]] = []
        for lang, forms in group.items():
            langs = [lang] if lang in LANG_FIELDS else list(LANG_FIELDS)
            phrase_fields = _fields(("title", "body"), langs)
            alternatives.extend(c for c in (_phrase_clause(f, phrase_fields) for f in forms) if c)
        if alternatives:
            out.append({"dis_max": {"queries": alternatives, "boost": EXPANSION_BOOST, "_name": "phrase"}})
    return out


def _tag_clauses(expansion: Expansion) -> list[dict[str, Any]]:
    """Bonuses for articles tagged with the query's topics and entities (4. in the docstring)."""
    out: list[dict[str, Any]] = []
    if expansion.topics:
        out.append({"constant_score": {"filter": {"terms": {"topics": expansion.topics}}, "boost": TOPIC_BONUS,
                                       "_name": "topic"}})
        for tid in dict.fromkeys(expansion.topics):
            # Graded: an article full of the topic's terms is coverage; one that mentions the
            # topic once in passing is not, even if tagged.
            out.append({"rank_feature": {"field": f"topic_scores.{tid}", "saturation": {"pivot": 3},
                                         "boost": TOPIC_SCORE_BONUS}})
    for eid in dict.fromkeys(expansion.entities):
        out.append({"constant_score": {"filter": {"term": {"entity_ids": eid}}, "boost": ENTITY_BONUS,
                                       "_name": "entity"}})
        # ... and more the more often the article mentions it (saturating: 2 mentions -> half).
        out.append({"rank_feature": {"field": f"entity_mentions.{eid}", "saturation": {"pivot": 2},
                                     "boost": ENTITY_MENTION_BONUS}})
    return out


def build_query(query: str, expansion: Expansion, *, syntax: str = "query_string",
                translit: bool = True) -> dict[str, Any]:
    """The scoring part of the request (filters are added by :func:`build_request`).
    ``translit=False`` leaves out the cross-script name bridge (for comparisons).

    Raises :class:`QueryError` for a query too expensive to run (see :func:`check_query`).
    """
    if is_match_all(query):
        return {"match_all": {}}
    if syntax == "query_string":
        query = check_query(query)
    should = _typed_clauses(query, syntax)
    names = translit_clause(query, expansion) if translit else None
    if names:
        should.append(names)
    should += _phrase_clauses(expansion)
    should += _tag_clauses(expansion)
    # the remaining words in the article's own text: the generic fields (not stemmed) suffice
    complete = complete_clause(expansion, list(TEXT_FIELDS), translit=translit)
    if complete:
        should.append(complete)
    return {"bool": {"should": should, "minimum_should_match": 1}}


def complete_clause(expansion: Expansion, fields: list[str], *, translit: bool = True) -> dict[str, Any] | None:
    """A bonus for articles that carry *every* part of the query, in whatever language: each
    recognised topic and entity (through the tags), and each remaining word in the article's
    own text or, for names, through its transliteration skeleton. This is what sets a story
    apart from articles on the same subject: "corvette Ivanovets sunk" is the Black Sea Fleet
    topic *and* the ship, and coverage of that ship in Ukrainian (Іванівець) has both, while
    another attack on the fleet has only the topic. Only for queries of two parts or more
    (one part is what the topic and entity bonuses already reward)."""
    parts: list[dict[str, Any]] = [{"term": {"topics": t}} for t in dict.fromkeys(expansion.topics)]
    parts += [{"term": {"entity_ids": e}} for e in dict.fromkeys(expansion.entities)]
    for word, skeletons in query_words(expansion.residual) if expansion.residual else []:
        either: list[dict[str, Any]] = [{"multi_match": {"query": word, "fields": fields}}]
        if translit and skeletons:
            either.append({"match": {TRANSLIT_FIELD: {"query": " ".join(skeletons)}}})
        # named (CARRIED + word): which hits carry the word at all, for hybrid fusion's names
        parts.append({"bool": {"should": either, "minimum_should_match": 1, "_name": CARRIED + word}})
    if len(parts) < 2:
        return None
    return {"constant_score": {"filter": {"bool": {"must": parts}}, "boost": COMPLETE_BONUS, "_name": "complete"}}


def _highlight(query: str, expansion: Expansion) -> dict[str, Any]:
    """Highlights from the language fields; each field looks for the typed words and the
    expansion's forms of its own language (plus language-neutral ones)."""
    fields: dict[str, dict[str, Any]] = {}
    for lang in LANG_FIELDS:
        forms = [query]
        for group in expansion.groups:
            for key in ((lang, "any") if lang != "other" else tuple(group)):
                forms.extend(f.rstrip("*") for f in group.get(key, []) if f and not f.startswith("*"))
        text = " ".join(dict.fromkeys(forms))
        for kind in ("title", "body"):
            fields[f"{kind}_{lang}"] = {"highlight_query": {"match": {f"{kind}_{lang}": {"query": text}}}}
    return {
        "encoder": "html",  # the page's own text HTML-escaped around the tags: only <em> is markup
        "pre_tags": ["<em>"],
        "post_tags": ["</em>"],
        "fragment_size": 160,
        "number_of_fragments": 3,
        "require_field_match": True,
        "fields": fields,
    }


def build_request(query: str, *, expansion: Expansion | None = None, lang: str | None = None,
                  source: str | None = None, topic: str | None = None, entity: str | None = None,
                  since: Any = None, until: Any = None, size: int = 10, order: Order = "relevance",
                  facets: bool = False, syntax: str = "query_string", translit: bool = True,
                  timeout: str = SearchSettings().timeout) -> dict[str, Any]:
    expansion = expansion or Expansion()
    body: dict[str, Any] = {
        "query": {"bool": {"must": [build_query(query, expansion, syntax=syntax, translit=translit)],
                           "filter": _filters(lang, source, topic, entity, since, until)}},
        "size": max(0, min(int(size), 1000)),
        # Counting beyond 10,000 would switch off the engine's skipping of non-competitive
        # documents (block-max WAND): totals above that are reported as 10000.
        "track_total_hits": TRACK_TOTAL_HITS,
        # partial results rather than a search that holds the cluster (watches run this too)
        "timeout": timeout,
        "_source": SOURCE_FIELDS,
        "highlight": _highlight(query, expansion),
    }
    if order == "date":
        body["sort"] = [{"published": {"order": "desc", "missing": "_last"}}, "_score"]
        body["track_scores"] = True
    if facets:
        aggs: dict[str, Any] = {name: {"terms": {"field": f, "size": 20}} for name, f in FACET_FIELDS.items()}
        aggs["day"] = {"date_histogram": {"field": "published", "calendar_interval": "day",
                                          "min_doc_count": 1, "format": "yyyy-MM-dd"}}
        body["aggs"] = aggs
    return body


@dataclass(frozen=True)
class SearchRequest:
    """One search as :func:`indexing.search.search` was asked for it: the query (colons
    neutralised), its filters and options, and its expansion. Handed on instead of the keyword
    arguments; a variant (another size, no facets) is ``dataclasses.replace(request, ...)``."""

    query: str
    lang: str | None = None
    source: str | None = None
    topic: str | None = None
    entity: str | None = None
    since: str | date | datetime | None = None
    until: str | date | datetime | None = None
    size: int = 10
    order: Order = "relevance"
    facets: bool = False
    translit: bool = True
    expansion: Expansion = field(default_factory=Expansion)
    #: what the search may cost (timeouts, candidates, fusion): the ``search`` settings
    limits: SearchSettings = field(default_factory=SearchSettings)

    def filters(self) -> list[dict[str, Any]]:
        """The filter clauses (language, source, topic, entity, date bounds)."""
        return _filters(self.lang, self.source, self.topic, self.entity, self.since, self.until)

    def body(self, syntax: str = "query_string") -> dict[str, Any]:
        """The request body (:func:`build_request`) in ``syntax`` (``query_string`` or, after a
        syntax error, ``simple_query_string``)."""
        return build_request(self.query, expansion=self.expansion, lang=self.lang, source=self.source,
                             topic=self.topic, entity=self.entity, since=self.since, until=self.until,
                             size=self.size, order=self.order, facets=self.facets, syntax=syntax,
                             translit=self.translit, timeout=self.limits.timeout)
