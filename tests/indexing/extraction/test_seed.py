"""The seed page: every expectation of tests/fixtures/seed-article/expected.json holds."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

import pytest

from indexing.extraction import Article, extract

SEED = Path(__file__).resolve().parents[2] / "fixtures" / "seed-article"


@pytest.fixture(scope="module")
def expected() -> dict:
    return json.loads((SEED / "expected.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def article(expected: dict) -> Article:
    return extract((SEED / "page.html").read_bytes(), url=expected["url"])


def test_status_ok(article: Article) -> None:
    assert article.status == "ok"
    assert article.status_reason is None
    assert article.word_count > 200


@pytest.mark.parametrize("field", ["title", "section", "language", "site_name"])
def test_metadata_field(article: Article, expected: dict, field: str) -> None:
    assert getattr(article, field) == expected[field]


def test_dates_in_utc(article: Article, expected: dict) -> None:
    for field in ("published", "modified"):
        value = getattr(article, field)
        assert value is not None and value.utcoffset().total_seconds() == 0
        assert value == datetime.fromisoformat(expected[field])


def test_tags(article: Article, expected: dict) -> None:
    assert article.tags == expected["tags"]


def test_canonical_url_absolute(article: Article, expected: dict) -> None:
    assert article.canonical_url == expected["url"]


def test_body_must_contain(article: Article, expected: dict) -> None:
    for snippet in expected["body_must_contain"]:
        assert snippet in article.body, snippet


def test_body_must_not_contain(article: Article, expected: dict) -> None:
    for snippet in expected["body_must_not_contain"]:
        assert snippet not in article.body, snippet


def test_separate_tokens(article: Article, expected: dict) -> None:
    tokens = re.findall(r"\w+", article.body)
    pairs = set(zip(tokens, tokens[1:], strict=False))
    for first, second in expected["separate_tokens"]:
        assert (first, second) in pairs, (first, second)
        assert first + second not in tokens


def test_images_with_captions_and_credits(article: Article, expected: dict) -> None:
    for want in expected["images"]:
        matches = [img for img in article.images if img.src.endswith(want["src_endswith"])]
        assert matches, want["src_endswith"]
        img = matches[0]
        assert img.src.startswith("https://")
        if "caption" in want:
            assert img.caption == want["caption"]
        if "caption_startswith" in want:
            assert img.caption and img.caption.startswith(want["caption_startswith"])
        assert img.credit == want["credit"]
        # captions and credits live in images, not in the body
        assert img.credit not in article.body
        assert img.caption and img.caption not in article.body


def test_body_is_paragraphs(article: Article) -> None:
    paragraphs = article.body.split("\n\n")
    assert len(paragraphs) >= 8
    assert all(p.strip() == p and p for p in paragraphs)
    assert "Die Forderung der Ukraine nach mehr Waffen" in paragraphs  # heading: own paragraph


def test_to_dict_is_json(article: Article) -> None:
    data = json.loads(json.dumps(article.to_dict()))
    assert data["published"] == "2024-10-28T21:42:00+00:00"
    assert data["images"][0]["credit"] == "Getty Images / PHIL NIJHUIS / AFP"
    assert set(data) >= {
        "url",
        "title",
        "lead",
        "body",
        "authors",
        "published",
        "modified",
        "section",
        "tags",
        "language",
        "canonical_url",
        "site_name",
        "images",
        "word_count",
        "status",
        "status_reason",
    }
