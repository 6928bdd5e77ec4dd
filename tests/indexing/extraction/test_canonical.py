"""The one rel=canonical rule: the crawler and the extractor agree on every page."""

from __future__ import annotations

import pytest

from crawlers.links import extract_canonical
from indexing.extraction import extract

BASE = "https://news.example.com/world/a-story"
BODY = "<p>" + "A sentence of the article that goes on for a while. " * 12 + "</p>"


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        ('<link rel="canonical" href="/world/story-one">', "https://news.example.com/world/story-one"),
        ('<link rel="Canonical" href="https://other.example/x">', "https://other.example/x"),
        ('<link rel="alternate canonical" href="/y">', "https://news.example.com/y"),
        # an unusable canonical is skipped, the next usable one wins
        ('<link rel="canonical" href="javascript:void(0)"><link rel="canonical" href="/z">',
         "https://news.example.com/z"),
        ('<link rel="canonical" href="mailto:x@example.com">', None),
        ('<link rel="amphtml" href="/amp">', None),
    ],
)
def test_crawler_and_extractor_share_the_rule(head: str, expected: str | None) -> None:
    page = f"<html><head><title>T</title>{head}</head><body><article>{BODY}</article></body></html>"
    assert extract_canonical(page.encode(), BASE) == expected
    # the extractor falls back to the page URL when the page declares nothing usable
    assert extract(page, url=BASE).canonical_url == (expected or BASE)
