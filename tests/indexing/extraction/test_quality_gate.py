"""Quality gate: extraction F1 over saved real pages must not drop below today's figure - 0.01.

The pages and their expected texts/snippets are copied from the development datasets
(tests/fixtures/quality/README.md). The floors are the figures measured when the gate was set
(see benchmarks/README.md) minus a margin of 0.01: a change that lowers extraction quality fails
here, in the suite, instead of in a benchmark run by hand.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from indexing.extraction import extract
from indexing.extraction.evaluation import aggregate, shingle_page_score, snippet_page_score

ROOT = Path(__file__).resolve().parents[2] / "fixtures" / "quality"
MARGIN = 0.01
# Measured on these fixtures with the extractor of this commit (benchmarks/README.md).
MEASURED = {
    "articles": 0.9897,
    "snippets": 0.9532,
    "snippets_de_fr": 0.9467,
}


def _html(path: Path) -> str:
    return gzip.decompress(path.read_bytes()).decode("utf-8", errors="replace")


@pytest.fixture(scope="module")
def article_scores() -> dict[str, float]:
    truth = json.loads((ROOT / "articles" / "ground-truth.json").read_text(encoding="utf-8"))
    assert len(truth) == 30
    rows = []
    for page_id, item in truth.items():
        body = extract(_html(ROOT / "articles" / "html" / f"{page_id}.html.gz"), url=item["url"]).body
        rows.append(shingle_page_score(item["articleBody"], body))
    return aggregate(rows)


@pytest.fixture(scope="module")
def snippet_rows() -> list[tuple[str, tuple[float | None, float | None]]]:
    data = json.loads((ROOT / "snippets" / "snippets.json").read_text(encoding="utf-8"))
    assert len(data) == 60
    rows = []
    for key, item in data.items():
        body = extract(_html(ROOT / "snippets" / "html" / f"{key}.html.gz"), url=item["url"] or None).body
        rows.append((item["language"], snippet_page_score(body, item["with"], item["without"])))
    return rows


def test_english_article_f1_holds(article_scores: dict[str, float]) -> None:
    assert article_scores["pages"] == 30
    assert article_scores["f1"] >= MEASURED["articles"] - MARGIN, article_scores


def test_snippet_f1_holds(snippet_rows: list[tuple[str, tuple[float | None, float | None]]]) -> None:
    overall = aggregate(score for _, score in snippet_rows)
    assert overall["f1"] >= MEASURED["snippets"] - MARGIN, overall


def test_german_french_snippet_f1_holds(snippet_rows: list[tuple[str, tuple[float | None, float | None]]]) -> None:
    de_fr = aggregate(score for lang, score in snippet_rows if lang in {"de", "fr"})
    assert de_fr["pages"] == 34
    assert de_fr["f1"] >= MEASURED["snippets_de_fr"] - MARGIN, de_fr
