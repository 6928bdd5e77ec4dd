from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

from indexing.enrich import Gazetteer, TopicSet, load_gazetteer, load_topics

SEED_PAGE = Path(__file__).resolve().parents[2] / "fixtures" / "seed-article" / "page.html"


@pytest.fixture(scope="session")
def topics() -> TopicSet:
    return load_topics()


@pytest.fixture(scope="session")
def gazetteer() -> Gazetteer:
    return load_gazetteer()


def crude_text(page: str) -> str:
    """The page's text without any extraction logic: tags stripped, entities decoded."""
    page = re.sub(r"(?is)<(script|style|noscript)[^>]*>.*?</\1>", " ", page)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


@pytest.fixture(scope="session")
def seed_page() -> str:
    return SEED_PAGE.read_text(encoding="utf-8")
