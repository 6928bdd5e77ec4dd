"""Hybrid retrieval on the real node: stories outside the topic list, written natively in seven
languages with look-alikes (tests/fixtures/crosslingual: the dev fixture and the validation
fixture, indexed together), found from a query in any of them."""

from __future__ import annotations

import statistics
from collections.abc import Iterator
from typing import Any

import pytest

from indexing.settings import get_settings, reset_settings
from tests.indexing import crosslingual_corpus as xc
from tests.indexing.search_corpus import search_options

pytestmark = pytest.mark.es


@pytest.fixture(scope="module")
def corpus(es_url: str) -> Iterator[tuple[Any, list[dict[str, Any]], dict[str, Any], str]]:
    """The fixture indexed and embedded once for the module (as the pipeline does it)."""
    from indexing.embeddings.stage import embed_pending
    from tests.indexing.search_corpus import fresh_index, index_articles

    with fresh_index(es_url) as (engine, prefix):
        fixtures = {path.stem: xc.load(path) for path in (xc.FIXTURE, xc.VALIDATION)}
        articles = [a for arts, _ in fixtures.values() for a in arts]
        assert index_articles(engine, articles)["indexed"] == len(articles)
        assert embed_pending(engine, settings=get_settings()).embedded == len(articles)
        yield engine, articles, fixtures, prefix


@pytest.fixture
def env(corpus: Any, es_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The module's corpus, with the settings pointing at it for this test."""
    monkeypatch.setenv("WARWATCH_ES_URL", es_url)
    monkeypatch.setenv("WARWATCH_INDEX_PREFIX", corpus[3])
    reset_settings()
    return corpus[:3]


@pytest.mark.parametrize("fixture", ["stories", "stories-validation"])
def test_any_story_in_any_language(env: Any, fixture: str) -> None:
    engine, _, fixtures = env
    articles, queries = fixtures[fixture]
    keyword = xc.evaluate(engine, articles, queries, hybrid=False)
    hybrid = xc.evaluate(engine, articles, queries, hybrid=True)
    got, before = xc.summary(hybrid), xc.summary(keyword)
    misses = [(r["query"], round(r["recall"], 2), round(r["precision"], 2)) for r in hybrid
              if r["recall"] < 1 or r["precision"] < 1]
    assert got["recall"] >= 0.9 and got["precision"] >= 0.8, (got, misses)
    assert got["recall"] > before["recall"] + 0.3  # what the vectors add to the keyword search
    for lang in xc.LANGUAGES:  # every query language gets there, not only on average
        rows = [r for r in hybrid if r["lang"] == lang]
        assert xc.summary(rows)["recall"] >= 0.9 and xc.summary(rows)["precision"] >= 0.8, (lang, rows)


def test_centring_and_feedback_refine_the_vector_side(env: Any) -> None:
    """The client-side matrix's ranking, measured against plain cosine on both fixtures (every story
    covered in seven languages): language centring and pseudo-relevance feedback each add
    precision, together the most."""
    from indexing.embeddings import get_embedder
    from indexing.embeddings.matrix import matrix_for
    from indexing.embeddings.retrieval import query_vector
    from indexing.index.setup import articles_alias

    engine, articles, fixtures = env
    embedder = get_embedder(get_settings().embeddings)
    assert embedder is not None and embedder.name.endswith("-sym")  # articles embedded as queries
    matrix = matrix_for(engine, articles_alias(get_settings().index_prefix), embedder.name, embedder.dim)
    assert len(matrix) == len(articles)
    hits = engine.search(articles_alias(get_settings().index_prefix), {"query": {"match_all": {}}, "size": len(articles), "_source": ["url"]})
    url_by_id = {h["_id"]: h["_source"]["url"] for h in hits["hits"]["hits"]}
    assert set(url_by_id.values()) == {a["url"] for a in articles}

    def precision(**ranking: Any) -> float:
        rows = []
        for arts, queries in fixtures.values():
            for story, by_lang in queries.items():
                coverage = {a["url"] for a in arts if a["story"] == story}
                for q in (q for qs in by_lang.values() for q in qs):
                    vec = query_vector(q, embedder)
                    urls = [url_by_id[i] for i, _ in matrix.nearest(vec, 10, **ranking)]
                    rows.append(xc.measure(urls, coverage)[1])
        return statistics.mean(rows)

    plain, centred = precision(feedback=0, centred=False), precision(feedback=0)
    feedback, both = precision(centred=False), precision()
    assert centred > plain + 0.05 and feedback > plain + 0.05, (plain, centred, feedback)
    assert both > max(centred, feedback) and both >= 0.9, (plain, centred, feedback, both)


def test_filters_apply_to_vector_hits(env: Any) -> None:
    from indexing.search import search

    engine, _, _ = env
    res = search("underground school", engine=engine, lang="pl,es", **search_options(get_settings()))
    assert res.retrieval == "hybrid"
    assert res.hits and {h.language for h in res.hits} <= {"pl", "es"}
    assert res.hits[0].url in {"https://pl.xl.example/underground-school", "https://es.xl.example/underground-school"}


def test_explicit_queries_and_date_order_stay_keyword(env: Any) -> None:
    from indexing.search import search

    engine, _, _ = env
    assert search("title:Kharkiv", engine=engine, **search_options(get_settings())).retrieval == "keyword"
    assert search("underground school", engine=engine, order="date", **search_options(get_settings())).retrieval == "keyword"
    assert search("underground school", engine=engine, hybrid=False, **search_options(get_settings())).retrieval == "keyword"


def test_without_a_model_search_is_keyword_only(env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from indexing.search import search

    engine, _, _ = env
    monkeypatch.setenv("WARWATCH_EMBEDDINGS__BACKEND", "none")
    reset_settings()
    res = search("underground school Kharkiv", engine=engine, **search_options(get_settings()))
    assert res.retrieval == "keyword" and res.hits


def test_the_cli_search_uses_the_vectors(env: Any, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    """`warwatch search` hands the embedding settings in: with ``search.hybrid`` on (the default)
    an English query finds the Polish and Spanish coverage, which shares no word with it; with
    ``search.hybrid`` off the same command finds none of it (so the hits above are the vectors')."""
    import json

    from warwatch.cli import main

    coverage = {"https://pl.xl.example/underground-school", "https://es.xl.example/underground-school"}

    def cli() -> list[str]:
        assert main(["search", "underground school", "--lang", "pl,es", "--json"]) == 0
        return [h["url"] for h in json.loads(capsys.readouterr().out)["hits"]]

    assert get_settings().search.hybrid  # the default
    hybrid = cli()
    assert hybrid and hybrid[0] in coverage, hybrid
    monkeypatch.setenv("WARWATCH_SEARCH__HYBRID", "false")
    reset_settings()
    assert not set(cli()) & coverage
