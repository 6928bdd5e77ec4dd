"""Client-side nearest neighbours for an engine without vector search (core OpenSearch 3.8).

The vectors live in the index (``embedding``, a non-indexed ``binary`` field: base64 float16);
:class:`VectorMatrix` mirrors them in memory as one float32 matrix per index and model (numpy
has no fast float16 product), and ranks all of them against a query by one matrix-vector product
(100,000 articles x 384 dimensions: 154 MB, a few milliseconds on an idle core). It catches up incrementally: each sync asks only for articles
embedded since the newest one it holds (``embedded_at``), at most every ``sync_interval``
seconds. Rows of deleted articles stay until the process restarts; search checks every
candidate against the index (filters included), so they are never shown.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from indexing.engine import Engine
from indexing.index.templates import EMBEDDING_FIELD

log = logging.getLogger(__name__)

#: articles fetched per sync request, and the most one matrix holds (memory bound: 1M x 384 x 4 bytes)
PAGE = 2000
MAX_ROWS = 1_000_000


def decode(value: Any, dim: int) -> np.ndarray | None:
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


class VectorMatrix:
    """The vectors of one index and model, for brute-force cosine ranking."""

    def __init__(self, index: str, model: str, dim: int, *, sync_interval: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.index, self.model, self.dim = index, model, dim
        self.sync_interval = sync_interval
        self._clock = clock
        self._rows = np.zeros((0, dim), dtype=np.float32)
        self._ids: list[str] = []
        self._row_of: dict[str, int] = {}
        self._watermark: str | None = None
        self._synced_at: float | None = None
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._ids)

    def _fetch(self, engine: Engine, after: list[Any] | None) -> list[dict[str, Any]]:
        query: dict[str, Any] = {"bool": {"filter": [{"term": {"embedding_model": self.model}}]}}
        if self._watermark:
            query["bool"]["filter"].append({"range": {"embedded_at": {"gte": self._watermark}}})
        body: dict[str, Any] = {"query": query, "size": PAGE, "_source": [EMBEDDING_FIELD, "embedded_at"],
                                "sort": [{"embedded_at": "asc"}, {"id": "asc"}], "track_total_hits": False}
        if after:
            body["search_after"] = after
        return list(engine.search(self.index, body).get("hits", {}).get("hits", []))

    def _add(self, hits: list[dict[str, Any]], new_rows: list[np.ndarray]) -> None:
        """Replace re-embedded rows in place; collect new ones into ``new_rows``."""
        for h in hits:
            src = h.get("_source") or {}
            vec = decode(src.get(EMBEDDING_FIELD), self.dim)
            if vec is None:
                continue
            row = self._row_of.get(h["_id"])
            if row is not None:  # re-embedded
                if row < len(self._rows):
                    self._rows[row] = vec
                else:
                    new_rows[row - len(self._rows)] = vec
                continue
            if len(self._ids) >= MAX_ROWS:
                log.warning("vector matrix of %s is full (%d rows): newer articles are not ranked by vector",
                            self.index, MAX_ROWS)
                break
            self._row_of[h["_id"]] = len(self._ids)
            self._ids.append(h["_id"])
            new_rows.append(vec)

    def sync(self, engine: Engine, *, force: bool = False) -> int:
        """Fetch what was embedded since the last sync; returns the rows added or replaced."""
        now = self._clock()
        if not force and self._synced_at is not None and now - self._synced_at < self.sync_interval:
            return 0
        with self._lock:
            count, after = 0, None
            new_rows: list[np.ndarray] = []
            while True:  # bounded: each page moves the sort cursor forward, MAX_ROWS caps the total
                hits = self._fetch(engine, after)
                if not hits:
                    break
                self._add(hits, new_rows)
                count += len(hits)
                after = hits[-1]["sort"]
                self._watermark = (hits[-1].get("_source") or {}).get("embedded_at") or self._watermark
                if len(hits) < PAGE or len(self._ids) >= MAX_ROWS:
                    break
            if new_rows:
                self._rows = np.vstack([self._rows, np.stack(new_rows)])
            self._synced_at = now
        return count

    def nearest(self, query: np.ndarray, k: int) -> list[tuple[str, float]]:
        """The ``k`` rows most similar to ``query`` (a unit vector), best first: (id, cosine)."""
        if not self._ids or k <= 0:
            return []
        scores = self._rows @ np.asarray(query, dtype=np.float32)
        k = min(k, len(self._ids))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(self._ids[i], float(scores[i])) for i in top]


_MATRICES: dict[tuple[str, str, str], VectorMatrix] = {}


def matrix_for(engine: Engine, index: str, model: str, dim: int) -> VectorMatrix:
    """The process-wide matrix of ``index`` and ``model`` on ``engine``'s cluster, synced."""
    key = (engine.url, index, model)
    matrix = _MATRICES.get(key)
    if matrix is None or matrix.dim != dim:
        matrix = _MATRICES[key] = VectorMatrix(index, model, dim)
    matrix.sync(engine)
    return matrix


def forget_matrices() -> None:
    """Drop every cached matrix (tests, or after an index was rebuilt)."""
    _MATRICES.clear()
