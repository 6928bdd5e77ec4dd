"""Query safety (issue 9): no leading or one-letter wildcards, no regular expressions, bounded
wildcard/fuzzy terms and length, a search timeout, and one clear error for what is refused."""

from __future__ import annotations

import pytest

from indexing.engine import Engine
from indexing.search import QueryError, build_request, check_query, query_string_limits
from indexing.settings import SearchSettings, Settings
from tests.indexing.search_corpus import search_options


@pytest.mark.parametrize("query", ["*krieg", "?rieg", "title:*ukraine", "n*", "(a* OR Kursk)", "+*x"])
def test_leading_and_one_letter_wildcards_are_refused(query: str) -> None:
    with pytest.raises(QueryError, match="wildcard"):
        check_query(query)


@pytest.mark.parametrize("query", ["Nordkorea*", "Kurs?", "drone~1", '"North Korea"~3', "title:Kursk", "*",
                                   "Kyiv AND (Kursk OR Belgorod)"])
def test_ordinary_syntax_passes(query: str) -> None:
    assert check_query(query) == query


def test_regular_expressions_become_literal_slashes() -> None:
    assert check_query("/.*a.*b.*c.*/") == "\\/.*a.*b.*c.*\\/"
    assert check_query("already\\/escaped") == "already\\/escaped"


@pytest.mark.parametrize(("query", "expected"), [
    # an escaped backslash does not escape the slash after it: that slash opens a regexp
    ("kursk\\\\/.*ab.*\\\\/", "kursk\\\\\\/.*ab.*\\\\\\/"),
    ("a\\\\\\\\/.*b/", "a\\\\\\\\\\/.*b\\/"),
    # an odd run of backslashes: the last one escapes the slash already
    ("a\\\\\\/b", "a\\\\\\/b"),
])
def test_escaped_backslashes_do_not_hide_a_regexp(query: str, expected: str) -> None:
    assert check_query(query) == expected


def test_too_many_expansive_terms_and_too_long_queries_are_refused() -> None:
    with pytest.raises(QueryError, match="5 wildcard or fuzzy terms"):
        check_query("ab* cd* ef~ gh~2 ij?k")
    with pytest.raises(QueryError, match="too long"):
        check_query("Kursk " * 300)
    assert check_query("Kursk*") == "Kursk*"
    with pytest.raises(QueryError):  # the limits handed in, not the process-wide settings
        check_query("Kursk*", SearchSettings(max_expansive_terms=0))


def test_the_request_carries_the_limits_and_a_timeout() -> None:
    body = build_request("Nordkorea*")
    assert body["timeout"] == "5s"
    clauses = body["query"]["bool"]["must"][0]["bool"]["should"]
    qs = [c["query_string"] for c in clauses if "query_string" in c]
    assert qs and all(q["allow_leading_wildcard"] is False for q in qs)
    assert all(q["max_determinized_states"] == query_string_limits()["max_determinized_states"] for q in qs)
    with pytest.raises(QueryError):
        build_request("*rieg")  # watches build the same request: they are refused the same way


def test_query_error_is_an_engine_error_with_one_line() -> None:
    from indexing.engine import EngineError

    with pytest.raises(EngineError) as info:
        check_query("*a")
    assert "\n" not in str(info.value)


@pytest.mark.es
def test_refused_and_malformed_queries_on_the_node(engine: Engine, es_settings: Settings) -> None:
    from indexing.index.bulk import index_documents
    from indexing.index.documents import article_to_document
    from indexing.index.setup import articles_alias, setup_indices
    from indexing.search import search

    setup_indices(engine, es_settings.index_prefix)
    doc = article_to_document({"title": "Kursk: a/b test", "body": "Troops near Kursk.", "language": "en"},
                              source="t", url="https://en.example/a")
    index_documents(engine, [doc], settings=es_settings)
    engine.refresh(articles_alias(es_settings.index_prefix))
    with pytest.raises(QueryError, match="wildcard"):
        search("*ursk", engine=engine, hybrid=False, **search_options(es_settings))
    # a regex is looked for as text, not run as an automaton
    assert search("/k.*k/", engine=engine, hybrid=False, **search_options(es_settings)).total == 0
    assert search("a/b", engine=engine, hybrid=False, **search_options(es_settings)).total == 1
    # unbalanced syntax still falls back to simple_query_string
    res = search("Kursk (troops", engine=engine, hybrid=False, **search_options(es_settings))
    assert res.total == 1 and res.query_syntax == "simple_query_string"


def test_the_cli_prints_a_refused_query_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    from warwatch.cli import main

    assert main(["search", "*krieg"]) == 2
    err = capsys.readouterr().err.strip()
    # one message (the console may wrap it at its width), no traceback
    assert err.startswith("error: wildcard '*krieg'") and "Traceback" not in err
    assert err.count("error:") == 1


@pytest.mark.es
def test_highlights_carry_page_text_escaped(engine: Engine, es_settings: Settings) -> None:
    """Only the engine's <em> tags are markup in a highlight; the page's own text (here a
    literal <script> and &) comes HTML-escaped (the engine's encoder "html")."""
    from indexing.index.bulk import index_documents
    from indexing.index.documents import article_to_document
    from indexing.index.setup import articles_alias, setup_indices
    from indexing.search import search

    setup_indices(engine, es_settings.index_prefix)
    doc = article_to_document({"title": "Kursk <b>raid</b>", "body": "Troops near Kursk <script>x()</script> & co.",
                               "language": "en"}, source="t", url="https://en.example/h")
    index_documents(engine, [doc], settings=es_settings)
    engine.refresh(articles_alias(es_settings.index_prefix))
    (hit,) = search("Kursk", engine=engine, hybrid=False, **search_options(es_settings)).hits
    joined = " ".join(hit.highlights)
    assert "<em>Kursk</em>" in joined
    assert "&lt;script&gt;" in joined and "&amp; co" in joined and "&lt;b&gt;" in joined
    assert "<script>" not in joined and "<b>" not in joined
