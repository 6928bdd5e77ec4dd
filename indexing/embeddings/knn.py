"""The vector side on an engine with kNN search in the server (Elasticsearch): the engine finds
the candidates by plain cosine, the client refines them as the client-side matrix does
(:func:`indexing.embeddings.refine.rescore`: language centring, pseudo-relevance feedback).

Vectors in a response are costly on Elasticsearch 9 (it rebuilds each hit's ``_source`` with
its vector; 200 candidates' floats are ~0.8 MB of JSON to parse): the candidates come with their
score and language only, the cosine is read off the score (``cosine`` similarity: (1 + cos) / 2),
and the feedback step asks for the vectors of its :data:`~indexing.embeddings.refine.FEEDBACK`
best candidates, then for the refined query's cosines with every candidate (a kNN request
restricted to their ids: exact, the engine scores only them). Same scores as
:func:`refine.rescore` over the candidates' vectors, a few vectors moved instead of 200.

Centring needs each
language's mean vector over the index, which a kNN response cannot give: it is estimated from a
uniform sample of :data:`MEANS_SAMPLE` embedded articles (one request, repeated at most every
:data:`MEANS_TTL` seconds per index and model), shrunk towards the overall mean as the matrix does.
The sample is drawn by a seeded random score, so every search process draws the same one (the same
means, the same rankings) and it spans the whole index: the most recently embedded articles would
be one batch's, of one site's languages (on the world corpus of ``benchmarks/search_world.py`` they
cost b precision 0.628 -> 0.605 against exact means; a uniform sample gave 0.628 and 0.651 with two
seeds).
Without the feedback vectors (an older engine that cannot return them), the centred first
scores are returned. The fused candidates' vectors and title vectors (hybrid fusion's agreement,
echo and title closeness) are read by one ``ids`` request for both (:func:`stored_features`),
title vectors centred by their own language means, estimated the same way.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any

import numpy as np

from indexing.embeddings.refine import FEEDBACK, FEEDBACK_WEIGHT, best, centred_unit, shrunk_means
from indexing.embeddings.titles import centred_scores
from indexing.embeddings.vectors import decode, knn_hits, search_with_vectors
from indexing.engine import Engine
from indexing.index.templates import EMBEDDING_FIELD, TITLE_EMBEDDING_FIELD

log = logging.getLogger(__name__)

#: candidates the engine returns per query, re-ranked client-side (at least the k asked for)
CANDIDATES = 200
#: ``rescore_vector`` of the refined path's kNN requests: the hits' scores must be exact cosines
#: (int8/int4 indices are not rescored by default); 3 is Elasticsearch's default for bbq_hnsw, the
#: default index type of 384-dimensional vectors, so its recall is unchanged
RESCORE = 3.0
#: HNSW candidates per shard for the CANDIDATES (Elasticsearch's num_candidates): at 1M articles
#: (one segment, bbq_hnsw) 800 took 28 ms, 400 17 ms, 200 12 ms (benchmarks/README.md)
NUM_CANDIDATES = 2 * CANDIDATES
#: articles the language means are estimated from, and how long an estimate is kept (seconds)
MEANS_SAMPLE = 1000
#: the sample's seed (fixed: every process draws the same articles while the index is unchanged)
MEANS_SEED = 7
MEANS_TTL = 600.0
_SOURCE = [EMBEDDING_FIELD, "language"]


def _decode(hit: Mapping[str, Any], dim: int, field: str = EMBEDDING_FIELD) -> tuple[np.ndarray | None, str | None]:
    src = hit.get("_source") or {}
    lang = src.get("language")
    return decode(src.get(field), dim), lang if isinstance(lang, str) else None


class LanguageMeans:
    """Per language, the mean vector (of ``field``) of a uniform sample of the index's articles (cached).

    The first search of an index and model waits for the estimate (~0.3-0.45 s at 1M articles on
    Elasticsearch); once it is older than ``ttl`` a search gets it at once and a thread of its own
    draws the next one (``background=False``: the search waits, as the first does)."""

    def __init__(self, ttl: float = MEANS_TTL, clock: Callable[[], float] = time.monotonic,
                 field: str = EMBEDDING_FIELD, background: bool = True) -> None:
        self.ttl, self._clock, self.field, self.background = ttl, clock, field, background
        self._cache: dict[tuple[str, str], tuple[float, dict[str | None, int], np.ndarray]] = {}
        self._lock = threading.Lock()  # the cache and the refreshes in flight
        self._first = threading.Lock()  # one first estimate at a time (concurrent first searches wait for it)
        self._refreshing: set[tuple[str, str]] = set()
        self.refresher: threading.Thread | None = None  # the last background refresh started

    def get(
        self, engine: Engine, index: str, model: str, dim: int
    ) -> tuple[dict[str | None, int], np.ndarray]:
        """(language -> row, means): row 0 (language None, or one the sample lacks) is the overall mean."""
        key = (index, model)
        with self._lock:
            cached = self._cache.get(key)
            stale = cached is not None and self._clock() - cached[0] >= self.ttl
            refresh = stale and self.background and key not in self._refreshing
            if refresh:
                self._refreshing.add(key)
        if refresh:
            self.refresher = threading.Thread(target=self._refresh, args=(engine, key, dim), daemon=True,
                                              name=f"language-means-{index}")
            self.refresher.start()
        if cached is not None and (not stale or self.background):
            return cached[1], cached[2]
        with self._first:
            with self._lock:
                cached = self._cache.get(key)
            if cached is None or self._clock() - cached[0] >= self.ttl:
                cached = (self._clock(), *self._estimate(engine, index, model, dim))
                with self._lock:
                    self._cache[key] = cached
        return cached[1], cached[2]

    def _refresh(self, engine: Engine, key: tuple[str, str], dim: int) -> None:
        try:
            estimate = self._estimate(engine, key[0], key[1], dim)
            with self._lock:
                self._cache[key] = (self._clock(), *estimate)
        except Exception as exc:  # noqa: BLE001 - a failed refresh keeps the last estimate
            log.warning("language means of %s not refreshed (the last estimate stays): %s", key[0], exc)
            with self._lock:
                old = self._cache[key]
                self._cache[key] = (self._clock(), old[1], old[2])  # tried again after another ttl
        finally:
            with self._lock:
                self._refreshing.discard(key)

    def _estimate(
        self, engine: Engine, index: str, model: str, dim: int
    ) -> tuple[dict[str | None, int], np.ndarray]:
        embedded = {"bool": {"filter": [{"term": {"embedding_model": model}}]}}
        body = {
            # _seq_no: a field every document has, with doc values on both engines
            "query": {"function_score": {"query": embedded, "boost_mode": "replace",
                                         "random_score": {"seed": MEANS_SEED, "field": "_seq_no"}}},
            "size": MEANS_SAMPLE,
            "track_total_hits": False,
        }
        rows: dict[str | None, int] = {None: 0}
        sums, counts = [np.zeros(dim)], [0.0]
        for hit in search_with_vectors(engine, index, body, [self.field, "language"]).get("hits", {}).get("hits", []):
            vec, lang = _decode(hit, dim, self.field)
            if vec is None:
                continue
            if lang not in rows:
                rows[lang] = len(sums)
                sums.append(np.zeros(dim))
                counts.append(0.0)
            sums[rows[lang]] += vec
            counts[rows[lang]] += 1.0
        return rows, shrunk_means(np.stack(sums), np.asarray(counts))


_MEANS = LanguageMeans()
_TITLE_MEANS = LanguageMeans(field=TITLE_EMBEDDING_FIELD)


def _cosines(hits: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """Each hit's cosine from its ``cosine``-similarity score, (1 + cos) / 2."""
    return {str(h["_id"]): 2.0 * float(h.get("_score") or 0.0) - 1.0 for h in hits}


@dataclass
class PageFetch:
    """What a search's result page needs of its candidates (their sources and highlights, read
    through the search's filters), asked for by the same request as their vectors: a hybrid
    search then needs no request of its own for the page after the fusion
    (:mod:`indexing.search.hybrid`). ``body(ids)`` is the page's request body for ``ids`` (its
    ``_source`` is replaced), ``source`` the fields the page reads; the hits come into ``hits``
    by id, and every id asked for into ``asked`` (a hit missing there was deleted or filtered
    out)."""

    body: Callable[[list[str]], dict[str, Any]]
    source: Sequence[str]
    hits: dict[str, dict[str, Any]] = dataclass_field(default_factory=dict)
    asked: set[str] = dataclass_field(default_factory=set)

    def languages(self, ids: Sequence[str]) -> dict[str, str | None]:
        """The languages of those of ``ids`` fetched so far (hybrid fusion's echo: the kNN
        response does not say them, the candidates' vectors' request does)."""
        langs = {i: (self.hits[i].get("_source") or {}).get("language") for i in ids if i in self.hits}
        return {i: lang if isinstance(lang, str) else None for i, lang in langs.items()}


def _stored(engine: Engine, index: str, ids: Sequence[str], fields: Sequence[str], dim: int,
            timeout: float | None, page: PageFetch | None = None) -> dict[str, list[tuple[str, np.ndarray, str | None]]]:
    """Per field of ``fields``: (id, stored vector, language) of those of ``ids`` that have one,
    all by one ``ids`` request (which also fetches ``page``'s hits, when given)."""
    wanted = list(dict.fromkeys(ids))
    if not wanted or not fields:
        return {f: [] for f in fields}
    body: dict[str, Any] = {"query": {"ids": {"values": wanted}}, "size": len(wanted), "track_total_hits": False}
    include = [*fields, "language"]
    if page is not None:
        body = {k: v for k, v in page.body(wanted).items() if k != "_source"}
        include = list(dict.fromkeys([*include, *page.source]))
    hits = search_with_vectors(engine, index, body, include, timeout=timeout).get("hits", {}).get("hits", [])
    if page is not None:
        page.asked.update(wanted)
        page.hits.update((str(h["_id"]), h) for h in hits)
    out: dict[str, list[tuple[str, np.ndarray, str | None]]] = {}
    for field in fields:
        decoded = [(str(h["_id"]), *_decode(h, dim, field)) for h in hits]
        out[field] = [(i, v, lang) for i, v, lang in decoded if v is not None]
    return out


def _feedback_query(engine: Engine, index: str, ids: Sequence[str], query: np.ndarray,
                    timeout: float | None) -> np.ndarray | None:
    """The query plus the mean of the stored vectors of ``ids`` (:func:`refine.rescore`'s
    feedback), unit length; None when they did not come back."""
    vecs = [v for _, v, _ in _stored(engine, index, ids, [EMBEDDING_FIELD], len(query), timeout)[EMBEDDING_FIELD]]
    if len(vecs) < len(ids):
        return None
    refined = query + FEEDBACK_WEIGHT * np.mean(vecs, axis=0)
    return np.asarray(refined / (np.linalg.norm(refined) or 1.0), dtype=np.float32)


def refined_knn(
    engine: Engine,
    index: str,
    model: str,
    vector: np.ndarray,
    *,
    k: int,
    filters: Sequence[Mapping[str, Any]] = (),
    timeout: float | None = None,
    means: LanguageMeans = _MEANS,
    feedback: int = FEEDBACK,
) -> list[tuple[str, float]]:
    """The ``k`` articles nearest to ``vector`` as (id, score), best first: the engine's
    :data:`CANDIDATES` nearest by cosine (within ``filters``), re-scored with centring and
    ``feedback`` (the module docstring says how, without moving their vectors)."""
    query = np.asarray(vector, dtype=np.float32)
    query = query / (np.linalg.norm(query) or 1.0)
    hits = knn_hits(engine, index, EMBEDDING_FIELD, query.tolist(), k=max(k, CANDIDATES), filters=filters,
                    source=["language"], vectors=False, rescore=RESCORE,
                    num_candidates=max(NUM_CANDIDATES, 2 * k), timeout=timeout)
    if not hits:
        return []
    ids = [str(h["_id"]) for h in hits]
    rows, lang_means = means.get(engine, index, model, len(query))
    langs = np.asarray([rows.get(((h.get("fields") or {}).get("language") or [None])[0], 0) for h in hits],
                       dtype=np.intp)

    def centred(q: np.ndarray, cosines: dict[str, float]) -> np.ndarray:
        return np.asarray([cosines.get(i, -2.0) for i in ids]) - (lang_means @ q)[langs]

    scores = centred(query, _cosines(hits))
    refined = _feedback_query(engine, index, [ids[i] for i in best(scores, feedback)], query, timeout) \
        if feedback > 0 else None
    if refined is not None:
        again = knn_hits(engine, index, EMBEDDING_FIELD, refined.tolist(), k=len(ids),
                         filters=[*filters, {"ids": {"values": ids}}], rescore=RESCORE, timeout=timeout)
        scores = centred(refined, _cosines(again))
    return [(ids[i], float(scores[i])) for i in best(scores, k)]


def _with_means(
    engine: Engine, index: str, model: str, dim: int, usable: list[tuple[str, np.ndarray, str | None]],
    means: LanguageMeans,
) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray] | None:
    """``usable`` (id, stored vector of ``means.field``, language) as (their ids, the vectors,
    each one's row of the language means, the means); None when there is none."""
    if not usable:
        return None
    rows, lang_means = means.get(engine, index, model, dim)
    data = np.stack([v for _, v, _ in usable]).astype(np.float32)
    langs = np.asarray([rows.get(lang, 0) for _, _, lang in usable], dtype=np.intp)
    return [i for i, _, _ in usable], data, langs, lang_means


def stored_features(
    engine: Engine, index: str, model: str, dim: int, ids: Sequence[str], *, vectors: bool,
    title_query: np.ndarray | None, timeout: float | None = None, means: LanguageMeans = _MEANS,
    title_means: LanguageMeans = _TITLE_MEANS, page: PageFetch | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """For hybrid fusion, by one ``ids`` request (the kNN response does not carry the keyword
    side's hits; a second request would be one more round trip while the search waits):
    ``vectors``: the language-centred unit vectors of ``ids`` (:func:`refine.centred_unit`: the
    cross-lingual agreement, the echo); ``title_query`` (a query vector, or None): the
    language-centred cosine of it with each one's title vector (:mod:`indexing.embeddings.titles`),
    centred by the title vectors' own language means. An article without a vector is left out.
    ``page``: the same request also brings what the result page needs of ``ids``."""
    fields = ([EMBEDDING_FIELD] if vectors else []) + ([TITLE_EMBEDDING_FIELD] if title_query is not None else [])
    stored = _stored(engine, index, ids, fields, dim, timeout, page)
    centred: dict[str, np.ndarray] = {}
    titles: dict[str, float] = {}
    found = _with_means(engine, index, model, dim, stored.get(EMBEDDING_FIELD, []), means)
    if found is not None:
        known, data, langs, lang_means = found
        centred = dict(zip(known, centred_unit(data, langs, lang_means), strict=True))
    found = _with_means(engine, index, model, dim, stored.get(TITLE_EMBEDDING_FIELD, []), title_means)
    if found is not None and title_query is not None:
        known, data, langs, lang_means = found
        values = centred_scores(data, langs, lang_means, np.asarray(title_query, dtype=np.float32))
        titles = dict(zip(known, (float(v) for v in values), strict=True))
    return centred, titles
