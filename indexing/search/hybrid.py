"""Hybrid retrieval: the keyword ranking fused with the query's vector neighbours.

A light keyword ranking (ids, scores, languages from doc values, facets) while the vector side
runs, the fusion (:mod:`indexing.embeddings.fusion`, or reciprocal rank fusion), then the sources
and highlights of the fused page, through the index with the search's filters. The fusion's
cross-lingual agreement needs the candidates' vectors when the keyword side has an anchor, its
title closeness their title vectors when it has none, its echo the candidates' vectors and
languages always: in memory with the client-side matrix; with the engine's kNN one ``ids``
request for the vectors (and languages) and, without an anchor, the title vectors with them,
which also brings the sources and highlights the page needs. So with the engine's kNN a search
waits on two requests in a row: the longer of the keyword ranking and the vector side (three
requests of its own: kNN, feedback vectors, the feedback query's kNN), then the candidates'
vectors with the page (``benchmarks/hybrid_profile.py`` times each).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from indexing.engine import Engine
from indexing.search.execute import run
from indexing.search.hits import SearchResult, facets_of, parse_hit, total_of
from indexing.search.query import SOURCE_FIELDS, Expansion, SearchRequest
from indexing.settings import SearchSettings

if TYPE_CHECKING:
    import numpy as np

    from indexing.embeddings import Embedder
    from indexing.embeddings.fusion import Fused, FusionParams, KeywordHit
    from indexing.embeddings.knn import PageFetch


#: the field the fusion reads each keyword hit's language from (names across scripts, the echo)
LANGUAGE = "language"


def _light(body: dict[str, Any]) -> None:
    """The first, ranking-only request of a hybrid search: ids, scores, languages and facets. The
    languages come from doc values: no ``_source`` read per hit (Elasticsearch 9.2, 60 hits by
    ids: ``took`` 3 ms with ``_source``, under 1 ms without)."""
    body.pop("highlight", None)
    body["_source"] = False
    body["docvalue_fields"] = [LANGUAGE]


def _language(hit: Mapping[str, Any]) -> str | None:
    """A keyword hit's language, from its doc values (:func:`_light`)."""
    value = ((hit.get("fields") or {}).get(LANGUAGE) or [None])[0]
    return value if isinstance(value, str) else None


def _hydrate(ids: list[str]) -> Callable[[dict[str, Any]], None]:
    """The last request of a hybrid search: sources and highlights of the fused ``ids``, through
    the index with the search's filters (a deleted or filtered-out neighbour drops out). Nothing
    is scored: the highlights bring their own queries (:func:`indexing.search.query._highlight`), and the keyword
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

#: with the engine's kNN, the page's sources and highlights come with the candidates' vectors
PAGE_WITH_VECTORS = True


def _page_hits(engine: Engine, index: str, request: SearchRequest, wanted: list[str],
               page: PageFetch | None) -> tuple[dict[str, dict[str, Any]], set[str], int]:
    """The hits (sources, highlights) of the fused page's ``wanted`` ids: those ``page`` brought
    with the candidates' vectors, the rest by the page's own request (:func:`_hydrate`). Returns
    them by id, every id asked for (one asked but missing was deleted or filtered out), and the
    page request's ``took`` (0 without one)."""
    by_id: dict[str, dict[str, Any]] = dict(page.hits) if page else {}
    fetched: set[str] = set(page.asked) if page else set()
    missing = [i for i in wanted if i not in fetched]
    if not missing:
        return by_id, fetched, 0
    resp, _ = run(engine, index, replace(request, facets=False), shape=_hydrate(missing))
    by_id |= {str(h["_id"]): h for h in resp.get("hits", {}).get("hits", [])}
    return by_id, fetched | set(missing), int(resp.get("took") or 0)


def _page_fetch(request: SearchRequest) -> PageFetch:
    """What the page needs of the candidates, asked with their vectors (:class:`knn.PageFetch`):
    the page request's body (:func:`_hydrate`: the search's filters, the highlights), its fields.
    The body is built once (expansion, clauses, highlights): each call copies only what
    :func:`_hydrate` changes."""
    from indexing.embeddings.knn import PageFetch

    base = replace(request, facets=False).body()

    def body(ids: list[str]) -> dict[str, Any]:
        out = {**base, "query": {**base["query"], "bool": dict(base["query"]["bool"])}}
        _hydrate(ids)(out)
        return out

    return PageFetch(body, SOURCE_FIELDS)


#: what the fusion asks of its candidates beyond their scores: ``features(ids, vectors, titles)``
#: -> (centred vectors, title scores), both by one request (:func:`retrieval.candidate_features`)
Features = Callable[[list[str], bool, bool], tuple[Mapping[str, "np.ndarray"], Mapping[str, float]]]


@dataclass
class _Plan:
    """What the fusion will need, known from the keyword ranking alone (before the vector side
    answers): its hits, the fusion's parameters (None: reciprocal rank fusion), whether the
    candidates' centred vectors (agreement with an anchor, the echo) and title scores (no
    anchor) are needed, and those fetched so far."""

    keyword: list[KeywordHit]
    params: FusionParams | None
    vectors: bool
    titles: bool
    known: dict[str, np.ndarray] = field(default_factory=dict)
    heads: dict[str, float] = field(default_factory=dict)
    asked: set[str] = field(default_factory=set)

    def fetch(self, ids: list[str], features: Features) -> None:
        """Fetch what is needed of those of ``ids`` not asked yet (one request, or none)."""
        new = [i for i in dict.fromkeys(ids) if i not in self.asked]
        if new and (self.vectors or self.titles):
            known, heads = features(new, self.vectors, self.titles)
            self.known.update(known)
            self.heads.update(heads)
        self.asked.update(new)


def _plan(first: Mapping[str, Any], expansion: Expansion, limits: SearchSettings) -> _Plan:
    """The fusion's :class:`_Plan` from the keyword ranking ``first`` (settings: ``search.fusion``)."""
    from indexing.embeddings.fusion import FusionParams, KeywordHit, anchor

    keyword = [KeywordHit(str(h["_id"]), float(h.get("_score") or 0.0), frozenset(h.get("matched_queries") or ()))
               for h in first.get("hits", {}).get("hits", [])]
    if limits.fusion == "rrf":
        return _Plan(keyword, None, vectors=False, titles=False)
    params = FusionParams(**limits.scoring.model_dump())
    centre = anchor(keyword, one_concept=expansion.one_concept)
    return _Plan(keyword, params, vectors=bool((centre and params.agreement) or params.echo),
                 titles=centre is None and bool(params.title))


def _fused(plan: _Plan, first: Mapping[str, Any], near: list[tuple[str, float]], expansion: Expansion,
           limits: SearchSettings, features: Features,
           languages: Callable[[list[str]], Mapping[str, str | None]]) -> Fused:
    """The keyword ranking (``first``, planned as ``plan``) fused with the vector neighbours;
    ``features`` gives the candidates' centred vectors and title scores the plan needs (those of
    the keyword hits were fetched while the vector side ran), ``languages`` the languages of
    those the keyword side's request did not bring (the echo)."""
    from indexing.embeddings.fusion import Fused, fuse
    from indexing.embeddings.retrieval import rrf

    keyword, params = plan.keyword, plan.params
    if params is None:
        return Fused(ranking=rrf([[h.id for h in keyword], [i for i, _ in near]], k=limits.rrf_k))
    plan.fetch([h.id for h in keyword] + [i for i, _ in near], features)
    # the keyword hits' languages (their names across scripts), and for the echo the neighbours'
    langs: dict[str, str | None] = {str(h["_id"]): _language(h) for h in first.get("hits", {}).get("hits", [])}
    if params.echo:
        langs |= {i: lang for i, lang in languages([i for i, _ in near if langs.get(i) is None]).items() if lang}
    return fuse(keyword, near, one_concept=expansion.one_concept, params=params,
                vectors=plan.known if plan.vectors else None, titles=plan.heads if plan.titles else None,
                languages=langs)


def hybrid_search(engine: Engine, index: str, request: SearchRequest, embedder: Embedder) -> SearchResult | None:
    """Keyword ranking fused with the vector neighbours by ``embedder``'s model (None when there
    are no neighbours).

    Filters hold exactly as for keyword search: the engine's kNN applies them itself, and the
    client-side matrix's neighbours (which know no filters) are all looked up through the
    index with the filters before the page is cut, so ``total`` and ``hits`` agree."""
    from indexing.embeddings.retrieval import candidate_features, candidate_languages, has_vectors, neighbours
    from indexing.embeddings.vectors import native_knn

    limits = request.limits
    if not has_vectors(engine, index, embedder):
        return None
    filters = request.filters()
    native = native_knn(engine, index)
    # The vector side (model, matrix product or kNN request) runs while the engine ranks by keyword.
    with ThreadPoolExecutor(max_workers=1) as pool:
        vector_side = pool.submit(neighbours, engine, index, request.query, k=limits.vector_candidates,
                                  filters=filters, embedder=embedder, timeout=limits.request_timeout)
        first, syntax = run(engine, index, replace(request, size=max(request.size, limits.vector_candidates)),
                            shape=_light)
        timeout = limits.request_timeout
        plan = _plan(first, request.expansion, limits)
        # With the engine's kNN, the requests for the candidates' vectors also bring what the page
        # needs of them (sources, highlights): no request for the page after the fusion.
        page = _page_fetch(request) if native and PAGE_WITH_VECTORS else None

        def features(ids: list[str], vectors: bool, titles: bool) -> tuple[dict[str, np.ndarray], dict[str, float]]:
            return candidate_features(engine, index, request.query, ids, embedder=embedder, vectors=vectors,
                                      titles=titles, timeout=timeout, page=page)

        # With the engine's kNN the keyword hits' vectors by a request while the vector side runs
        # (it takes longer): its own are left for after. Not with title scores (no anchor): they
        # need the query's vector (a second model run beside the vector side's for a new query),
        # and scored in two batches they would differ from one batch's in the last float bits.
        if native and not plan.titles:
            plan.fetch([h.id for h in plan.keyword], features)
        near = vector_side.result()
    if not near:
        return None
    fused = _fused(plan, first, near, request.expansion, limits, features,
                   lambda ids: page.languages(ids) if page else candidate_languages(engine, index, ids, embedder=embedder))
    size = request.size
    keyword_ids = {str(h["_id"]) for h in first.get("hits", {}).get("hits", [])}
    checked = bool(filters) and not native  # every candidate must pass the filters
    wanted = fused.ranking if checked else fused.page(size)[: size + HYDRATE_SLACK]
    by_id, fetched, took = _page_hits(engine, index, request, [i for i, _ in wanted], page)
    present = fused.page(size, lambda i: i in by_id or i not in fetched)
    hits = [parse_hit({**by_id[i], "_score": score}) for i, score in present if i in by_id][:size]
    extra = sum(1 for i, _ in present if i not in keyword_ids)
    return SearchResult(total=total_of(first) + extra, hits=hits,
                        facets=facets_of(first.get("aggregations") or {}) if request.facets else None,
                        took_ms=int(first.get("took") or 0) + took, query_syntax=syntax,
                        retrieval="hybrid", weak=fused.weak)


