"""Hybrid retrieval: the keyword ranking fused with the query's vector neighbours.

Three requests at most: a light keyword ranking (ids, scores, facets) while the vector side runs,
the fusion (:mod:`indexing.embeddings.fusion`, or reciprocal rank fusion), then the sources and
highlights of the fused page, through the index with the search's filters. The fusion's
cross-lingual agreement needs the candidates' vectors when the keyword side has an anchor, its
title closeness their title vectors when it has none, its echo the candidates' vectors and
languages always: in memory with the client-side matrix; with the engine's kNN small ``ids``
requests (the vectors, and without an anchor the title vectors).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from indexing.engine import Engine
from indexing.search.execute import run
from indexing.search.hits import SearchResult, facets_of, parse_hit, total_of
from indexing.search.query import Expansion, SearchRequest
from indexing.settings import SearchSettings

if TYPE_CHECKING:
    import numpy as np

    from indexing.embeddings import Embedder
    from indexing.embeddings.fusion import Fused


def _light(body: dict[str, Any]) -> None:
    """The first, ranking-only request of a hybrid search: ids, scores, languages and facets."""
    body.pop("highlight", None)
    body["_source"] = ["language"]


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


def _fused(first: Mapping[str, Any], near: list[tuple[str, float]], expansion: Expansion,
           limits: SearchSettings, vectors: Callable[[list[str]], Mapping[str, np.ndarray]],
           titles: Callable[[list[str]], Mapping[str, float]],
           languages: Callable[[list[str]], Mapping[str, str | None]]) -> Fused:
    """The keyword ranking (``first``) fused with the vector neighbours (settings: ``search.fusion``);
    ``vectors`` gives candidates' centred vectors (the agreement with an anchor, the echo),
    ``titles`` their title scores, asked only without an anchor, ``languages`` the languages of
    those the keyword side's request did not bring (the echo)."""
    from indexing.embeddings.fusion import Fused, FusionParams, KeywordHit, anchor, fuse
    from indexing.embeddings.retrieval import rrf

    hits = first.get("hits", {}).get("hits", [])
    keyword = [KeywordHit(str(h["_id"]), float(h.get("_score") or 0.0), frozenset(h.get("matched_queries") or ()))
               for h in hits]
    if limits.fusion == "rrf":
        return Fused(ranking=rrf([[h.id for h in keyword], [i for i, _ in near]], k=limits.rrf_k))
    params = FusionParams(**limits.scoring.model_dump())
    centre = anchor(keyword, one_concept=expansion.one_concept)
    ids = [h.id for h in keyword] + [i for i, _ in near]
    known = vectors(ids) if (centre and params.agreement) or params.echo else None
    heads = titles(ids) if centre is None and params.title else None
    # the keyword hits' languages (their names across scripts), and for the echo the neighbours'
    langs: dict[str, str | None] = {str(h["_id"]): (h.get("_source") or {}).get("language") for h in hits}
    if params.echo:
        langs |= {i: lang for i, lang in languages([i for i, _ in near if langs.get(i) is None]).items() if lang}
    return fuse(keyword, near, one_concept=expansion.one_concept, params=params, vectors=known, titles=heads,
                languages=langs)


def hybrid_search(engine: Engine, index: str, request: SearchRequest, embedder: Embedder) -> SearchResult | None:
    """Keyword ranking fused with the vector neighbours by ``embedder``'s model (None when there
    are no neighbours).

    Filters hold exactly as for keyword search: the engine's kNN applies them itself, and the
    client-side matrix's neighbours (which know no filters) are all looked up through the
    index with the filters before the page is cut, so ``total`` and ``hits`` agree."""
    from indexing.embeddings.retrieval import (
        candidate_languages,
        candidate_vectors,
        has_vectors,
        neighbours,
        title_scores,
    )
    from indexing.embeddings.vectors import native_knn

    limits = request.limits
    if not has_vectors(engine, index, embedder):
        return None
    filters = request.filters()
    # The vector side (model, matrix product or kNN request) runs while the engine ranks by keyword.
    with ThreadPoolExecutor(max_workers=1) as pool:
        vector_side = pool.submit(neighbours, engine, index, request.query, k=limits.vector_candidates,
                                  filters=filters, embedder=embedder, timeout=limits.request_timeout)
        first, syntax = run(engine, index, replace(request, size=max(request.size, limits.vector_candidates)),
                            shape=_light)
        near = vector_side.result()
    if not near:
        return None
    timeout = limits.request_timeout
    fused = _fused(first, near, request.expansion, limits,
                   lambda ids: candidate_vectors(engine, index, ids, embedder=embedder, timeout=timeout),
                   lambda ids: title_scores(engine, index, request.query, ids, embedder=embedder, timeout=timeout),
                   lambda ids: candidate_languages(engine, index, ids, embedder=embedder))
    size = request.size
    keyword_ids = {str(h["_id"]) for h in first.get("hits", {}).get("hits", [])}
    checked = bool(filters) and not native_knn(engine)  # every candidate must pass the filters
    wanted = fused.ranking if checked else fused.page(size)[: size + HYDRATE_SLACK]
    resp, _ = run(engine, index, replace(request, facets=False), shape=_hydrate([i for i, _ in wanted]))
    by_id = {str(h["_id"]): h for h in resp.get("hits", {}).get("hits", [])}
    fetched = {i for i, _ in wanted}
    present = fused.page(size, lambda i: i in by_id or i not in fetched)
    hits = [parse_hit({**by_id[i], "_score": score}) for i, score in present if i in by_id][:size]
    extra = sum(1 for i, _ in present if i not in keyword_ids)
    return SearchResult(total=total_of(first) + extra, hits=hits,
                        facets=facets_of(first.get("aggregations") or {}) if request.facets else None,
                        took_ms=int(first.get("took") or 0) + int(resp.get("took") or 0), query_syntax=syntax,
                        retrieval="hybrid", weak=fused.weak)


