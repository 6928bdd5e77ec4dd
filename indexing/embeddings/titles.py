"""Title vectors: each article's headline embedded on its own, for hybrid fusion's title closeness
(:func:`indexing.embeddings.fusion.retitle`).

The article's vector (title and lead, :func:`indexing.embeddings.document_text`) knows what a
story is about; among look-alikes that share its subject, places and some of its words it puts
the story level with them. A headline says what the article is about in a few words, as a query
does, so the query's cosine with the title, language-centred as the vector side's score is
(:mod:`indexing.embeddings.refine`), tells the story from its look-alikes more often
(benchmarks/README.md, "Title closeness"). The embedding stage writes the title vector beside the
article's (``title_embedding``); the client-side matrix keeps the title rows beside its rows
(:class:`TitleRows`), the kNN path reads them with the candidates (:mod:`indexing.embeddings.knn`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from indexing.embeddings.refine import shrunk_means

#: characters of a headline embedded (a headline is shorter; a "title" that is a paragraph is cut)
TITLE_CHARS = 300


def title_text(doc: Mapping[str, Any]) -> str:
    """What is embedded as an article's title: its title, cut at a word boundary after
    :data:`TITLE_CHARS`; without a title, the start of the lead or body (so every embedded
    article has a title vector, and the embedding stage's work list empties)."""
    from indexing.embeddings import document_text

    title = str(doc.get("title") or "").strip()
    return document_text({"title": title} if title else doc, TITLE_CHARS)


def centred_scores(data: np.ndarray, langs: np.ndarray, means: np.ndarray, query: np.ndarray) -> np.ndarray:
    """The cosines of ``query`` (a unit vector) with the rows of ``data``, each minus the query's
    cosine with its language's mean (``means[langs]``)."""
    return np.asarray(data @ query - (means @ query)[langs], dtype=np.float32)


class TitleRows:
    """Title vectors aligned with a :class:`~indexing.embeddings.matrix.VectorMatrix`'s rows (a row
    may have none: an article embedded before title vectors existed), grown by doubling; per
    language the sum of its title rows and their number (the means for centring)."""

    def __init__(self, dim: int) -> None:
        self.dim, self.n = dim, 0
        self.rows = np.zeros((0, dim), dtype=np.float32)
        self.has = np.zeros(0, dtype=bool)
        self.lang = np.zeros(0, dtype=np.int32)
        self.sums = np.zeros((0, dim), dtype=np.float64)
        self.counts = np.zeros(0, dtype=np.float64)

    def _count(self, row: int, sign: float) -> None:
        if not self.has[row]:
            return
        lang = int(self.lang[row])
        if lang >= len(self.counts):
            grow = lang + 1 - len(self.counts)
            self.sums = np.vstack([self.sums, np.zeros((grow, self.dim))])
            self.counts = np.concatenate([self.counts, np.zeros(grow)])
        self.sums[lang] += sign * self.rows[row]
        self.counts[lang] += sign

    def set(self, row: int, vec: np.ndarray | None, lang: int) -> None:
        """Row ``row`` (an existing row, or the next one) holds ``vec`` (None: no title vector)."""
        if row >= len(self.rows):
            cap = max(row + 1, 2 * len(self.rows), 1024)
            self.rows = np.vstack([self.rows, np.zeros((cap - len(self.rows), self.dim), dtype=np.float32)])
            self.has = np.concatenate([self.has, np.zeros(cap - len(self.has), dtype=bool)])
            self.lang = np.concatenate([self.lang, np.zeros(cap - len(self.lang), dtype=np.int32)])
        if row < self.n:
            self._count(row, -1.0)
        self.n = max(self.n, row + 1)
        self.has[row], self.lang[row] = vec is not None, lang
        self.rows[row] = 0.0 if vec is None else vec
        self._count(row, 1.0)

    def scores(self, rows: list[int], query: np.ndarray) -> dict[int, float]:
        """Row -> the centred cosine of its title with ``query``, for those of ``rows`` that have one."""
        known = np.asarray([r for r in rows if r < self.n and self.has[r]], dtype=np.intp)
        if not len(known):
            return {}
        means = shrunk_means(self.sums, self.counts)
        values = centred_scores(self.rows[known], self.lang[known], means, np.asarray(query, dtype=np.float32))
        return {int(r): float(v) for r, v in zip(known, values, strict=True)}
