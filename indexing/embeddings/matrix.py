"""Client-side nearest neighbours for an engine without vector search (core OpenSearch 3.8).

The vectors live in the index (``embedding``, a non-indexed ``binary`` field: base64 float16);
:class:`VectorMatrix` mirrors them in memory, one matrix per index and model, and catches up
incrementally: each sync asks only for articles embedded since the newest one it holds
(``embedded_at``), at most every ``sync_interval`` seconds. Rows of deleted articles stay until
the process restarts; search checks every candidate against the index (filters included), so
they are never shown.

Ranking is two-step, as the engines' own vector search does it (cheap candidates, then exact
scores): a product of all rows with the query reads the whole matrix (100,000 articles x 384
dimensions x 4 bytes = 154 MB: 14 ms on this 2-core machine at a load of 4, memory-bound), so
each row is also kept as its projection on the 128 main axes of the rows (a third of the bytes;
the axes carry about 70% of the variance of multilingual-e5 vectors), the ``candidates`` rows
nearest to the query there are picked, and only they are scored exactly. With no more rows than
candidates every row is scored exactly. ``benchmarks/vector_recall.py`` measures what the two
steps find of the exact top rows, and what each costs.

The score is the cosine refined twice, both cheap next to the candidate step:

* **language centring**: from each article's cosine the mean cosine of the query to the
  articles of that article's language is subtracted (``mean vector of the language . query``;
  per-language sums are kept as rows come and change). A small multilingual model places a query
  nearer to anything in the query's own language, so a look-alike sharing the query's words
  outranks the story's coverage in other languages; centring removes that offset and compares
  each article with its own language's background (Libovický et al., 2020, on the
  language-specific component of multilingual embeddings). Candidates are picked by the centred
  score too.
* **pseudo-relevance feedback** (Rocchio): the query vector plus a quarter
  (:data:`~indexing.embeddings.refine.FEEDBACK_WEIGHT`) of the mean of its :data:`FEEDBACK` best
  articles re-scores the candidates. Coverage of one story in several languages clusters
  tightly; look-alikes share a word or a name with the query, not the whole story, so the
  feedback pulls the rest of the coverage up. At full weight it also pulled a story covered in
  one or two languages down, below whatever ranked first.

benchmarks/crosslingual.py measures both, step by step, on the cross-lingual fixtures.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from threadpoolctl import ThreadpoolController

from indexing.embeddings.refine import FEEDBACK, best, centred_unit, rescore, shrunk_means
from indexing.embeddings.titles import TitleRows
from indexing.embeddings.vectors import decode
from indexing.engine import Engine
from indexing.index.templates import EMBEDDING_FIELD, TITLE_EMBEDDING_FIELD

log = logging.getLogger(__name__)

#: articles fetched per sync request, and the most one matrix holds (memory bound: 1M x 384 x 4 bytes)
PAGE = 2000
MAX_ROWS = 1_000_000
#: rows scored exactly per query: at least this many, and at least OVERSAMPLE x k
#: (benchmarks/vector_recall.py: what these find of the exact top k)
MIN_CANDIDATES = 4000
OVERSAMPLE = 100
#: rows the main axes are fitted on (a sample of the matrix beyond that)
FIT_SAMPLE = 20_000
#: fewer rows are always scored exactly: no axes are fitted for them
FIT_MIN = 256
class RowStore:
    """Float32 rows and their projections on the main axes of the rows, grown by doubling (no
    copy of everything per sync); per row its language (a small int), per language the sum of its
    rows and their number (for centring).

    The axes (``axes`` of them, 128 by default, from the covariance of up to ``FIT_SAMPLE`` rows) are refitted
    whenever the store has doubled since the last fit, so they follow what is indexed."""

    def __init__(self, dim: int, axes: int = 128) -> None:
        self.dim, self.n = dim, 0
        self.rows = np.zeros((0, dim), dtype=np.float32)
        self.axes = min(axes, dim)
        self.mean = np.zeros(dim, dtype=np.float32)
        self.basis = np.eye(dim, self.axes, dtype=np.float32)
        self.proj = np.zeros((0, self.axes), dtype=np.float32)
        self.lang = np.zeros(0, dtype=np.int32)
        self.sums = np.zeros((0, dim), dtype=np.float64)
        self.counts = np.zeros(0, dtype=np.float64)
        self._means: np.ndarray | None = None  # language_means(), until rows change
        self._fitted_at = 0

    def _count(self, vecs: np.ndarray, langs: np.ndarray, sign: float) -> None:
        if len(langs) and langs.max() >= len(self.counts):
            grow = int(langs.max()) + 1 - len(self.counts)
            self.sums = np.vstack([self.sums, np.zeros((grow, self.dim))])
            self.counts = np.concatenate([self.counts, np.zeros(grow)])
        np.add.at(self.sums, langs, sign * vecs)
        np.add.at(self.counts, langs, sign)
        self._means = None

    def set(self, row: int, vec: np.ndarray, lang: int = 0) -> None:
        self._count(self.rows[row: row + 1], self.lang[row: row + 1], -1.0)
        self.rows[row], self.lang[row] = vec, lang
        self.proj[row] = (vec - self.mean) @ self.basis
        self._count(vec[None, :], np.array([lang], dtype=np.int32), 1.0)

    def extend(self, vecs: np.ndarray, langs: np.ndarray | None = None) -> None:
        need = self.n + len(vecs)
        langs = np.zeros(len(vecs), dtype=np.int32) if langs is None else np.asarray(langs, dtype=np.int32)
        if need > len(self.rows):
            cap = max(need, 2 * len(self.rows), 1024)
            self.rows = _grown(self.rows, self.n, cap)
            self.proj = _grown(self.proj, self.n, cap)
            self.lang = _grown(self.lang[:, None], self.n, cap)[:, 0]
        self.rows[self.n: need] = vecs
        self.proj[self.n: need] = (vecs - self.mean) @ self.basis
        self.lang[self.n: need] = langs
        self._count(vecs, langs, 1.0)
        self.n = need
        if self.n >= max(2 * self._fitted_at, FIT_MIN):
            self._fit()

    def _fit(self) -> None:
        step = max(1, self.n // FIT_SAMPLE)
        sample = self.rows[: self.n: step]
        self.mean = sample.mean(axis=0)
        _, vectors = np.linalg.eigh(np.cov(sample - self.mean, rowvar=False).reshape(self.dim, self.dim))
        self.basis = np.ascontiguousarray(vectors[:, ::-1][:, : self.axes], dtype=np.float32)
        self.proj[: self.n] = (self.rows[: self.n] - self.mean) @ self.basis
        self._fitted_at = self.n

    def language_means(self) -> np.ndarray:
        """Per language: the mean of its rows, shrunk towards the mean of all rows
        (:data:`refine.CENTRING_PRIOR`)."""
        if self._means is None or len(self._means) != len(self.counts):
            self._means = shrunk_means(self.sums, self.counts)
        return self._means

    def view(self, rows: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """The vectors and languages of ``rows`` (None: every row), gathered once per query."""
        n = self.n
        return (self.rows[:n], self.lang[:n]) if rows is None else (self.rows[rows], self.lang[rows])

    def scores(self, view: tuple[np.ndarray, np.ndarray], query: np.ndarray, *, centred: bool = True,
               feedback: int = 0) -> np.ndarray:
        """The refined cosines of ``query`` with the rows of ``view`` (:func:`refine.rescore`)."""
        data, langs = view
        return rescore(data, langs, self.language_means(), query, centred=centred, feedback=feedback)

    def candidates(self, query: np.ndarray, count: int, *, centred: bool = True) -> np.ndarray | None:
        """Row numbers of the ``count`` rows nearest to the query on the main axes (None: every row)."""
        n = self.n
        if count >= n:
            return None
        # q.x and q.(x - mean) rank rows alike
        approx = self.proj[:n] @ (self.basis.T @ query)
        if centred:
            approx -= (self.language_means() @ query)[self.lang[:n]]
        return np.argpartition(-approx, count - 1)[:count]


def _grown(array: np.ndarray, used: int, capacity: int) -> np.ndarray:
    out = np.zeros((capacity, array.shape[1]), dtype=array.dtype)
    out[:used] = array[:used]
    return out


class VectorMatrix:
    """The vectors of one index and model, for cosine ranking (see the module docstring)."""

    def __init__(self, index: str, model: str, dim: int, *, sync_interval: float = 5.0,
                 clock: Callable[[], float] = time.monotonic, min_candidates: int = MIN_CANDIDATES,
                 oversample: int = OVERSAMPLE) -> None:
        self.index, self.model, self.dim = index, model, dim
        self.sync_interval = sync_interval
        self.min_candidates, self.oversample = min_candidates, oversample
        self._clock = clock
        self._store = RowStore(dim)
        #: each row's title vector, when the article has one (hybrid fusion's title closeness)
        self._titles = TitleRows(dim)
        self._ids: list[str] = []
        self._row_of: dict[str, int] = {}
        #: language -> the small int the store keeps per row
        self._languages: dict[str | None, int] = {None: 0}
        self._watermark: str | None = None
        self._synced_at: float | None = None
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._ids)

    def _fetch(self, engine: Engine, after: list[Any] | None) -> list[dict[str, Any]]:
        query: dict[str, Any] = {"bool": {"filter": [{"term": {"embedding_model": self.model}}]}}
        if self._watermark:
            query["bool"]["filter"].append({"range": {"embedded_at": {"gte": self._watermark}}})
        body: dict[str, Any] = {"query": query, "size": PAGE, "_source": [EMBEDDING_FIELD, TITLE_EMBEDDING_FIELD, "embedded_at", "language"],
                                "sort": [{"embedded_at": "asc"}, {"id": "asc"}], "track_total_hits": False}
        if after:
            body["search_after"] = after
        return list(engine.search(self.index, body).get("hits", {}).get("hits", []))

    def _language(self, lang: Any) -> int:
        return self._languages.setdefault(lang if isinstance(lang, str) else None, len(self._languages))

    def _add(self, hits: list[dict[str, Any]], new_rows: list[np.ndarray], new_langs: list[int],
             new_titles: list[np.ndarray | None]) -> None:
        """Replace re-embedded rows in place; collect new ones into ``new_rows`` (their languages
        into ``new_langs``, their title vectors into ``new_titles``)."""
        for h in hits:
            src = h.get("_source") or {}
            vec = decode(src.get(EMBEDDING_FIELD), self.dim)
            if vec is None:
                continue
            row, lang = self._row_of.get(h["_id"]), self._language(src.get("language"))
            title = decode(src.get(TITLE_EMBEDDING_FIELD), self.dim)
            if row is not None:  # re-embedded
                if row < self._store.n:
                    self._store.set(row, vec, lang)
                    self._titles.set(row, title, lang)
                else:
                    pending = row - self._store.n
                    new_rows[pending], new_langs[pending], new_titles[pending] = vec, lang, title
                continue
            if len(self._ids) >= MAX_ROWS:
                log.warning("vector matrix of %s is full (%d rows): newer articles are not ranked by vector",
                            self.index, MAX_ROWS)
                break
            self._row_of[h["_id"]] = len(self._ids)
            self._ids.append(h["_id"])
            new_rows.append(vec)
            new_langs.append(lang)
            new_titles.append(title)

    def sync(self, engine: Engine, *, force: bool = False) -> int:
        """Fetch what was embedded since the last sync; returns the rows added or replaced."""
        now = self._clock()
        if not force and self._synced_at is not None and now - self._synced_at < self.sync_interval:
            return 0
        with self._lock:
            count, after = 0, None
            new_rows: list[np.ndarray] = []
            new_langs: list[int] = []
            new_titles: list[np.ndarray | None] = []
            while True:  # bounded: each page moves the sort cursor forward, MAX_ROWS caps the total
                hits = self._fetch(engine, after)
                if not hits:
                    break
                self._add(hits, new_rows, new_langs, new_titles)
                count += len(hits)
                after = hits[-1]["sort"]
                self._watermark = (hits[-1].get("_source") or {}).get("embedded_at") or self._watermark
                if len(hits) < PAGE or len(self._ids) >= MAX_ROWS:
                    break
            if new_rows:
                self._store.extend(np.stack(new_rows), np.asarray(new_langs, dtype=np.int32))
                self._titles.extend(new_titles, new_langs)
            self._synced_at = now
        return count

    def load(self, ids: list[str], vectors: np.ndarray, languages: list[str | None] | None = None,
             titles: np.ndarray | None = None) -> None:
        """Add rows held elsewhere (benchmarks, tests): ``ids`` new to the matrix, one row each
        (and its language and title vector, if given)."""
        with self._lock:
            langs = [self._language(lang) for lang in languages or [None] * len(ids)]
            for doc_id in ids:
                self._row_of[doc_id] = len(self._ids)
                self._ids.append(doc_id)
            self._store.extend(np.asarray(vectors, dtype=np.float32), np.asarray(langs, dtype=np.int32))
            self._titles.extend([None] * len(ids) if titles is None else list(titles), langs)

    def language_means(self) -> np.ndarray:
        """Per language (``self._languages`` numbers them): its mean vector, for centring."""
        return self._store.language_means()

    def centred(self, ids: list[str]) -> dict[str, np.ndarray]:
        """The language-centred unit vectors of those of ``ids`` the matrix holds
        (:func:`refine.centred_unit`): no request, a few rows gathered."""
        known = [i for i in dict.fromkeys(ids) if i in self._row_of]
        if not known:
            return {}
        data, langs = self._store.view(np.asarray([self._row_of[i] for i in known], dtype=np.intp))
        return dict(zip(known, centred_unit(data, langs, self.language_means()), strict=True))

    def languages(self, ids: list[str]) -> dict[str, str | None]:
        """The language of each of ``ids`` the matrix holds (None: unknown): no request."""
        names = {n: lang for lang, n in self._languages.items()}
        known = [i for i in dict.fromkeys(ids) if i in self._row_of]
        if not known:
            return {}
        langs = self._store.lang[np.asarray([self._row_of[i] for i in known], dtype=np.intp)]
        return {i: names.get(int(n)) for i, n in zip(known, langs, strict=True)}

    def title_scores(self, ids: list[str], query: np.ndarray) -> dict[str, float]:
        """The language-centred cosine of ``query`` with the title vector of each of ``ids`` that
        the matrix holds with one (:class:`~indexing.embeddings.titles.TitleRows`): no request."""
        rows = {self._row_of[i]: i for i in dict.fromkeys(ids) if i in self._row_of}
        return {rows[r]: v for r, v in self._titles.scores(list(rows), query).items()}

    def nearest(self, query: np.ndarray, k: int, *, exact: bool = False, feedback: int = FEEDBACK,
                centred: bool = True) -> list[tuple[str, float]]:
        """The ``k`` rows most similar to ``query`` (a unit vector), best first: (id, score), the
        score a language-centred cosine refined by ``feedback`` rows of pseudo-relevance feedback.
        ``exact`` scores every row (for measuring what the candidate step finds);
        ``feedback=0, centred=False`` is the plain cosine (benchmarks and tests compare)."""
        n = self._store.n
        if not n or k <= 0:
            return []
        # One BLAS thread: the products are memory-bound, and a second thread spinning after
        # each of them takes the core the engine answers the keyword half of the search on
        # (hybrid search at 100k rows: p50 47 -> 25 ms on 2 cores, benchmarks/README.md).
        with _BLAS.limit(limits=1, user_api="blas"):
            return self._nearest(np.asarray(query, dtype=np.float32), min(k, n), exact, feedback, centred)

    def _nearest(self, query: np.ndarray, k: int, exact: bool, feedback: int,
                 centred: bool) -> list[tuple[str, float]]:
        n = self._store.n
        count = n if exact else max(self.min_candidates, self.oversample * k)
        rows = self._store.candidates(query, count, centred=centred)
        scores = self._store.scores(self._store.view(rows), query, centred=centred, feedback=feedback)
        return [(self._ids[i if rows is None else rows[i]], float(scores[i])) for i in best(scores, k)]


_BLAS = ThreadpoolController()


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
