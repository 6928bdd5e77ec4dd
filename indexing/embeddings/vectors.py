"""Vectors in the search engine: how a document stores them, the field that holds them, and the
engine's own kNN search where it has one.

Elasticsearch has ``dense_vector`` and kNN search in the server. Core OpenSearch 3.8 has no
vector type (its k-NN plugin is not published for 3.8.0): there vectors are kept in ``_source``
as a non-indexed ``binary`` field (base64 of little-endian float16) and ranked client-side
(:mod:`indexing.embeddings.matrix`). :class:`indexing.engine.Engine` stays a thin adapter over
the clients; everything here takes one.
"""

from __future__ import annotations

import base64
import weakref
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from indexing.engine import Engine, EngineError

#: engines that refused ``_source.exclude_vectors`` (search_with_vectors): asked without it since
_NO_EXCLUDE_VECTORS: weakref.WeakSet[Engine] = weakref.WeakSet()


def native_knn(engine: Engine) -> bool:
    """Whether ``engine`` has vector fields and kNN search in the server (Elasticsearch)."""
    return engine.flavor == "elasticsearch"


def vector_mapping(engine: Engine, dim: int, *, searchable: bool = True) -> dict[str, Any]:
    """The mapping of a vector field; ``searchable=False``: stored for reading back, no kNN graph."""
    if native_knn(engine):
        if not searchable:
            return {"type": "dense_vector", "dims": dim, "index": False}
        return {"type": "dense_vector", "dims": dim, "index": True, "similarity": "cosine"}
    return {"type": "binary"}


def encode_vector(engine: Engine, vector: Sequence[float]) -> Any:
    """A vector as the document stores it: floats for ``dense_vector``, else base64 of
    little-endian float16 (768 bytes for 384 dimensions)."""
    if native_knn(engine):
        return [round(float(x), 6) for x in vector]
    return base64.b64encode(np.asarray(vector, dtype="<f2").tobytes()).decode("ascii")


def decode(value: Any, dim: int) -> np.ndarray | None:
    """A stored vector (either form :func:`encode_vector` writes) as float32, or None when it is
    not a vector of ``dim`` dimensions."""
    if isinstance(value, str):
        try:
            vec = np.frombuffer(base64.b64decode(value), dtype="<f2").astype(np.float32)
        except ValueError:
            return None
    elif isinstance(value, list):
        vec = np.asarray(value, dtype=np.float32)
    else:
        return None
    return vec if vec.shape == (dim,) else None


def ensure_vector_field(engine: Engine, index: str, field: str, dim: int, *, searchable: bool = True) -> None:
    """Map ``field`` for vectors of ``dim`` dimensions in ``index`` (and every index behind
    it, for an alias) unless it is mapped already; a different size is an error (a new model
    needs a new index: ``warwatch es migrate``)."""
    for name, spec in engine.get_mapping(index).items():
        live = (spec.get("mappings", {}).get("properties") or {}).get(field)
        if live is None:
            engine.put_mapping(name, {"properties": {field: vector_mapping(engine, dim, searchable=searchable)}})
        elif live.get("type") == "dense_vector" and int(live.get("dims") or dim) != dim:
            raise EngineError(f"{name}.{field} holds {live.get('dims')}-dimensional vectors, the embedder "
                              f"makes {dim}: migrate to a new index for the new model")


def knn(engine: Engine, index: str, field: str, vector: Sequence[float], *, k: int,
        filters: Sequence[Mapping[str, Any]] = (), timeout: float | None = None) -> list[tuple[str, float]]:
    """The ``k`` nearest documents by the engine's kNN search (Elasticsearch only)."""
    return [(str(h["_id"]), float(h.get("_score") or 0.0))
            for h in knn_hits(engine, index, field, vector, k=k, filters=filters, timeout=timeout)]


def knn_hits(engine: Engine, index: str, field: str, vector: Sequence[float], *, k: int,
             filters: Sequence[Mapping[str, Any]] = (), source: Sequence[str] = (), vectors: bool = True,
             rescore: float | None = None, num_candidates: int | None = None,
             timeout: float | None = None) -> list[dict[str, Any]]:
    """The hits of the engine's kNN search, with the ``source`` fields of each (vector fields
    included, :func:`search_with_vectors`, unless ``vectors`` is false: costly on Elasticsearch 9).
    ``rescore``: gather that many times ``k`` by the quantized vectors, score them by the stored
    floats (``rescore_vector``, Elasticsearch 9: the hits' scores are then exact cosines).
    Without vectors the ``source`` fields come from doc values (each hit's ``fields``): no
    ``_source`` read and parsed per hit (8 of 38 ms for 200 hits at 1M articles)."""
    if not native_knn(engine):
        raise EngineError(f"{engine.flavor} {engine.server.version} has no vector search in the server")
    request: dict[str, Any] = {"field": field, "query_vector": [float(x) for x in vector], "k": k,
                               "num_candidates": num_candidates or max(k * 4, 100)}
    if filters:
        request["filter"] = list(filters)
    if rescore is not None:
        request["rescore_vector"] = {"oversample": rescore}
    body: dict[str, Any] = {"knn": request, "size": k}
    if source and not vectors:
        resp = engine.search(index, {**body, "_source": False, "docvalue_fields": list(source)},
                             request_timeout=timeout)
    elif source:
        resp = search_with_vectors(engine, index, body, source, timeout=timeout)
    else:
        resp = engine.search(index, {**body, "_source": False}, request_timeout=timeout)
    return list(resp.get("hits", {}).get("hits", []))


def search_with_vectors(engine: Engine, index: str, body: Mapping[str, Any], fields: Sequence[str], *,
                        timeout: float | None = None) -> dict[str, Any]:
    """``engine.search`` with ``fields`` in each hit's ``_source``, vector fields included:
    Elasticsearch 9.2 leaves vectors out of ``_source`` unless the request says
    ``exclude_vectors: false``, which an engine before that option refuses (there the vectors
    are in ``_source`` as sent; the refusal is remembered, one extra request per engine)."""
    if engine not in _NO_EXCLUDE_VECTORS:
        try:
            return engine.search(index, {**body, "_source": {"includes": list(fields), "exclude_vectors": False}},
                                 request_timeout=timeout)
        except EngineError as exc:
            if exc.status != 400 or "exclude_vectors" not in f"{exc} {exc.info}":
                raise
            _NO_EXCLUDE_VECTORS.add(engine)
    return engine.search(index, {**body, "_source": list(fields)}, request_timeout=timeout)
