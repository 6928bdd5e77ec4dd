"""Client-side nearest neighbours for an engine without vector search (core OpenSearch 3.8).

The vectors live in the index (``embedding``, a non-indexed ``binary`` field: base64 float16);
:class:`VectorMatrix` mirrors them in memory as one float32 matrix per index and model (numpy
has no fast float16 product), and ranks all of them against a query by one matrix-vector product
(100,000 articles x 384 dimensions: 154 MB, a few milliseconds on an idle core). It catches up incrementally: each sync asks only for articles
embedded since the newest one it holds (``embedded_at``), at most every ``sync_interval``
seconds. Rows of deleted articles stay until the process restarts; search checks every
candidate against the index (filters included), so they are never shown.

Ranking (:meth:`VectorMatrix.nearest`) is the cosine refined twice, both cheap next to the
matrix product itself:

* **language centring**: from each article's cosine the mean cosine of the query to the
  articles of that article's language is subtracted (``mean vector of the language . query``;
  the mean vectors are kept per sync). A small multilingual model places a query nearer to
  anything in the query's own language, so a look-alike sharing the query's words outranks the
  story's coverage in other languages; centring removes that offset and compares each article
  with its own language's background (Libovický et al., 2020, on the language-specific
  component of multilingual embeddings).
* **pseudo-relevance feedback** (Rocchio): the query vector plus the mean of its
  :data:`FEEDBACK` best articles, re-scored over the first pass's :data:`FEEDBACK_POOL` best.
  Coverage of one story in several languages clusters tightly; look-alikes share a word or a
  name with the query, not the whole story, so the feedback pulls the rest of the coverage up.
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
#: pseudo-relevance feedback: best articles of the first pass added to the query (0: none), their
#: weight against the query, and how many first-pass articles the refined query re-scores
FEEDBACK = 3
FEEDBACK_WEIGHT = 1.0
FEEDBACK_POOL = 1000
#: language centring: a language's mean vector is shrunk towards the mean of all rows as if it
#: had this many more articles (a language with a handful of articles has no reliable mean)
CENTRING_PRIOR = 5


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
        #: per row: its article's language as an index into ``self._languages``; per language: the
        #: sum of its rows and their number (kept as rows come and change: centring costs nothing)
        self._lang = np.zeros(0, dtype=np.int32)
        self._languages: dict[str | None, int] = {}
        self._sums = np.zeros((0, dim), dtype=np.float64)
        self._counts = np.zeros(0, dtype=np.float64)
        self._means: np.ndarray | None = None  # language_means(), until rows change
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
        body: dict[str, Any] = {"query": query, "size": PAGE, "_source": [EMBEDDING_FIELD, "embedded_at", "language"],
                                "sort": [{"embedded_at": "asc"}, {"id": "asc"}], "track_total_hits": False}
        if after:
            body["search_after"] = after
        return list(engine.search(self.index, body).get("hits", {}).get("hits", []))

    def _language(self, src: dict[str, Any]) -> int:
        lang = src.get("language") if isinstance(src.get("language"), str) else None
        code = self._languages.setdefault(lang, len(self._languages))
        if code >= len(self._counts):
            self._sums = np.vstack([self._sums, np.zeros((1, self.dim))])
            self._counts = np.append(self._counts, 0.0)
        return code

    def _replace(self, row: int, vec: np.ndarray, code: int) -> None:
        """A re-embedded row, in place (its language's sum follows)."""
        self._sums[self._lang[row]] -= self._rows[row]
        self._counts[self._lang[row]] -= 1
        self._rows[row], self._lang[row] = vec, code
        self._sums[code] += vec
        self._counts[code] += 1
        self._means = None

    def _add(self, hits: list[dict[str, Any]], new_rows: list[np.ndarray], new_langs: list[int]) -> None:
        """Replace re-embedded rows in place; collect new ones into ``new_rows`` (and their
        languages into ``new_langs``)."""
        for h in hits:
            src = h.get("_source") or {}
            vec = decode(src.get(EMBEDDING_FIELD), self.dim)
            if vec is None:
                continue
            row = self._row_of.get(h["_id"])
            if row is not None:  # re-embedded
                if row < len(self._rows):
                    self._replace(row, vec, self._language(src))
                else:
                    new_rows[row - len(self._rows)] = vec
                    new_langs[row - len(self._rows)] = self._language(src)
                continue
            if len(self._ids) >= MAX_ROWS:
                log.warning("vector matrix of %s is full (%d rows): newer articles are not ranked by vector",
                            self.index, MAX_ROWS)
                break
            self._row_of[h["_id"]] = len(self._ids)
            self._ids.append(h["_id"])
            new_rows.append(vec)
            new_langs.append(self._language(src))

    def sync(self, engine: Engine, *, force: bool = False) -> int:
        """Fetch what was embedded since the last sync; returns the rows added or replaced."""
        now = self._clock()
        if not force and self._synced_at is not None and now - self._synced_at < self.sync_interval:
            return 0
        with self._lock:
            count, after = 0, None
            new_rows: list[np.ndarray] = []
            new_langs: list[int] = []
            while True:  # bounded: each page moves the sort cursor forward, MAX_ROWS caps the total
                hits = self._fetch(engine, after)
                if not hits:
                    break
                self._add(hits, new_rows, new_langs)
                count += len(hits)
                after = hits[-1]["sort"]
                self._watermark = (hits[-1].get("_source") or {}).get("embedded_at") or self._watermark
                if len(hits) < PAGE or len(self._ids) >= MAX_ROWS:
                    break
            if new_rows:
                rows, langs = np.stack(new_rows), np.asarray(new_langs, dtype=np.int32)
                self._lang = np.concatenate([self._lang, langs])  # before the rows: see nearest()
                self._rows = np.vstack([self._rows, rows])
                np.add.at(self._sums, langs, rows)
                np.add.at(self._counts, langs, 1.0)
                self._means = None
            self._synced_at = now
        return count

    def language_means(self) -> np.ndarray:
        """Per language: the mean of its rows, shrunk towards the mean of all rows
        (:data:`CENTRING_PRIOR`)."""
        if self._means is None or len(self._means) != len(self._counts):
            overall = self._sums.sum(axis=0) / max(self._counts.sum(), 1.0)
            means = (self._sums + CENTRING_PRIOR * overall) / (self._counts[:, None] + CENTRING_PRIOR)
            self._means = means.astype(np.float32)
        return self._means

    def _centring(self, query: np.ndarray, langs: np.ndarray) -> np.ndarray:
        """Per row of ``langs``: the query's mean cosine to that row's language."""
        return (self.language_means() @ query)[langs]

    def nearest(self, query: np.ndarray, k: int, *, feedback: int = FEEDBACK,
                centred: bool = True) -> list[tuple[str, float]]:
        """The ``k`` rows most similar to ``query`` (a unit vector), best first, by language-centred
        cosine refined by ``feedback`` rows of pseudo-relevance feedback: (id, score).
        ``feedback=0, centred=False``: plain cosine (benchmarks and tests compare)."""
        # One consistent view while a sync may be adding rows: sync assigns the languages before
        # the rows, so the languages read after the rows cover them.
        data = self._rows
        langs = self._lang[: len(data)]
        if not len(data) or k <= 0:
            return []
        query = np.asarray(query, dtype=np.float32)
        rows = np.arange(len(data))
        scores = data @ query - (self._centring(query, langs) if centred else 0.0)
        if feedback > 0:
            rows = _best(scores, FEEDBACK_POOL)
            refined = query + FEEDBACK_WEIGHT * data[rows[:feedback]].mean(axis=0)
            refined /= np.linalg.norm(refined) or 1.0
            scores = data[rows] @ refined - (self._centring(refined, langs[rows]) if centred else 0.0)
        top = _best(scores, k)
        return [(self._ids[rows[i]], float(scores[i])) for i in top]


def _best(scores: np.ndarray, k: int) -> np.ndarray:
    """Positions of the ``k`` highest ``scores``, best first."""
    k = min(k, len(scores))
    top = np.argpartition(-scores, k - 1)[:k]
    return top[np.argsort(-scores[top], kind="stable")]


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
