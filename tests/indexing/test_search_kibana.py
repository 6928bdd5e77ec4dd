"""Kibana's reach: what enrichment knows goes into the documents as labels in every language, in
the index's default query fields, so a query string without field names (Kibana's search bar)
finds coverage in any language."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from indexing.index.documents import article_to_document
from indexing.index.templates import DEFAULT_QUERY_FIELDS, component_templates
from indexing.settings import get_settings

SEED = Path(__file__).resolve().parent.parent / "fixtures" / "seed-article" / "page.html"


def _doc(article: dict[str, Any], url: str) -> dict[str, Any]:
    from indexing.enrich import enrich

    return article_to_document(article, source="test", url=url, enrichment=enrich(article))


def test_labels_carry_topics_and_entities_in_every_language() -> None:
    doc = _doc({"title": "Nordkoreanische Soldaten in Russland eingetroffen", "language": "de",
                "body": "Tausende nordkoreanische Soldaten sind in Russland angekommen. Nordkorea schweigt."},
               "https://de.example/nk")
    assert "north-korean-troops-in-russia" in doc["topics"]
    assert "North Korean troops in Russia" in doc["labels_en"]
    assert "North Korean troops" in doc["labels_en"]
    assert "Північнокорейські війська в Росії" in doc["labels_uk"]
    assert "Corée du Nord" in doc["labels_fr"]
    assert "КНДР" in doc["labels_other"]  # a language-neutral alias
    assert not any("*" in form for field, forms in doc.items() if field.startswith("labels_") for form in forms)


def test_an_untagged_article_has_no_labels() -> None:
    doc = _doc({"title": "Wetter: Sonne am Wochenende", "body": "Es bleibt trocken.", "language": "de"},
               "https://de.example/wetter")
    assert not [k for k in doc if k.startswith("labels_")]


def test_default_query_fields_are_in_the_template() -> None:
    settings = component_templates("p-")["p-articles-mappings"]["template"]["settings"]
    assert settings["index"]["query"]["default_field"] == list(DEFAULT_QUERY_FIELDS)
    assert "labels_*" in DEFAULT_QUERY_FIELDS and "body_*" in DEFAULT_QUERY_FIELDS


ARTICLES = [
    {"language": "en", "title": "North Korea tests a new missile", "url": "https://en.example/nk-missile",
     "body": "North Korea fired a ballistic missile into the sea, South Korea's military said. Troops were "
             "on alert."},
    {"language": "en", "title": "Troops rotate out of Avdiivka", "url": "https://en.example/troops",
     "body": "Ukrainian troops rotated out of positions near Avdiivka after weeks of fighting."},
    {"language": "fr", "title": "La Corée du Nord organise un défilé", "url": "https://fr.example/defile",
     "body": "Pyongyang a organisé un défilé militaire pour l'anniversaire du parti."},
    {"language": "de", "title": "Kim Jong Un besucht eine Fabrik", "url": "https://de.example/kim",
     "body": "Nordkoreas Machthaber hat eine Munitionsfabrik besichtigt, meldeten Staatsmedien."},
    {"language": "uk", "title": "Солдати отримали нові бронежилети", "url": "https://uk.example/armor",
     "body": "Українські солдати на фронті отримали партію нових бронежилетів."},
]


@pytest.mark.es
@pytest.mark.parametrize("query", ["North Korean troops", "Північнокорейські війська"])
def test_a_bare_query_string_finds_the_german_seed(index_prefix: str, query: str) -> None:
    """What Kibana's search bar sends: query_string without fields, default operator OR."""
    from indexing.engine import connect
    from indexing.extraction import extract
    from indexing.index.bulk import index_documents
    from indexing.index.setup import articles_alias, setup_indices

    engine = connect(get_settings())
    setup_indices(engine, get_settings().index_prefix)
    seed_url = "https://weltnachrichten-heute.example/2024/10/28/nato-bestaetigt-praesenz-nordkoreanischer-soldaten-in-russland/"
    seed = extract(SEED.read_bytes(), url=seed_url).to_dict()
    docs = [_doc(seed, seed_url)] + [_doc(a, a["url"]) for a in ARTICLES]
    assert index_documents(engine, docs, settings=get_settings())["indexed"] == len(docs)
    engine.refresh(articles_alias(get_settings().index_prefix))
    for body in ({"query": {"query_string": {"query": query}}},
                 # Kibana's KQL free text: a multi_match without fields
                 {"query": {"multi_match": {"query": query, "type": "best_fields", "lenient": True}}}):
        hits = engine.search(articles_alias(get_settings().index_prefix), {**body, "size": 3})["hits"]["hits"]
        assert seed_url in [h["_source"]["url"] for h in hits], (body, [h["_source"]["title"] for h in hits])
