from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from indexing.enrich import enrich

from .conftest import SEED_PAGE, crude_text

EXPECTED = json.loads((SEED_PAGE.parent / "expected.json").read_text(encoding="utf-8"))


def _check_seed(doc: dict) -> None:
    assert doc["topics"][0] == "north-korean-troops-in-russia"
    for name in EXPECTED["entities_include"]:
        assert name in doc["entities"], name
    assert set(EXPECTED["topics"]) <= set(doc["topics"])
    # one canonical English name per entity, ids and types aligned
    assert len(doc["entity_canonical"]) == len(doc["entity_ids"]) == len(doc["entity_types"])
    assert {"Volodymyr Zelensky", "Vladimir Putin", "Andriy Yermak", "Mark Rutte"} <= set(doc["people"])
    assert "NATO" in doc["organizations"]
    assert {"North Korea", "Russia", "Kursk", "Seoul"} <= set(doc["places"])
    assert {"lat": 37.5665, "lon": 126.978} in doc["locations"]
    assert all(set(loc) == {"lat", "lon"} for loc in doc["locations"])


def test_seed_article_crude_text(seed_page: str) -> None:
    doc = enrich({"title": EXPECTED["title"], "body": crude_text(seed_page), "language": "de"})
    _check_seed(doc)


def test_seed_article_through_extraction(seed_page: str) -> None:
    from indexing.extraction import extract

    article = extract(seed_page, url=EXPECTED["url"]).to_dict()
    doc = enrich(article)
    _check_seed(doc)  # Seoul only occurs in an image caption: captions are searched for entities
    assert doc["title"] == article["title"] and doc["body"] == article["body"]


def test_enrich_tolerates_missing_and_odd_fields() -> None:
    doc = enrich({"title": None, "body": 42, "images": [None, {"caption": None}], "language": None})
    assert doc["topics"] == [] and doc["entities"] == [] and doc["locations"] == []
    assert enrich({})["entity_ids"] == []


def test_enrich_is_fast(seed_page: str) -> None:
    article = {"title": EXPECTED["title"], "body": crude_text(seed_page), "language": "de"}
    enrich(article)  # load configs
    n = 50
    start = time.perf_counter()
    for _ in range(n):
        enrich(article)
    per_doc = (time.perf_counter() - start) / n
    # a generous bound for slow CI machines; measured ~5 ms on a 2-core box
    assert per_doc < 0.05, per_doc


def test_explicit_config_paths(tmp_path: Path) -> None:
    ents = tmp_path / "e.yaml"
    ents.write_text("entities:\n  - id: x-city\n    type: place\n    name: Xcity\n    labels: {de: Xstadt}\n    lat: 1\n    lon: 2\n")
    tops = tmp_path / "t.yaml"
    tops.write_text("topics:\n  - id: xt\n    label: X\n    terms: {any: ['@x-city']}\n")
    from indexing.enrich import load_gazetteer
    from indexing.enrich.topics import parse_topics

    gz = load_gazetteer(ents)
    doc = enrich({"title": "In Xstadt", "body": ""}, topics=parse_topics(tops, gz), gazetteer=gz)
    assert doc["topics"] == ["xt"] and doc["entities"] == ["Xcity", "Xstadt"]
    assert doc["locations"] == [{"lat": 1.0, "lon": 2.0}]


@pytest.mark.parametrize("lang", ["de", "en", None])
def test_language_hint_does_not_restrict(lang: str | None) -> None:
    doc = enrich({"title": "Зеленський у Києві", "body": "", "language": lang})
    assert doc["entity_ids"] == ["volodymyr-zelensky", "kyiv"]
