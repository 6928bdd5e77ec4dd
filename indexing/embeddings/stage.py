"""The embedding stage: give every indexed article that lacks one a vector of the configured model.

Runs after indexing (the pipeline calls :func:`embed_pending` once the batch is searchable), so
keyword search never waits for the model. The work list is the index itself: articles whose
``embedding_model`` is not the configured model's name -- new articles, articles re-indexed
with new text (indexing replaces the whole document, vector included) and articles embedded by
an earlier model -- or that have no title vector yet (``title_embedding``, written with the
article's vector for hybrid fusion's title closeness: :mod:`indexing.embeddings.titles`; articles
embedded before it are embedded again, ``embeddings.max_per_run`` at a time), or whose vector is
not in the kNN graph of an index that searches vectors in the server (copied there before the field
was mapped: :func:`pending_query`). Every write is an update guarded by the document's sequence number, so an
article re-indexed meanwhile keeps its new text and stays on the work list; running the stage
twice changes nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from indexing.embeddings import Embedder, document_text, get_stage_embedders
from indexing.embeddings.parallel import embed_in_parallel, stage_workers
from indexing.embeddings.titles import title_text
from indexing.embeddings.vectors import encode_vector, ensure_vector_field
from indexing.engine import Engine, EngineError
from indexing.index.templates import EMBEDDING_FIELD, TITLE_EMBEDDING_FIELD, TITLE_MODEL_FIELD
from indexing.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class EmbedReport:
    model: str | None = None
    embedded: int = 0
    #: updates the engine refused, by reason (a conflict: re-indexed meanwhile, done next time)
    failed: dict[str, int] = field(default_factory=dict)
    #: True when ``limit`` stopped the stage before the work list was empty
    capped: bool = False
    seconds: float = 0.0
    #: texts whose vectors were computed ahead (:func:`precompute`) and not run through the model again
    reused: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "embedded": self.embedded, "failed": dict(self.failed),
                "capped": self.capped, "seconds": round(self.seconds, 3), "reused": self.reused}


def stage_texts(doc: Mapping[str, Any], max_chars: int) -> tuple[str, str]:
    """What the stage embeds of one article (its title, lead and body): the article's text and its title's."""
    return document_text(doc, max_chars), title_text(doc)


def precompute(embedders: Sequence[Embedder], docs: Iterable[Mapping[str, Any]], max_chars: int,
               batch_size: int = 16, stop: Callable[[], bool] = lambda: False) -> dict[str, Any]:
    """Vectors of what the stage will embed of ``docs``, computed ahead -- e.g. while their batch is
    being indexed -- keyed by text, for :func:`embed_pending`'s ``precomputed``. Texts are embedded
    once each, ``batch_size`` per instance per call (as the stage); ``stop()`` true ends it between
    calls (what was computed is returned). The caller bounds ``docs`` (the warm start: the run's
    ``embeddings.max_per_run``)."""
    texts: dict[str, None] = {}
    for doc in docs:
        texts.update(dict.fromkeys(stage_texts(doc, max_chars)))
    if not embedders or not texts:
        return {}
    ordered, page = list(texts), max(1, batch_size) * len(embedders)
    out: dict[str, Any] = {}
    for start in range(0, len(ordered), page):
        if stop():
            break
        chunk = ordered[start:start + page]
        out.update(zip(chunk, embed_in_parallel(embedders, chunk), strict=True))
    return out


def _vectors(embedders: Sequence[Embedder], texts: list[str], precomputed: Mapping[str, Any],
             report: EmbedReport) -> Any:
    """The rows of ``texts``: from ``precomputed`` where it has them, the rest from the model."""
    missing = list(dict.fromkeys(t for t in texts if t not in precomputed))
    report.reused += sum(1 for t in texts if t in precomputed)
    fresh = dict(zip(missing, embed_in_parallel(embedders, missing), strict=True)) if missing else {}
    return np.stack([precomputed[t] if t in precomputed else fresh[t] for t in texts])


def pending_query(model: str, searchable: Sequence[str] = ()) -> dict[str, Any]:
    """Articles without this model's vectors; in the ``searchable`` indices (those mapping the
    vector for kNN search) also those whose vector is not in the kNN graph: written before the
    field was mapped (a migration that copied them first, an index without the mapping), it
    sits in ``_source`` only, and they are embedded again."""
    should: list[dict[str, Any]] = [{"bool": {"must_not": [{"term": {"embedding_model": model}}]}},
                                     {"bool": {"must_not": [{"term": {TITLE_MODEL_FIELD: model}}]}}]
    if searchable:
        should.append({"bool": {"filter": [{"terms": {"_index": sorted(searchable)}}],
                                "must_not": [{"exists": {"field": EMBEDDING_FIELD}}]}})
    return {"bool": {"should": should, "minimum_should_match": 1}}


def _page(engine: Engine, index: str, model: str, size: int, after: list[Any] | None,
          searchable: Sequence[str] = ()) -> list[dict[str, Any]]:
    body: dict[str, Any] = {"query": pending_query(model, searchable), "size": size, "sort": [{"id": "asc"}],
                            "seq_no_primary_term": True, "_source": ["title", "lead", "body"],
                            "track_total_hits": False}
    if after:
        body["search_after"] = after
    return list(engine.search(index, body).get("hits", {}).get("hits", []))


def _updates(engine: Engine, hits: list[dict[str, Any]], vectors: Any, titles: Any, model: str,
             now: str, forms: Mapping[str, Mapping[str, bool]]) -> list[dict[str, Any]]:
    """The bulk updates writing each hit's vectors, in the form its index's fields take
    (``forms``: field -> concrete index -> floats, :func:`ensure_vector_field`)."""
    ops: list[dict[str, Any]] = []
    for hit, vec, title in zip(hits, vectors, titles, strict=True):
        where = hit["_index"]
        ops.append({"update": {"_index": where, "_id": hit["_id"], "if_seq_no": hit["_seq_no"],
                               "if_primary_term": hit["_primary_term"]}})
        ops.append({"doc": {EMBEDDING_FIELD: encode_vector(engine, vec, floats=forms[EMBEDDING_FIELD].get(where)),
                            TITLE_EMBEDDING_FIELD: encode_vector(engine, title, floats=forms[TITLE_EMBEDDING_FIELD].get(where)),
                            "embedding_model": model, TITLE_MODEL_FIELD: model, "embedded_at": now}})
    return ops


def _searchable(forms: Mapping[str, Mapping[str, bool]]) -> list[str]:
    """The concrete indices whose article vector is searched in the server (:func:`pending_query`)."""
    return [name for name, floats in forms[EMBEDDING_FIELD].items() if floats]


def _vector_fields(engine: Engine, index: str, dim: int) -> dict[str, dict[str, bool]]:
    """Both vector fields mapped in every index behind ``index``: field -> index -> floats."""
    return {EMBEDDING_FIELD: ensure_vector_field(engine, index, EMBEDDING_FIELD, dim),
            TITLE_EMBEDDING_FIELD: ensure_vector_field(engine, index, TITLE_EMBEDDING_FIELD, dim, searchable=False)}


def _ensure_keyword(engine: Engine, index: str, field: str) -> None:
    """Map ``field`` as a keyword in ``index`` (every index behind it) where it is not mapped yet:
    an index set up before the field existed would never match the work list's term on it."""
    for name, spec in engine.get_mapping(index).items():
        if field not in (spec.get("mappings", {}).get("properties") or {}):
            engine.put_mapping(name, {"properties": {field: {"type": "keyword"}}})


def _count_failures(resp: dict[str, Any], report: EmbedReport) -> int:
    ok = 0
    for item in resp.get("items", []):
        result = item.get("update", {})
        if result.get("status", 500) < 300:
            ok += 1
            continue
        reason = str((result.get("error") or {}).get("type") or result.get("status"))
        report.failed[reason] = report.failed.get(reason, 0) + 1
    return ok


def embed_pending(engine: Engine, index: str | None = None, *, settings: Settings, embedder: Embedder | None = None,
                  limit: int | None = None, batch_size: int | None = None,
                  embedders: list[Embedder] | None = None,
                  precomputed: Mapping[str, Any] | None = None,
                  clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> EmbedReport:
    """Embed up to ``limit`` articles of ``index`` (default: the articles alias) that have no
    vector of ``embedder``'s model (default: the one of ``settings.embeddings``, as many instances
    as ``embeddings.stage_workers`` says, run at once; ``embedders``: given instances of one model).
    Returns what was done; with ``embeddings.backend: none`` nothing is. Raises
    :class:`EmbeddingError` when the model cannot be loaded and :class:`EngineError` when the
    engine fails. ``precomputed``: vectors of texts computed ahead by this model (:func:`precompute`),
    used instead of running the model on those texts again."""
    from indexing.index.setup import articles_alias

    if embedders is None:
        embedders = [embedder] if embedder is not None else get_stage_embedders(
            settings.embeddings, stage_workers(settings.embeddings.stage_workers))
    embedder = embedders[0] if embedders else None
    report = EmbedReport(model=embedder.name if embedder else None)
    if embedder is None:
        return report
    index = index or articles_alias(settings.index_prefix)
    size = (batch_size or settings.embeddings.batch_size) * len(embedders)
    started = time.perf_counter()
    forms = _vector_fields(engine, index, embedder.dim)
    searchable = _searchable(forms)
    _ensure_keyword(engine, index, TITLE_MODEL_FIELD)
    after: list[Any] | None = None
    while limit is None or report.embedded < limit:
        hits = _page(engine, index, embedder.name, size if limit is None else min(size, limit - report.embedded),
                     after, searchable)
        if not hits:
            break
        after = hits[-1]["sort"]
        if any(h["_index"] not in forms[EMBEDDING_FIELD] for h in hits):  # an index created since
            forms = _vector_fields(engine, index, embedder.dim)
            searchable = _searchable(forms)
        pairs = [stage_texts(h.get("_source") or {}, settings.embeddings.max_chars) for h in hits]
        # the titles in the same call: one batch for the model, headlines are short
        vectors = _vectors(embedders, [p[0] for p in pairs] + [p[1] for p in pairs], precomputed or {}, report)
        resp = engine.bulk(_updates(engine, hits, vectors[: len(hits)], vectors[len(hits):], embedder.name,
                                    clock().isoformat(), forms))
        report.embedded += _count_failures(resp, report)
    else:
        report.capped = True
    report.seconds = time.perf_counter() - started
    if report.embedded or report.failed:
        engine.refresh(index)
        log.info("embedded %d articles of %s with %s in %.1fs (%s failed)", report.embedded, index,
                 embedder.name, report.seconds, sum(report.failed.values()))
    return report


__all__ = ["EmbedReport", "EngineError", "embed_pending", "pending_query", "precompute", "stage_texts"]


def embed_new_articles(settings: Settings, engine: Engine | None = None,
                       precomputed: Mapping[str, Any] | None = None) -> EmbedReport:
    """The pipeline's embedding stage (after indexing and alerts): :func:`embed_pending` on the
    articles alias with the configured model, at most ``embeddings.max_per_run`` articles. A model that cannot be loaded is logged and
    reported (``failed: {"model": 1}``), not raised: keyword search and alerts are done already."""
    from indexing.embeddings import EmbeddingError
    from indexing.engine import NotFound, connect

    engine = engine or connect(settings)
    try:
        report = embed_pending(engine, settings=settings, limit=settings.embeddings.max_per_run,
                               precomputed=precomputed)
    except EmbeddingError as exc:
        log.warning("embedding stage skipped: %s", exc)
        return EmbedReport(failed={"model": 1})
    except NotFound as exc:  # no articles index yet (a first run that indexed nothing): nothing to embed
        log.info("embedding stage: nothing to embed (%s)", exc)
        return EmbedReport()
    if report.capped:
        log.info("embedding stage capped at %d articles (embeddings.max_per_run); the rest next run",
                 report.embedded)
    return report
