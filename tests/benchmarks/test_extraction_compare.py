"""benchmarks/extraction_compare.py: another checkout's extraction imported beside this one, pages
of either dataset layout, differences named field by field."""

from __future__ import annotations

import itertools
from pathlib import Path

from benchmarks.extraction_compare import compare, differing_fields, iter_pages, load_other_extraction
from indexing.extraction import extract

REPO = Path(__file__).resolve().parents[2]
QUALITY = REPO / "tests" / "fixtures" / "quality"


def test_both_layouts_are_read() -> None:
    articles = list(itertools.islice(iter_pages(QUALITY / "articles"), 2))
    snippets = list(itertools.islice(iter_pages(QUALITY / "snippets"), 2))
    assert all(isinstance(html, str) and html for _, _, html in articles)
    assert all(isinstance(html, bytes) and html for _, _, html in snippets)
    assert all(url for _, url, _ in articles)


def test_this_checkout_against_itself_has_no_difference() -> None:
    other = load_other_extraction(REPO, "_extraction_under_test")
    assert other.extract is not extract  # a second copy of the package, not this one
    assert other.extract.__module__.startswith("_extraction_under_test")
    count, differences = compare(itertools.islice(iter_pages(QUALITY / "articles"), 3), extract, other.extract)
    assert count == 3
    assert differences == []


def test_a_difference_is_named() -> None:
    assert differing_fields({"body": "a", "title": "t"}, {"body": "b", "title": "t"}) == ["body"]
    assert differing_fields({"body": "a"}, {"body": "a", "lead": "x"}) == ["lead"]

    def shorter(html: str, url: str | None) -> object:
        art = extract(html, url=url)
        art.body = art.body[:10]
        return art

    count, differences = compare(itertools.islice(iter_pages(QUALITY / "articles"), 1), extract, shorter)
    assert count == 1 and [d[1] for d in differences] == [["body"]]
