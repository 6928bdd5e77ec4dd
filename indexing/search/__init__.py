"""Search across languages: the Python API behind ``warwatch search`` (CONTRACT.md).

One job per module:

- :mod:`~indexing.search.safety`: what a query may ask of the engine (colons, explicit syntax,
  wildcard and fuzzy limits, :class:`QueryError`);
- :mod:`~indexing.search.query`: the request: query expansion, the scoring clauses (how a query
  is scored is explained there), highlights, filters, date bounds; :class:`SearchRequest`;
- :mod:`~indexing.search.execute`: one request against the engine, with the fallback to
  ``simple_query_string``;
- :mod:`~indexing.search.hybrid`: the keyword ranking fused with the vector neighbours;
- :mod:`~indexing.search.hits`: :class:`SearchHit`, :class:`SearchResult`, facets and totals.

Everything callers use is importable from ``indexing.search`` itself.
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import TYPE_CHECKING

from indexing.engine import Engine
from indexing.search.execute import run
from indexing.search.hits import SearchHit, SearchResult, facets_of, parse_hit, total_of
from indexing.search.hybrid import HYDRATE_SLACK, hybrid_search
from indexing.search.query import (
    COMPLETE_BONUS,
    ENTITY_BONUS,
    ENTITY_MENTION_BONUS,
    EXPANSION_BOOST,
    FACET_FIELDS,
    FIELD_WEIGHTS,
    LONG_QUERY_WORDS,
    TOPIC_BONUS,
    TOPIC_SCORE_BONUS,
    TRACK_TOTAL_HITS,
    TRANSLIT_BOOST,
    TRANSLIT_FIELD,
    TYPED_BONUS,
    Expansion,
    Order,
    SearchRequest,
    _to_datetime,
    build_query,
    build_request,
    complete_clause,
    expand,
    translit_clause,
)
from indexing.search.safety import (
    QueryError,
    check_query,
    is_explicit,
    is_match_all,
    is_syntax_error,
    is_too_expensive,
    neutralise_colons,
    query_string_limits,
)
from indexing.settings import EmbeddingSettings, SearchSettings

if TYPE_CHECKING:
    from indexing.embeddings import Embedder

log = logging.getLogger(__name__)

__all__ = [
    "COMPLETE_BONUS", "ENTITY_BONUS", "ENTITY_MENTION_BONUS", "EXPANSION_BOOST", "FACET_FIELDS", "FIELD_WEIGHTS",
    "HYDRATE_SLACK", "LONG_QUERY_WORDS", "TOPIC_BONUS", "TOPIC_SCORE_BONUS", "TRACK_TOTAL_HITS", "TRANSLIT_BOOST",
    "TRANSLIT_FIELD", "TYPED_BONUS", "Expansion", "Order", "QueryError", "SearchHit", "SearchRequest",
    "SearchResult", "_to_datetime", "build_query", "build_request", "check_query", "complete_clause", "expand",
    "is_explicit", "is_match_all", "is_syntax_error", "is_too_expensive", "neutralise_colons", "parse_hit",
    "query_string_limits", "search", "translit_clause",
]


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
    engine: Engine,
    index: str,
    settings: SearchSettings,
    embeddings: EmbeddingSettings | None,
    translit: bool = True,
    hybrid: bool | None = None,
) -> SearchResult:
    """Search ``index`` (the articles alias: ``articles_alias(prefix)``) on ``engine`` within
    the limits of ``settings`` (the ``search`` settings). Filters take one value or a comma-separated list.
    ``translit=False`` switches off the cross-script name bridge, ``hybrid=False`` the vector
    half (default: ``search.hybrid``; benchmarks compare both). ``embeddings`` (the
    ``embeddings`` settings: which model embeds the query) is required: a caller that forgot it
    would search by keyword only without noticing; ``None`` says so on purpose.

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
    if not is_match_all(query):
        check_query(query, settings)  # refused before anything is asked of the engine
    # ``expand`` is looked up here, in the package, at call time: tests replace it here
    request = SearchRequest(query, lang=lang, source=source, topic=topic, entity=entity, since=since,
                            until=until, size=size, order=order, facets=facets, translit=translit,
                            expansion=expand(query), limits=settings)
    hybrid = settings.hybrid if hybrid is None else hybrid
    if hybrid and order == "relevance" and not is_explicit(query) and not is_match_all(query):
        embedder = _embedder(embeddings)
        result = None if embedder is None else hybrid_search(engine, index, request, embedder)
        if result is not None:
            return result
    resp, syntax = run(engine, index, request)
    return SearchResult(
        total=total_of(resp),
        hits=[parse_hit(h) for h in resp.get("hits", {}).get("hits", [])],
        facets=facets_of(resp.get("aggregations") or {}) if facets else None,
        took_ms=resp.get("took"),
        query_syntax=syntax,
    )


def _embedder(embeddings: EmbeddingSettings | None) -> Embedder | None:
    """The query's embedder (loaded once per process), or None: no model configured, or it cannot
    be loaded (logged; vectors are a bonus, never a new way for search to fail)."""
    if embeddings is None:
        return None
    from indexing.embeddings import EmbeddingError, get_embedder

    try:
        return get_embedder(embeddings)
    except EmbeddingError as exc:
        log.warning("no vector search: %s", exc)
        return None
