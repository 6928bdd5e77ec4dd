"""The refined cosine of the vector side, over any set of candidate vectors: language centring
and pseudo-relevance feedback (the reasons are in :mod:`indexing.embeddings.matrix`'s
docstring). The client-side matrix applies it to its candidates, the engine's kNN path
(:mod:`indexing.embeddings.knn`) to the candidates the engine returns."""

from __future__ import annotations

import numpy as np

#: pseudo-relevance feedback: best articles of the first scoring added to the query (0: none),
#: and their weight against the query. A quarter since issue #15 round 8 (benchmarks/README.md,
#: "A quarter of the feedback"): it pulls up the rest of a story covered in many languages, but at
#: full weight it pulls the query towards whatever ranks first - for a story covered in one or
#: two languages a look-alike or another story's coverage - and the story falls (vectors only,
#: one-language stories queried in another language: precision 0.163 at full weight, 0.372 with
#: none)
FEEDBACK = 3
FEEDBACK_WEIGHT = 0.25
#: language centring: a language's mean vector is shrunk towards the mean of all rows as if it
#: had this many more articles (a language with a handful of articles has no reliable mean)
CENTRING_PRIOR = 5


def shrunk_means(sums: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Per language (rows of ``sums``, ``counts`` articles each): the mean vector, shrunk
    towards the mean of all articles by :data:`CENTRING_PRIOR`."""
    overall = sums.sum(axis=0) / max(float(counts.sum()), 1.0)
    means = (sums + CENTRING_PRIOR * overall) / (counts[:, None] + CENTRING_PRIOR)
    return np.asarray(means, dtype=np.float32)


def rescore(
    data: np.ndarray,
    langs: np.ndarray,
    means: np.ndarray | None,
    query: np.ndarray,
    *,
    centred: bool = True,
    feedback: int = FEEDBACK,
) -> np.ndarray:
    """Scores of the rows of ``data`` (unit vectors; ``langs``: each row's language as a row of
    ``means``) for ``query``: the cosine, minus the query's cosine with the row's language mean
    when ``centred``, re-scored with the query plus the mean of the ``feedback`` best rows."""

    def score(q: np.ndarray) -> np.ndarray:
        s = data @ q
        return s - (means @ q)[langs] if centred and means is not None else s

    scores = score(query)
    if feedback > 0 and len(scores):
        refined = query + FEEDBACK_WEIGHT * data[best(scores, feedback)].mean(axis=0)
        scores = score(refined / (np.linalg.norm(refined) or 1.0))
    return scores


def best(scores: np.ndarray, k: int) -> np.ndarray:
    """Positions of the ``k`` highest ``scores``, best first."""
    k = min(k, len(scores))
    if k <= 0:
        return np.zeros(0, dtype=np.intp)
    top = np.argpartition(-scores, k - 1)[:k]
    return top[np.argsort(-scores[top], kind="stable")]


def centred_unit(data: np.ndarray, langs: np.ndarray, means: np.ndarray) -> np.ndarray:
    """The rows of ``data`` minus their language's mean (``means[langs]``), scaled to unit
    length: what two articles have in common beyond being in the same language (coverage of one
    story in two languages: ~0.45-0.85; a same-language look-alike: mostly under 0.4). Used by
    hybrid fusion's cross-lingual agreement (:mod:`indexing.embeddings.fusion`)."""
    centred = np.asarray(data, dtype=np.float32) - means[langs]
    norms = np.linalg.norm(centred, axis=1, keepdims=True)
    return np.asarray(centred / np.where(norms > 0, norms, 1.0), dtype=np.float32)
