"""Vectors in the search engine: how a document stores them, the field that holds them, and the
engine's own kNN search where it has one.

Elasticsearch has ``dense_vector`` and kNN search in the server. Core OpenSearch has no vector
type: there vectors are kept in ``_source`` as a non-indexed ``binary`` field (base64 of
little-endian float16) and ranked client-side (:mod:`indexing.embeddings.matrix`), which does not
carry past a few hundred thousand articles. OpenSearch with its k-NN plugin (``opensearch-knn``:
the local node's ``opensearch-knn`` engine, AWS's managed service, most clusters) has
``knn_vector`` and a ``knn`` query: an articles index created there gets ``index.knn: true``
(:func:`knn_settings`), its vector field is mapped as ``knn_vector`` (HNSW on Lucene, cosine) and
searched in the server like Elasticsearch's. An index created before the plugin keeps its
``binary`` field and the client-side matrix (``warwatch es migrate`` copies that kind along);
an alias counts as searchable in the server only when every index behind it is
(:func:`native_knn`). :class:`indexing.engine.Engine` stays a thin adapter over the clients;
everything here takes one.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
import weakref
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from indexing.engine import Engine, EngineError

log = logging.getLogger(__name__)

#: engines that refused ``_source.exclude_vectors`` (search_with_vectors): asked without it since
_NO_EXCLUDE_VECTORS: weakref.WeakSet[Engine] = weakref.WeakSet()

#: the OpenSearch plugin with vector fields and kNN search in the server
KNN_PLUGIN = "opensearch-knn"
#: its HNSW graph: Lucene's (the plugin's faiss engine needs native libraries that a plugin zip may
#: lack: a faiss field stopped the local node), cosine; m and ef_construction the plugin's defaults
KNN_METHOD: dict[str, Any] = {"name": "hnsw", "engine": "lucene", "space_type": "cosinesimil",
                              "parameters": {"m": 16, "ef_construction": 100}}
#: the vector field types searched in the server
SEARCHABLE_TYPES = frozenset({"dense_vector", "knn_vector"})
#: Lucene's ``ef_search`` per kNN candidate asked (OpenSearch): at 1M articles on 21 segments, 200
#: candidates found 0.79 of the exact top 30 at ef_search 200 and 0.91 at 800 (17 ms p50 ``took``),
#: benchmarks/README.md "OpenSearch's own kNN"
EF_SEARCH_PER_CANDIDATE = 2
#: how long whether an index's vectors are searchable in the server is remembered (seconds)
KIND_TTL = 60.0

#: how long a cluster that would not list its plugins counts as without the k-NN plugin (seconds)
PLUGINS_RETRY = 600.0
#: per engine: (asked again after, has the plugin)
_PLUGIN: weakref.WeakKeyDictionary[Engine, tuple[float, bool]] = weakref.WeakKeyDictionary()
_KINDS: weakref.WeakKeyDictionary[Engine, dict[tuple[str, str], tuple[float, bool]]] = weakref.WeakKeyDictionary()
_KINDS_LOCK = threading.Lock()


def knn_plugin(engine: Engine) -> bool:
    """Whether ``engine`` is OpenSearch with the k-NN plugin (asked once per engine). A cluster
    that will not say (a role without cluster monitoring, a node down) counts as without it for
    :data:`PLUGINS_RETRY` seconds, with one warning: the client-side matrix works anyway."""
    if engine.flavor != "opensearch":
        return False
    known = _PLUGIN.get(engine)
    if known is not None and (known[1] or time.monotonic() < known[0]):
        return known[1]
    try:
        found = KNN_PLUGIN in engine.plugins()
    except EngineError as exc:
        if known is None:
            log.warning("cannot list the plugins of %s (%s): no kNN in the server, vectors ranked client-side",
                        engine, exc)
        _PLUGIN[engine] = (time.monotonic() + PLUGINS_RETRY, False)
        return False
    _PLUGIN[engine] = (float("inf"), found)
    return found


def knn_settings(engine: Engine) -> dict[str, Any]:
    """The ``index`` settings an articles index needs for vector search in the server, where
    OpenSearch has the k-NN plugin (nothing elsewhere): ``knn`` (a creation-time setting), and
    from OpenSearch 3 ``knn.derived_source.enabled: false``. Derived source (the vectors left out
    of the stored ``_source`` and rebuilt when read, the default in 3.5) failed every read of the
    vector field on the local node ("all shards failed", no cause given; a force merge cured it)
    once the articles, indexed first, had their vectors written by updates as the embedding stage
    writes them: ``_source`` keeps the vectors as sent instead (~4 KB a 384-float vector)."""
    if not knn_plugin(engine):
        return {}
    return {"knn": True, **({"knn.derived_source.enabled": False} if engine.server.major >= 3 else {})}


def native_knn(engine: Engine, index: str | None = None) -> bool:
    """Whether ``index``'s vectors are searched by the engine's kNN: always on Elasticsearch; on
    OpenSearch when every index behind ``index`` maps the vector field as the k-NN plugin's
    ``knn_vector`` (remembered :data:`KIND_TTL` seconds; without ``index``: no)."""
    if engine.flavor == "elasticsearch":
        return True
    if index is None or not knn_plugin(engine):
        return False
    from indexing.index.templates import EMBEDDING_FIELD

    key, now = (index, EMBEDDING_FIELD), time.monotonic()
    with _KINDS_LOCK:
        cached = _KINDS.setdefault(engine, {}).get(key)
    if cached is not None and now - cached[0] < KIND_TTL:
        return cached[1]
    try:
        types = field_types(engine, index, EMBEDDING_FIELD)
    except EngineError as exc:
        log.warning("cannot read the mapping of %s, no kNN in the server for now: %s", index, exc)
        return False
    searchable = bool(types) and all(t == "knn_vector" for t in types.values())
    with _KINDS_LOCK:
        kinds = _KINDS.setdefault(engine, {})
        if len(kinds) >= 256:  # indices and aliases searched: a few; a bound all the same
            kinds.clear()
        kinds[key] = (now, searchable)
    return searchable


def field_types(engine: Engine, index: str, field: str) -> dict[str, str | None]:
    """``field``'s mapped type in each concrete index behind ``index`` (None where unmapped)."""
    return {name: ((spec.get("mappings", {}).get("properties") or {}).get(field) or {}).get("type")
            for name, spec in engine.get_mapping(index).items()}


def vector_mapping(engine: Engine, dim: int, *, searchable: bool = True, knn_index: bool = False) -> dict[str, Any]:
    """The mapping of a vector field; ``searchable=False``: stored for reading back, no kNN graph;
    ``knn_index``: the index has OpenSearch's ``index.knn`` (a ``knn_vector`` field is possible)."""
    if engine.flavor == "elasticsearch":
        if not searchable:
            return {"type": "dense_vector", "dims": dim, "index": False}
        return {"type": "dense_vector", "dims": dim, "index": True, "similarity": "cosine"}
    if knn_index and searchable:
        return {"type": "knn_vector", "dimension": dim, "method": KNN_METHOD}
    return {"type": "binary"}


def encode_vector(engine: Engine, vector: Sequence[float], *, floats: bool | None = None) -> Any:
    """A vector as the document stores it: floats for a vector field searched in the server
    (``floats``; default: on Elasticsearch), else base64 of little-endian float16 (768 bytes for
    384 dimensions)."""
    if floats if floats is not None else engine.flavor == "elasticsearch":
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


def ensure_vector_field(engine: Engine, index: str, field: str, dim: int, *,
                        searchable: bool = True) -> dict[str, bool]:
    """Map ``field`` for vectors of ``dim`` dimensions in ``index`` (and every index behind it,
    for an alias) unless it is mapped already; a different size is an error (a new model needs a
    new index: ``warwatch es migrate``). Returns, per concrete index, whether the field takes
    floats (:func:`encode_vector`'s ``floats``): a searchable field of an OpenSearch index with
    ``index.knn`` becomes a ``knn_vector``, one of an index without it stays ``binary``."""
    knn_on: dict[str, Any] = {}
    if knn_plugin(engine) and searchable:
        knn_on = engine.index_setting(index, "index.knn")
    forms: dict[str, bool] = {}
    for name, spec in engine.get_mapping(index).items():
        live = (spec.get("mappings", {}).get("properties") or {}).get(field)
        if live is None:
            live = vector_mapping(engine, dim, searchable=searchable,
                                  knn_index=str(knn_on.get(name)).lower() == "true")
            engine.put_mapping(name, {"properties": {field: live}})
        size = live.get("dims", live.get("dimension"))
        if live.get("type") in SEARCHABLE_TYPES and int(size or dim) != dim:
            raise EngineError(f"{name}.{field} holds {size}-dimensional vectors, the embedder "
                              f"makes {dim}: migrate to a new index for the new model")
        forms[name] = live.get("type") in SEARCHABLE_TYPES
    with _KINDS_LOCK:
        _KINDS.pop(engine, None)  # what native_knn remembered may have changed
    return forms


def carry_vector_fields(engine: Engine, sources: str, target: str, fields: Sequence[str]) -> None:
    """Map the vector ``fields`` in ``target`` (every index behind it) as ``sources`` map them,
    before a migration copies documents there: a vector copied into an index that does not map
    its field stays in ``_source`` only (``dynamic: false``), outside the kNN graph, and the
    embedding stage never writes it again (the article counts as embedded). Sources that map a
    field differently (another model's size, a ``binary`` field beside a ``knn_vector``) are an
    error: the copy could not index both."""
    mappings = engine.get_mapping(sources)
    for field in fields:
        specs = {json.dumps(spec, sort_keys=True): spec for m in mappings.values()
                 if (spec := (m.get("mappings", {}).get("properties") or {}).get(field))}
        if len(specs) > 1:
            raise EngineError(f"{sources} map {field} in {len(specs)} different ways "
                              f"({', '.join(sorted(specs))}): migrate indices of one kind at a time")
        for spec in specs.values():
            for name, kind in field_types(engine, target, field).items():
                if kind is None:
                    engine.put_mapping(name, {"properties": {field: spec}})
    with _KINDS_LOCK:
        _KINDS.pop(engine, None)


def knn(engine: Engine, index: str, field: str, vector: Sequence[float], *, k: int,
        filters: Sequence[Mapping[str, Any]] = (), timeout: float | None = None) -> list[tuple[str, float]]:
    """The ``k`` nearest documents by the engine's kNN search (:func:`native_knn` engines only)."""
    return [(str(h["_id"]), float(h.get("_score") or 0.0))
            for h in knn_hits(engine, index, field, vector, k=k, filters=filters, timeout=timeout)]


def knn_body(engine: Engine, field: str, vector: Sequence[float], *, k: int,
             filters: Sequence[Mapping[str, Any]] = (), rescore: float | None = None,
             num_candidates: int | None = None) -> dict[str, Any]:
    """A kNN search for the ``k`` nearest to ``vector`` within ``filters``: Elasticsearch's
    top-level ``knn`` (``num_candidates`` per shard, ``rescore``: see :func:`knn_hits`), or the
    OpenSearch plugin's ``knn`` query (the filter inside it, applied while the graph is searched;
    ``ef_search`` :data:`EF_SEARCH_PER_CANDIDATE` times ``num_candidates``; Lucene's vectors are
    floats, so no rescoring).
    Both score ``(1 + cos) / 2``."""
    vec = [float(x) for x in vector]
    candidates = num_candidates or max(k * 4, 100)
    if engine.flavor == "opensearch":
        clause: dict[str, Any] = {"vector": vec, "k": k, "method_parameters": {"ef_search": max(EF_SEARCH_PER_CANDIDATE * candidates, k)}}
        if filters:
            clause["filter"] = {"bool": {"filter": list(filters)}}
        return {"query": {"knn": {field: clause}}, "size": k}
    request: dict[str, Any] = {"field": field, "query_vector": vec, "k": k, "num_candidates": candidates}
    if filters:
        request["filter"] = list(filters)
    if rescore is not None:
        request["rescore_vector"] = {"oversample": rescore}
    return {"knn": request, "size": k}


def knn_hits(engine: Engine, index: str, field: str, vector: Sequence[float], *, k: int,
             filters: Sequence[Mapping[str, Any]] = (), source: Sequence[str] = (), vectors: bool = True,
             rescore: float | None = None, num_candidates: int | None = None,
             timeout: float | None = None) -> list[dict[str, Any]]:
    """The hits of the engine's kNN search (:func:`knn_body`), with the ``source`` fields of each
    (vector fields included, :func:`search_with_vectors`, unless ``vectors`` is false: costly on
    Elasticsearch 9). ``rescore``: gather that many times ``k`` by the quantized vectors, score
    them by the stored floats (``rescore_vector``, Elasticsearch 9: the hits' scores are then
    exact cosines). Without vectors the ``source`` fields come from doc values (each hit's
    ``fields``): no ``_source`` read and parsed per hit (8 of 38 ms for 200 hits at 1M articles)."""
    if not native_knn(engine, index):
        raise EngineError(f"no vector search in the server for {index} on {engine.flavor} {engine.server.version}")
    body = knn_body(engine, field, vector, k=k, filters=filters, rescore=rescore, num_candidates=num_candidates)
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
    are in ``_source`` as sent; the refusal is remembered, one extra request per engine).
    OpenSearch has no such option: its ``_source`` holds vectors (the k-NN plugin's derived
    source rebuilds them)."""
    if engine.flavor == "elasticsearch" and engine not in _NO_EXCLUDE_VECTORS:
        try:
            return engine.search(index, {**body, "_source": {"includes": list(fields), "exclude_vectors": False}},
                                 request_timeout=timeout)
        except EngineError as exc:
            if exc.status != 400 or "exclude_vectors" not in f"{exc} {exc.info}":
                raise
            _NO_EXCLUDE_VECTORS.add(engine)
    return engine.search(index, {**body, "_source": list(fields)}, request_timeout=timeout)
