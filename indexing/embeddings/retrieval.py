"""The vector half of hybrid retrieval: a query's nearest articles, and reciprocal rank fusion
(``search.fusion: rrf``; the default fusion by scores is :mod:`indexing.embeddings.fusion`).

``neighbours()`` embeds the query (cached: watches and repeated searches ask the same) and asks
the engine's kNN search for candidates where it has one (Elasticsearch ``dense_vector``:
:mod:`indexing.embeddings.knn`), else ranks the client-side matrix
(:mod:`indexing.embeddings.matrix`, core OpenSearch); both refine the cosine the same way. Anything that fails
on this side (no model installed, no vectors yet, a vector field missing) leaves search with
its keyword half and a logged warning: vectors are a bonus, never a new way to fail.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from indexing.embeddings import Embedder, EmbeddingError
from indexing.embeddings.vectors import native_knn
from indexing.engine import Engine, EngineError

if TYPE_CHECKING:
    from indexing.embeddings.knn import PageFetch

log = logging.getLogger(__name__)


def rrf(rankings: Sequence[Sequence[str]], *, k: int = 60,
        weights: Sequence[float] | None = None) -> list[tuple[str, float]]:
    """Reciprocal rank fusion: ``sum(w / (k + rank))`` over the rankings an id appears in, best first."""
    scores: dict[str, float] = {}
    for i, ranking in enumerate(rankings):
        w = weights[i] if weights else 1.0
        for rank, doc_id in enumerate(ranking, start=1):
            scores[doc_id] = scores.get(doc_id, 0.0) + w / (k + rank)
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))


#: recent query vectors by (model, query): watches and repeated searches ask the same
_QUERY_CACHE: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
QUERY_CACHE_SIZE = 512


def _query_vector(embedder: Embedder, query: str) -> np.ndarray:
    key = (embedder.name, query)
    vec = _QUERY_CACHE.get(key)
    if vec is None:
        vec = _QUERY_CACHE[key] = embedder.embed([query], query=True)[0]
        while len(_QUERY_CACHE) > QUERY_CACHE_SIZE:
            _QUERY_CACHE.popitem(last=False)
    else:
        _QUERY_CACHE.move_to_end(key)
    return vec


def query_vector(query: str, embedder: Embedder) -> np.ndarray:
    """The query's vector by ``embedder`` (cached by model and query)."""
    return _query_vector(embedder, " ".join(query.split()))


def has_vectors(engine: Engine, index: str, embedder: Embedder) -> bool:
    """Whether ``index`` may have vectors of ``embedder``'s model (cheap: no model run)."""
    if native_knn(engine, index):
        return True  # the kNN search itself says so
    from indexing.embeddings.matrix import matrix_for

    try:
        return len(matrix_for(engine, index, embedder.name, embedder.dim)) > 0
    except EngineError as exc:
        log.warning("vector search unavailable on %s: %s", index, exc)
        return False


def neighbours(engine: Engine, index: str, query: str, *, k: int,
               filters: Sequence[Mapping[str, Any]] = (), embedder: Embedder,
               timeout: float | None = None) -> list[tuple[str, float]]:
    """The ``k`` articles nearest to ``query`` as (id, score), best first; [] when there is no
    vector side. The score is the refined cosine (language-centred, with pseudo-relevance
    feedback) of the engine's kNN candidates (:func:`knn.refined_knn`) or of the client-side
    matrix (:meth:`VectorMatrix.nearest`). With client-side ranking ``filters`` are left to the
    caller (it fetches the candidates through the index with its filters)."""
    try:
        if native_knn(engine, index):
            from indexing.embeddings.knn import refined_knn

            return refined_knn(engine, index, embedder.name, query_vector(query, embedder), k=k,
                               filters=filters, timeout=timeout)
        from indexing.embeddings.matrix import matrix_for

        matrix = matrix_for(engine, index, embedder.name, embedder.dim)
        if not len(matrix):  # no vectors yet: spare the model
            return []
        return matrix.nearest(query_vector(query, embedder), k)
    except EngineError as exc:
        log.warning("vector search failed on %s, keyword results only: %s", index, exc)
        return []
    except EmbeddingError as exc:  # the model answered nothing usable for this query
        log.warning("no vector search: %s", exc)
        return []


def candidate_features(engine: Engine, index: str, query: str, ids: Sequence[str], *, embedder: Embedder,
                       vectors: bool = True, titles: bool = True, timeout: float | None = None,
                       page: PageFetch | None = None) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """What hybrid fusion needs of ``ids`` beyond their scores, both at once: ``vectors``, their
    language-centred unit vectors (cross-lingual agreement, the echo); ``titles``, the
    language-centred cosine of ``query``'s vector (cached: no model run again) with their title
    vectors (title closeness). From the client-side matrix in memory (no request), or with the
    engine's kNN by one ``ids`` request for both (:func:`knn.stored_features`), which also brings
    ``page``'s hits when given (with the client-side matrix ``page`` is left alone). Nothing ({})
    for what fails: bonuses, never a new way to fail."""
    if not ids or not (vectors or titles):
        return {}, {}
    try:
        vector = query_vector(query, embedder) if titles else None
        if native_knn(engine, index):
            from indexing.embeddings.knn import stored_features

            return stored_features(engine, index, embedder.name, embedder.dim, ids, vectors=vectors,
                                   title_query=vector, timeout=timeout, page=page)
        from indexing.embeddings.matrix import matrix_for

        matrix = matrix_for(engine, index, embedder.name, embedder.dim)
        return (matrix.centred(list(ids)) if vectors else {},
                matrix.title_scores(list(ids), vector) if vector is not None else {})
    except (EngineError, EmbeddingError) as exc:
        log.warning("no candidate vectors from %s, fusion without agreement, echo or title closeness: %s",
                    index, exc)
        return {}, {}


def candidate_vectors(engine: Engine, index: str, ids: Sequence[str], *, embedder: Embedder,
                      timeout: float | None = None) -> dict[str, np.ndarray]:
    """The language-centred unit vectors of ``ids`` (:func:`candidate_features` without titles)."""
    return candidate_features(engine, index, "", ids, embedder=embedder, titles=False, timeout=timeout)[0]


def title_scores(engine: Engine, index: str, query: str, ids: Sequence[str], *, embedder: Embedder,
                 timeout: float | None = None) -> dict[str, float]:
    """The title scores of ``ids`` for ``query`` (:func:`candidate_features` without vectors)."""
    return candidate_features(engine, index, query, ids, embedder=embedder, vectors=False, timeout=timeout)[1]


def candidate_languages(engine: Engine, index: str, ids: Sequence[str], *, embedder: Embedder) -> dict[str, str | None]:
    """The languages of ``ids`` (hybrid fusion's echo pairs only articles in two languages): from
    the client-side matrix in memory (no request); with the engine's kNN nothing ({}: hybrid
    search reads them off the candidates' vectors' request, ``knn.PageFetch.languages``, and the
    keyword hits' from its own request; a neighbour of unknown language is never echoed)."""
    try:
        if native_knn(engine, index):
            return {}
        from indexing.embeddings.matrix import matrix_for

        return matrix_for(engine, index, embedder.name, embedder.dim).languages(list(ids))
    except EngineError as exc:
        log.warning("no candidate languages from %s, fusion without echo: %s", index, exc)
        return {}
