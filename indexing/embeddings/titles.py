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

from collections.abc import Mapping, Sequence
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
    language the sum of its title rows and their number (the means for centring). Kept as float16,
    as OpenSearch stores them (half the memory of float32: 77 MB per 100,000 articles; only a
    query's few candidates are ever read, as float32)."""

    def __init__(self, dim: int) -> None:
        self.dim, self.n = dim, 0
        self.rows = np.zeros((0, dim), dtype=np.float16)
        self.has = np.zeros(0, dtype=bool)
        self.lang = np.zeros(0, dtype=np.int32)
        self.sums = np.zeros((0, dim), dtype=np.float64)
        self.counts = np.zeros(0, dtype=np.float64)

    def _count(self, rows: np.ndarray, sign: float) -> None:
        """Add (``sign`` 1) or take away (-1) ``rows``' title vectors to their languages' sums."""
        rows = rows[self.has[rows]]
        if not len(rows):
            return
        langs = self.lang[rows]
        if langs.max() >= len(self.counts):
            grow = int(langs.max()) + 1 - len(self.counts)
            self.sums = np.vstack([self.sums, np.zeros((grow, self.dim))])
            self.counts = np.concatenate([self.counts, np.zeros(grow)])
        for lang in np.unique(langs):  # a few languages: one sum each (np.add.at is slow on big blocks)
            chosen = rows[langs == lang]
            self.sums[lang] += sign * self.rows[chosen].sum(axis=0, dtype=np.float64)
            self.counts[lang] += sign * len(chosen)

    def extend(self, vecs: Sequence[np.ndarray | None], langs: Sequence[int]) -> None:
        """Append rows (a None: no title vector), with their languages."""
        start, need = self.n, self.n + len(vecs)
        if need > len(self.rows):
            cap = max(need, 2 * len(self.rows), 1024)
            self.rows = np.vstack([self.rows, np.zeros((cap - len(self.rows), self.dim), dtype=np.float16)])
            self.has = np.concatenate([self.has, np.zeros(cap - len(self.has), dtype=bool)])
            self.lang = np.concatenate([self.lang, np.zeros(cap - len(self.lang), dtype=np.int32)])
        has = np.asarray([v is not None for v in vecs], dtype=bool)
        self.has[start:need], self.lang[start:need] = has, np.asarray(langs, dtype=np.int32)
        self.rows[start:need] = 0.0
        if has.any():
            self.rows[np.flatnonzero(has) + start] = np.stack([v for v in vecs if v is not None])
        self.n = need
        self._count(np.arange(start, need), 1.0)

    def set(self, row: int, vec: np.ndarray | None, lang: int) -> None:
        """Existing row ``row`` holds ``vec`` now (None: no title vector), in language ``lang``."""
        self._count(np.asarray([row]), -1.0)
        self.has[row], self.lang[row] = vec is not None, lang
        self.rows[row] = 0.0 if vec is None else vec
        self._count(np.asarray([row]), 1.0)

    def scores(self, rows: list[int], query: np.ndarray) -> dict[int, float]:
        """Row -> the centred cosine of its title with ``query``, for those of ``rows`` that have one."""
        known = np.asarray([r for r in rows if r < self.n and self.has[r]], dtype=np.intp)
        if not len(known):
            return {}
        means = shrunk_means(self.sums, self.counts)
        values = centred_scores(self.rows[known].astype(np.float32), self.lang[known], means,
                                np.asarray(query, dtype=np.float32))
        return {int(r): float(v) for r, v in zip(known, values, strict=True)}
