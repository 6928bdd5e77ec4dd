"""Property and fuzz tests: malformed, truncated, deeply nested, huge and oddly encoded HTML.

No exception escapes ``extract``; every result is a well-formed Article; time stays bounded.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from indexing.extraction import Article, extract

SEED = (Path(__file__).resolve().parents[2] / "fixtures" / "seed-article" / "page.html").read_text(
    encoding="utf-8"
)
# Examples per property: the profile (tests/conftest.py: 60 with CI=true, fewer in the edit loop).
FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])

_FRAGMENTS = [
    "<div>",
    "</div>",
    "<p>",
    "</p>",
    "<p",
    "<article>",
    "</article>",
    "<script>",
    "</script>",
    "<style>",
    "<!--",
    "-->",
    "<![CDATA[",
    "]]>",
    "<br>",
    "<br/>",
    "<table><tr><td>",
    "</td></tr></table>",
    "<figure>",
    "<figcaption>Foto: AFP</figcaption>",
    "</figure>",
    "<img src='x.jpg'>",
    "<a href='/x'>",
    "</a>",
    "&amp;",
    "&#0;",
    "&#xD800;",
    "&nbsp;",
    "&bogus;",
    "\x00",
    "\ufeff",
    "\ud7ff",
    "<meta charset='koi8-r'>",
    "<meta charset='nonsense'>",
    '<script type="application/ld+json">{"@type":"NewsArticle","datePublished":',
    "<h1>",
    "</h1>",
    "<html lang='xx-YY'>",
    "<title>",
    "</title>",
    "<?xml version='1.0'?>",
    "<!DOCTYPE html>",
    "Krieg in der Ukraine",
    "Читайте також",
    "Lire aussi",
    "Im Vollbildmodus öffnen",
    " ",
    "\n",
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit. ",
]


def _check(article: Article) -> None:
    assert isinstance(article, Article)
    assert article.status in {"ok", "no_article"}
    assert (article.status == "ok") == (article.status_reason is None)
    assert isinstance(article.body, str)
    assert article.word_count >= 0
    for dt in (article.published, article.modified):
        assert dt is None or dt.utcoffset().total_seconds() == 0
    json.dumps(article.to_dict())


def _timed(payload: str | bytes, limit: float = 20.0) -> Article:
    start = time.perf_counter()
    article = extract(payload, url="https://news.example/a")
    assert time.perf_counter() - start < limit
    _check(article)
    return article


@FUZZ
@given(st.lists(st.sampled_from(_FRAGMENTS) | st.text(max_size=40), max_size=200))
def test_tag_soup(parts: list[str]) -> None:
    _timed("".join(parts))


@FUZZ
@given(st.binary(max_size=5000))
def test_random_bytes(data: bytes) -> None:
    _timed(data)


@FUZZ
@given(st.text(max_size=3000))
def test_random_text(text: str) -> None:
    _timed(text)


@FUZZ
@given(st.integers(min_value=0, max_value=len(SEED)))
def test_truncated_seed(cut: int) -> None:
    _timed(SEED[:cut])
    _timed(SEED.encode("utf-8")[:cut])  # may end inside a multi-byte character


@FUZZ
@given(
    st.sampled_from(
        [
            "utf-8",
            "utf-16",
            "utf-16-le",
            "utf-32",
            "cp1252",
            "latin-1",
            "cp1251",
            "koi8-r",
            "iso-8859-15",
            "mac-roman",
            "cp437",
            "utf-7",
            "shift_jis",
        ]
    )
)
def test_odd_encodings(codec: str) -> None:
    _timed(SEED.encode(codec, errors="replace"))


@pytest.mark.parametrize("depth", [300, 5_000, 50_000])
def test_deeply_nested(depth: int) -> None:
    html = "<html><body>" + "<div><span>" * depth + "Ein Satz mit Inhalt. " * 50 + "</span></div>" * depth
    _timed(html)


def test_huge_page_is_bounded() -> None:
    para = "<p>" + "Ein langer Absatz mit vielen Wörtern über den Krieg. " * 20 + "</p>"
    html = "<html><body><article><h1>Titel</h1>" + para * 8_000 + "</article></body></html>"  # ~8 MB
    art = _timed(html, limit=30.0)
    assert art.status == "ok"


def test_many_elements_are_bounded() -> None:
    html = "<html><body>" + "<table><tr><td>cell text</td></tr></table>" * 40_000 + "</body></html>"
    _timed(html, limit=30.0)


@pytest.mark.parametrize(
    "payload",
    [
        b"\xff\xfe",
        b"\x00" * 100,
        "<",
        "<html",
        "<html></html>",
        "<<<>>>",
        "<p>" * 10_000,
        "\ud800",
        b"<html>\xc3(</html>",
    ],
)
def test_edge_payloads(payload: str | bytes) -> None:
    _timed(payload)
