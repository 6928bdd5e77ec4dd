"""Extraction quality metrics, shared by the benchmarks and the quality gate in the test suite.

- :func:`shingle_scores`: the article-extraction-benchmark's metric (Scrapinghub/Zyte): per page,
  4-token shingles of ``\\w+`` tokens, tp/fp/fn over the shingle multisets divided by their sum;
  precision and recall averaged over the pages where they are defined; F1 from the two averages.
- :func:`snippet_scores`: the usual score of trafilatura's evaluation data: per page, recall =
  share of must-have snippets found in the text, precision = share of must-not-have snippets
  absent from it; each averaged over pages, F1 from the two averages. Whitespace is collapsed
  on both sides before matching.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence

_TOKEN = re.compile(r"\w+")

PageScore = tuple[float | None, float | None]  # (precision, recall); None: undefined on this page


def shingles(text: str, n: int = 4) -> Counter[tuple[str, ...]]:
    tokens = _TOKEN.findall(text or "")
    return Counter(tuple(tokens[i : i + n]) for i in range(max(0, len(tokens) - n + 1)))


def shingle_match(truth: str, pred: str, n: int = 4) -> tuple[float, float, float]:
    """Normalised (tp, fp, fn) of one page."""
    t, p = shingles(truth, n), shingles(pred, n)
    tp = sum((t & p).values())
    fp = sum((p - t).values())
    fn = sum((t - p).values())
    total = tp + fp + fn
    if total == 0:
        return 0.0, 0.0, 0.0
    return tp / total, fp / total, fn / total


def shingle_page_score(truth: str, pred: str) -> PageScore:
    tp, fp, fn = shingle_match(truth, pred)
    return (tp / (tp + fp) if tp + fp > 0 else None, tp / (tp + fn) if tp + fn > 0 else None)


def _squash(text: str) -> str:
    return " ".join(text.split())


def snippet_page_score(text: str, with_: Sequence[str], without: Sequence[str]) -> PageScore:
    flat = _squash(text or "")
    recall = sum(_squash(s) in flat for s in with_) / len(with_) if with_ else None
    precision = sum(_squash(s) not in flat for s in without) / len(without) if without else None
    return precision, recall


def aggregate(scores: Iterable[PageScore]) -> dict[str, float]:
    """F1, precision and recall over pages (each averaged where defined), and the page count."""
    rows = list(scores)
    precisions = [p for p, _ in rows if p is not None]
    recalls = [r for _, r in rows if r is not None]
    p = statistics.mean(precisions) if precisions else 0.0
    r = statistics.mean(recalls) if recalls else 0.0
    return {"f1": 2 * p * r / (p + r) if p + r else 0.0, "precision": p, "recall": r, "pages": len(rows)}


def shingle_scores(pairs: Iterable[tuple[str, str]]) -> dict[str, float]:
    """:func:`aggregate` over (expected text, extracted text) pairs."""
    return aggregate(shingle_page_score(truth, pred) for truth, pred in pairs)
