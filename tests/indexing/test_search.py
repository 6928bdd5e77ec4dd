"""Search against the real node: the seed article (extracted from its saved page), saved pages in
five languages and a multilingual corpus of stories with look-alikes (search_corpus.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from indexing.engine import Engine, connect
from indexing.extraction import extract
from indexing.index.setup import setup_indices
from indexing.search import SearchResult, search
from indexing.settings import get_settings
from tests.indexing.search_corpus import QUERIES, STORIES, corpus, index_articles, search_options

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SEED_DIR = FIXTURES / "seed-article"
SEED_URL = "https://weltnachrichten-heute.example/2024/10/28/nato-bestaetigt-praesenz-nordkoreanischer-soldaten-in-russland/"
PAGES = {  # saved pages of other sites: more realistic competition for the ranking
    "de-zeitung.html": "https://zeitung.example/artikel/1",
    "en-wire.html": "https://dispatch.example/world/odesa",
    "fr-journal.html": "https://journal.example/monde/1",
    "uk-novyny.html": "https://novyny.example/news/1",
    "ru-cp1251.html": "https://gazeta.example/news/1",
}


@pytest.fixture(scope="module")
def indexed(es_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One index for the whole module (indexing is the slow part); its own prefix, removed after."""
    import os
    import uuid

    from indexing.settings import reset_settings
    from tests.conftest import _cleanup_prefix

    prefix = f"ww-test-{uuid.uuid4().hex[:8]}-"
    saved = {k: os.environ.get(k) for k in ("WARWATCH_ES_URL", "WARWATCH_INDEX_PREFIX", "WARWATCH_DATA_DIR")}
    os.environ.update({"WARWATCH_ES_URL": es_url, "WARWATCH_INDEX_PREFIX": prefix,
                       "WARWATCH_DATA_DIR": str(tmp_path_factory.mktemp("data"))})
    reset_settings()
    engine = connect(get_settings())
    try:
        setup_indices(engine, get_settings().index_prefix)
        seed = extract((SEED_DIR / "page.html").read_bytes(), url=SEED_URL).to_dict()
        seed.update(url=SEED_URL, source="weltnachrichten-heute")
        pages = []
        for name, url in PAGES.items():
            art = extract((FIXTURES / "pages" / name).read_bytes(), url=url).to_dict()
            art.update(url=url, source=name.split(".")[0])
            pages.append(art)
        docs = corpus()
        counts = index_articles(engine, [seed, *pages, *docs])
        assert counts["failed"] == 0
        yield {"engine": engine, "prefix": prefix, "seed": seed, "corpus": docs}
    finally:
        engine.close()
        _cleanup_prefix(es_url, prefix)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        reset_settings()


@pytest.fixture
def env(indexed: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    # The autouse settings reset runs per test: point it at the module's index again.
    from indexing.settings import reset_settings

    monkeypatch.setenv("WARWATCH_INDEX_PREFIX", indexed["prefix"])
    reset_settings()
    return indexed


def _run(q: str, engine: Engine, **kw: Any) -> SearchResult:
    return search(q, engine=engine, **kw, **search_options(get_settings()))


@pytest.mark.parametrize("query", json.loads((SEED_DIR / "expected.json").read_text())["search"]["index_then_query"])
def test_seed_article_comes_first(env: dict[str, Any], query: str) -> None:
    """Among a site's articles (the saved pages) and the look-alikes, in every query language.
    (The corpus's own reports of the same story may legitimately outrank it in their language.)"""
    sources = ",".join(["weltnachrichten-heute", "lookalikes", *(n.split(".")[0] for n in PAGES)])
    result = _run(query, env["engine"], source=sources)
    assert result.hits, query
    assert result.hits[0].canonical_url == SEED_URL, [(h.title, h.score) for h in result.hits[:5]]


def test_json_shape_is_the_contract(env: dict[str, Any]) -> None:
    out = _run("nordkoreanische Truppen", env["engine"], size=3).to_json()
    assert set(out) == {"total", "hits"}
    assert out["total"] >= 3 and len(out["hits"]) == 3
    for hit in out["hits"]:
        assert list(hit) == ["id", "url", "canonical_url", "title", "source", "language", "published",
                             "score", "topics", "highlights"]
    top = out["hits"][0]
    assert top["language"] == "de" and "north-korean-troops-in-russia" in top["topics"]
    assert top["published"].startswith("2024-10-28")
    assert top["highlights"] and all("<em>" in h for h in top["highlights"])
    assert json.loads(json.dumps(out)) == out


def test_lang_filter_returns_only_that_language(env: dict[str, Any]) -> None:
    for lang in ("de", "uk"):
        result = _run("North Korean troops", env["engine"], lang=lang, size=50)
        assert result.total >= 1
        assert {h.language for h in result.hits} == {lang}


@pytest.mark.parametrize("story", sorted(QUERIES))
def test_cross_lingual_recall_and_lookalikes_rank_below(env: dict[str, Any], story: str) -> None:
    coverage = {a["url"] for a in env["corpus"] if a["story"] == story}
    if story == "nk-troops":
        coverage.add(SEED_URL)
    lookalikes = {a["url"] for a in env["corpus"] if a["story"] is None}
    recalls = []
    for query in QUERIES[story]:
        hits = _run(query, env["engine"], size=10).hits
        urls = [h.url for h in hits]
        found = coverage & set(urls)
        recalls.append(len(found) / len(coverage))
        langs = {h.language for h in hits if h.url in coverage}
        assert langs >= set(STORIES[story]), (query, langs)
        last_coverage = max(urls.index(u) for u in found)
        first_lookalike = min((urls.index(u) for u in lookalikes & set(urls)), default=len(urls))
        assert last_coverage < first_lookalike, (query, [(h.language, h.title, h.score) for h in hits])
    assert sum(recalls) / len(recalls) >= 0.9, recalls


def test_filters(env: dict[str, Any]) -> None:
    eng = env["engine"]
    by_topic = _run("*", eng, topic="north-korean-troops-in-russia", size=50)
    assert by_topic.total >= 6 and all("north-korean-troops-in-russia" in h.topics for h in by_topic.hits)
    by_source = _run("Truppen", eng, source="weltnachrichten-heute")
    assert [h.source for h in by_source.hits] == ["weltnachrichten-heute"]
    # An entity filter by id or by a label in another language finds the same articles.
    ids = {h.id for h in _run("*", eng, entity="kursk", size=50).hits}
    labels = {h.id for h in _run("*", eng, entity="Курськ", size=50).hits}
    assert ids and ids == labels
    day = _run("*", eng, since="2024-10-28", until="2024-10-28", size=50)
    assert day.total >= 1 and all(h.published.startswith("2024-10-28") for h in day.hits)
    none = _run("*", eng, since="2030-01-01")
    assert none.total == 0 and none.hits == []


def test_date_order_and_facets(env: dict[str, Any]) -> None:
    result = _run("*", env["engine"], order="date", size=100, facets=True)
    dates = [h.published for h in result.hits if h.published]
    assert dates == sorted(dates, reverse=True)
    facets = result.to_json()["facets"]
    assert set(facets) == {"source", "language", "topic", "entity", "day"}
    langs = {b["key"]: b["count"] for b in facets["language"]}
    assert langs["uk"] >= 3 and langs["ru"] >= 3 and sum(langs.values()) == result.total
    assert any(b["key"] == "north-korean-troops-in-russia" for b in facets["topic"])
    assert any(b["key"] == "2024-11-05" and b["count"] == 15 for b in facets["day"])


def test_query_syntax_and_fallback(env: dict[str, Any]) -> None:
    eng = env["engine"]
    phrase = _run('"nordkoreanischer Soldaten"', eng)
    assert phrase.query_syntax == "query_string" and phrase.hits[0].url == SEED_URL
    field = _run("title:Odessa", eng, size=20)
    assert field.total >= 2 and all("odessa" in (h.title or "").lower() for h in field.hits), \
        [h.title for h in field.hits]
    broken = _run('Truppen AND (Kursk "', eng)
    assert broken.query_syntax == "simple_query_string" and broken.total >= 1


@pytest.mark.parametrize(("query", "explicit"), [
    ("title:Odessa", True), ("Truppen AND Kursk", True), ("-Kursk Truppen", True),
    ("North Korean troops", False), ('"Mark Rutte"', False), ("nord-coréens", False), ("Kim Jong-un", False),
])
def test_explicit_queries_are_not_expanded(query: str, explicit: bool) -> None:
    from indexing.search import is_explicit

    assert is_explicit(query) is explicit


def test_until_a_day_includes_that_day() -> None:
    from datetime import date, datetime

    from indexing.search import _to_datetime

    assert _to_datetime("2024-10-28", end=True) == "2024-10-29T00:00:00+00:00"
    assert _to_datetime(date(2024, 10, 28), end=False) == "2024-10-28T00:00:00+00:00"
    assert _to_datetime(datetime(2024, 10, 28, 12, 30), end=True) == "2024-10-28T12:30:00+00:00"
