"""Search across languages: the Python API behind ``warwatch search`` (CONTRACT.md).

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
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, Literal

from indexing.engine import Engine, EngineError, connect
from indexing.index.setup import articles_alias
from indexing.index.templates import LANG_FIELDS, TEXT_FIELDS, lang_field
from indexing.settings import get_settings
from indexing.translit import query_words

if TYPE_CHECKING:
    from indexing.embeddings.fusion import Fused

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
_SOURCE_FIELDS = ["id", "url", "canonical_url", "title", "source", "language", "published", "topics",
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


_EXPLICIT_SYNTAX = re.compile(r"(^|[\s(])([\w.*]+:|[+-]\S)|\b(AND|OR|NOT)\b")
_FIELD_PREFIX = re.compile(r"(^|[\s(])([\w.*]+):")


def neutralise_colons(query: str) -> str:
    """Headlines are full of colons ("Report 3: ...", "ГУР: ...", "Guerre en Ukraine : ...").
    Only a colon after one of our field names (``title:``, ``source:``, ``body_de:``) means a
    field in query-string syntax; anywhere else it is punctuation and becomes a space."""
    from indexing.index.templates import mapped_fields

    known = mapped_fields()

    def repl(m: re.Match[str]) -> str:
        name = m.group(2)
        is_field = name in known or ("*" in name and any(f.startswith(name.split("*")[0]) for f in known))
        return m.group(0) if is_field else f"{m.group(1)}{name} "

    return _FIELD_PREFIX.sub(repl, query or "").replace(" : ", " ")


def is_explicit(query: str) -> bool:
    """A query naming fields (``title:x``), boolean operators or +/- terms says exactly what it
    wants: it is not expanded."""
    return bool(_EXPLICIT_SYNTAX.search(query or ""))


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


# ----------------------------------------------------------------------------- result
@dataclass
class SearchHit:
    id: str
    url: str | None
    canonical_url: str | None
    title: str | None
    source: str | None
    language: str | None
    published: str | None
    score: float | None
    topics: list[str]
    highlights: list[str]
    entities: list[str] = field(default_factory=list)
    #: the keyword clauses the hit matched (``all``, ``some``, ``names``, ``phrase``, ``topic``,
    #: ``entity``, ``complete``): why the keyword side found it
    matched: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "url": self.url, "canonical_url": self.canonical_url, "title": self.title,
            "source": self.source, "language": self.language, "published": self.published,
            "score": self.score, "topics": self.topics, "highlights": self.highlights,
        }


@dataclass
class SearchResult:
    total: int
    hits: list[SearchHit]
    facets: dict[str, list[dict[str, Any]]] | None = None
    took_ms: int | None = None
    query_syntax: str = "query_string"  # or "simple_query_string" after a syntax error
    retrieval: str = "keyword"  # or "hybrid": fused with the vector neighbours
    #: no good match: neither the keyword nor the vector side is confident (the hits are the
    #: nearest articles, not answers; indexing/embeddings/fusion.py)
    weak: bool = False

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"total": self.total, "hits": [h.to_json() for h in self.hits]}
        if self.weak:
            out["match"] = "weak"
        if self.facets is not None:
            out["facets"] = self.facets
        return out


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


_WILDCARD_ONLY = re.compile(r"^\s*\*?\s*$")


# ----------------------------------------------------------------------------- query safety
class QueryError(EngineError):
    """A query warwatch will not run: too expensive (leading or one-letter wildcards, too many
    wildcard or fuzzy terms, too long) or malformed beyond repair. The message is one line."""

    def __init__(self, message: str) -> None:
        super().__init__(message, status=400, error_type="query_rejected")


#: simple_query_string operators allowed in the fallback: no fuzzy, no slop.
_SIMPLE_FLAGS = "AND|OR|NOT|PHRASE|PRECEDENCE|ESCAPE|WHITESPACE|PREFIX"
_TOKEN = re.compile(r'"(?:\\.|[^"\\])*"~?\d*|\S+')
# a slash after an even run of backslashes (none, or escaped backslashes) opens a regexp
_UNESCAPED_SLASH = re.compile(r"(?<!\\)((?:\\\\)*)/")
_TOO_EXPENSIVE = ("too_complex_to_determinize", "too_many_clauses", "too_many_nested_clauses",
                  "maxclausecount", "toomanyclauses", "determinizedstates")


def query_string_limits() -> dict[str, Any]:
    """query_string options that keep one query from costing the cluster: no leading
    wildcards, bounded automata and fuzzy expansions."""
    return {"allow_leading_wildcard": False, "max_determinized_states": 2000, "fuzzy_max_expansions": 10,
            "analyze_wildcard": False}


def _expansive(term: str) -> bool:
    """Whether ``term`` (one token of the query) is a wildcard or fuzzy term; raises for a
    wildcard with fewer than two characters before it."""
    word = term.split(":", 1)[1] if ":" in term and not term.startswith(":") else term
    word = word.lstrip("+-(!").rstrip(")")
    if not word or word == "*" or word.startswith('"'):
        return False
    if "*" in word or "?" in word:
        prefix = re.split(r"[*?]", word, maxsplit=1)[0]
        if len(prefix) < 2:
            raise QueryError(f"wildcard {word!r} refused: it needs two letters before * or ?")
        return True
    return bool(re.search(r"[^\\]~\d*(\.\d+)?$", word))


def check_query(query: str) -> str:
    """The user's query made safe for query_string, or :class:`QueryError`.

    Regular expressions (``/.../``) are not offered: slashes become literal. Leading and
    one-letter wildcards are refused (they scan the whole term dictionary), and so are more
    than ``search.max_expansive_terms`` wildcard or fuzzy terms, or a query over
    ``search.max_query_chars`` characters."""
    limits = get_settings().search
    if len(query) > limits.max_query_chars:
        raise QueryError(f"query too long: {len(query)} characters (at most {limits.max_query_chars})")
    text = _UNESCAPED_SLASH.sub(r"\1\\/", query)
    expansive = sum(1 for tok in _TOKEN.findall(text) if _expansive(tok))
    if expansive > limits.max_expansive_terms:
        raise QueryError(f"query too expensive: {expansive} wildcard or fuzzy terms "
                         f"(at most {limits.max_expansive_terms})")
    return text


def is_too_expensive(exc: EngineError) -> bool:
    text = f"{exc.error_type} {exc} {exc.info}".lower().replace(" ", "")
    return any(k in text for k in _TOO_EXPENSIVE)


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
    parts = [{"bool": {"must": [{"match": {TRANSLIT_FIELD: {"query": " ".join(skeletons)}}}],
                       "must_not": [{"multi_match": {"query": word, "fields": fields}}]}}
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
                                         "lenient": True, "boost": 2.0, "flags": _SIMPLE_FLAGS}}
        loose = {"simple_query_string": {"query": query, "fields": loose_fields, "default_operator": "OR",
                                         "lenient": True, "minimum_should_match": "60%", "boost": 0.5,
                                         "flags": _SIMPLE_FLAGS}}
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
    if _WILDCARD_ONLY.match(query or ""):
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
        parts.append({"bool": {"should": either, "minimum_should_match": 1}})
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
                  facets: bool = False, syntax: str = "query_string", translit: bool = True) -> dict[str, Any]:
    expansion = expansion or Expansion()
    body: dict[str, Any] = {
        "query": {"bool": {"must": [build_query(query, expansion, syntax=syntax, translit=translit)],
                           "filter": _filters(lang, source, topic, entity, since, until)}},
        "size": max(0, min(int(size), 1000)),
        # Counting beyond 10,000 would switch off the engine's skipping of non-competitive
        # documents (block-max WAND): totals above that are reported as 10000.
        "track_total_hits": TRACK_TOTAL_HITS,
        # partial results rather than a search that holds the cluster (watches run this too)
        "timeout": get_settings().search.timeout,
        "_source": _SOURCE_FIELDS,
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


def is_syntax_error(exc: EngineError) -> bool:
    text = f"{exc.error_type} {exc} {exc.info}".lower()
    return exc.status == 400 and any(k in text for k in ("parse", "query_shard", "search_phase", "lexical",
                                                          "token_mgr", "failed to create query"))


def parse_hit(h: Mapping[str, Any]) -> SearchHit:
    src = h.get("_source") or {}
    hl = h.get("highlight") or {}
    lang = lang_field(src.get("language"))
    # Title fragment first, then body fragments of the article's own language, then any.
    ordered = [f"title_{lang}", f"body_{lang}"] + sorted(k for k in hl if k not in (f"title_{lang}", f"body_{lang}"))
    snippets: list[str] = []
    for key in ordered:
        for frag in hl.get(key, []):
            if frag not in snippets:
                snippets.append(frag)
    return SearchHit(
        id=str(h.get("_id")), url=src.get("url"), canonical_url=src.get("canonical_url"),
        title=src.get("title"), source=src.get("source"), language=src.get("language"),
        published=src.get("published"), score=h.get("_score"), topics=list(src.get("topics") or []),
        highlights=snippets, entities=list(src.get("entities") or []),
        matched=sorted(set(h.get("matched_queries") or ())),  # a list, or a dict name -> score
    )


def _facets(aggs: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for name in [*FACET_FIELDS, "day"]:
        buckets = (aggs.get(name) or {}).get("buckets", [])
        out[name] = [{"key": b.get("key_as_string", b.get("key")), "count": b.get("doc_count", 0)}
                     for b in buckets]
    return out


def _run(engine: Engine, index: str, query: str, kwargs: Mapping[str, Any],
         shape: Callable[[dict[str, Any]], None] | None = None) -> tuple[dict[str, Any], str]:
    """One search request (``shape`` edits the body), with the simple_query_string fallback
    for a query the engine cannot parse, the timeouts of ``search`` settings, and
    :class:`QueryError` for a query too expensive or malformed to run."""
    limits = get_settings().search
    syntax = "query_string"
    for syntax in ("query_string", "simple_query_string"):
        body = build_request(query, syntax=syntax, **kwargs)
        if shape:
            shape(body)
        try:
            resp = engine.search(index, body, request_timeout=limits.request_timeout)
        except EngineError as exc:
            if isinstance(exc, QueryError):
                raise
            if is_too_expensive(exc):
                raise QueryError(f"query too expensive for the engine: {query[:80]!r}") from exc
            if syntax == "simple_query_string" or not is_syntax_error(exc):
                if is_syntax_error(exc):
                    raise QueryError(f"malformed query {query[:80]!r}: {exc}") from exc
                raise
            log.info("query %r is not valid query-string syntax (%s); using simple_query_string", query, exc)
            continue
        if resp.get("timed_out"):
            log.warning("search for %r timed out after %s: results are partial", query, limits.timeout)
        return resp, syntax
    raise AssertionError("unreachable")  # pragma: no cover


def _total(resp: Mapping[str, Any]) -> int:
    total = resp.get("hits", {}).get("total", 0)
    return int(total.get("value", 0) if isinstance(total, Mapping) else total)


def _light(body: dict[str, Any]) -> None:
    """The first, ranking-only request of a hybrid search: ids, scores, languages and facets."""
    body.pop("highlight", None)
    body["_source"] = ["language"]


def _hydrate(ids: list[str]) -> Callable[[dict[str, Any]], None]:
    """The last request of a hybrid search: sources and highlights of the fused ``ids``, through
    the index with the search's filters (a deleted or filtered-out neighbour drops out). Nothing
    is scored: the highlights bring their own queries (:func:`_highlight`), and the keyword
    query must not exclude vector-only hits."""

    def shape(body: dict[str, Any]) -> None:
        bool_query = body["query"]["bool"]
        bool_query.pop("must")
        bool_query["filter"] = [*bool_query["filter"], {"ids": {"values": ids}}]
        body.pop("aggs", None)
        body["track_total_hits"] = False
        body["size"] = len(ids)

    return shape


#: fused candidates fetched beyond ``size`` when nothing but a deletion can drop one
HYDRATE_SLACK = 5


def _fused(first: Mapping[str, Any], near: list[tuple[str, float]], expansion: Expansion) -> Fused:
    """The keyword ranking (``first``) fused with the vector neighbours (settings: ``search.fusion``)."""
    from indexing.embeddings.fusion import Fused, FusionParams, KeywordHit, fuse
    from indexing.embeddings.retrieval import rrf

    limits = get_settings().search
    keyword = [KeywordHit(str(h["_id"]), float(h.get("_score") or 0.0), frozenset(h.get("matched_queries") or ()))
               for h in first.get("hits", {}).get("hits", [])]
    if limits.fusion == "rrf":
        return Fused(ranking=rrf([[h.id for h in keyword], [i for i, _ in near]], k=limits.rrf_k))
    params = FusionParams(strong=limits.fusion_strong, weak=limits.fusion_weak,
                          vector_confidence=limits.vector_confidence, admit=limits.vector_admit,
                          admit_ratio=limits.vector_admit_ratio)
    return fuse(keyword, near, one_concept=expansion.one_concept, params=params)


def _hybrid(engine: Engine, index: str, query: str, kwargs: dict[str, Any]) -> SearchResult | None:
    """Keyword ranking fused with the vector neighbours (None when there are no neighbours).

    Filters hold exactly as for keyword search: the engine's kNN applies them itself, and the
    client-side matrix's neighbours (which know no filters) are all looked up through the
    index with the filters before the page is cut, so ``total`` and ``hits`` agree."""
    from indexing.embeddings.retrieval import has_vectors, neighbours

    limits = get_settings().search
    if not has_vectors(engine, index):
        return None
    filters = _filters(*(kwargs[k] for k in ("lang", "source", "topic", "entity", "since", "until")))
    # The vector side (model, matrix product or kNN request) runs while the engine ranks by keyword.
    with ThreadPoolExecutor(max_workers=1) as pool:
        vector_side = pool.submit(neighbours, engine, index, query, k=limits.vector_candidates, filters=filters,
                                  timeout=limits.request_timeout)
        first, syntax = _run(engine, index, query,
                             {**kwargs, "size": max(kwargs["size"], limits.vector_candidates)}, shape=_light)
        near = vector_side.result()
    if not near:
        return None
    fused = _fused(first, near, kwargs["expansion"])
    size = kwargs["size"]
    keyword_ids = {str(h["_id"]) for h in first.get("hits", {}).get("hits", [])}
    checked = bool(filters) and not engine.native_knn  # every candidate must pass the filters
    wanted = fused.ranking if checked else fused.page(size)[: size + HYDRATE_SLACK]
    resp, _ = _run(engine, index, query, {**kwargs, "facets": False}, shape=_hydrate([i for i, _ in wanted]))
    by_id = {str(h["_id"]): h for h in resp.get("hits", {}).get("hits", [])}
    fetched = {i for i, _ in wanted}
    present = fused.page(size, lambda i: i in by_id or i not in fetched)
    hits = [parse_hit({**by_id[i], "_score": score}) for i, score in present if i in by_id][:size]
    extra = sum(1 for i, _ in present if i not in keyword_ids)
    return SearchResult(total=_total(first) + extra, hits=hits,
                        facets=_facets(first.get("aggregations") or {}) if kwargs["facets"] else None,
                        took_ms=int(first.get("took") or 0) + int(resp.get("took") or 0), query_syntax=syntax,
                        retrieval="hybrid", weak=fused.weak)


def search(
    query: str,
    *,
    lang: str | None = None,
    source: str | None = None,
    topic: str | None = None,
    entity: str | None = None,
    since: str | date | datetime | None = None,
    until: str | date | datetime | None = None,
    size: int = 10,
    order: Order = "relevance",
    facets: bool = False,
    engine: Engine | None = None,
    index: str | None = None,
    translit: bool = True,
    hybrid: bool | None = None,
) -> SearchResult:
    """Search the articles alias. Filters take one value or a comma-separated list.
    ``translit=False`` switches off the cross-script name bridge, ``hybrid=False`` the vector
    half (default: ``search.hybrid``; benchmarks compare both).

    Hybrid retrieval (relevance order, queries without explicit syntax, when articles have
    vectors): the keyword ranking above and the query's nearest articles by multilingual
    embedding (:mod:`indexing.embeddings.retrieval`) are fused (``fuse``: the rescaled vector
    score plus the weighted keyword score; ``search.fusion: rrf`` for reciprocal rank fusion);
    scores are then fusion scores.

    ``until`` given as a bare day includes that whole day. Raises :class:`QueryError` for a query
    too expensive or malformed to run, :class:`EngineUnavailable` when the engine cannot be
    reached and :class:`EngineError` for anything else it refuses.
    """
    query = neutralise_colons(query)
    if not _WILDCARD_ONLY.match(query or ""):
        check_query(query)  # refused before anything is asked of the engine
    engine = engine or connect()
    index = index or articles_alias()
    expansion = expand(query)
    kwargs: dict[str, Any] = dict(expansion=expansion, lang=lang, source=source, topic=topic, entity=entity,
                                  since=since, until=until, size=size, order=order, facets=facets,
                                  translit=translit)
    hybrid = get_settings().search.hybrid if hybrid is None else hybrid
    if hybrid and order == "relevance" and not is_explicit(query) and not _WILDCARD_ONLY.match(query or ""):
        result = _hybrid(engine, index, query, kwargs)
        if result is not None:
            return result
    resp, syntax = _run(engine, index, query, kwargs)
    return SearchResult(
        total=_total(resp),
        hits=[parse_hit(h) for h in resp.get("hits", {}).get("hits", [])],
        facets=_facets(resp.get("aggregations") or {}) if facets else None,
        took_ms=resp.get("took"),
        query_syntax=syntax,
    )
