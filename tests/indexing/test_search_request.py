"""What ``search()`` hands on: one frozen :class:`SearchRequest`, not a dict read by string; and
the names callers import from ``indexing.search`` (a package of modules by job)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

import indexing.embeddings as embeddings_module
import indexing.search as search_module
from indexing.embeddings import EmbeddingError
from indexing.search import Expansion, QueryError, SearchRequest, SearchResult, build_request, search
from indexing.settings import EmbeddingSettings, SearchSettings

_EMPTY = {"hits": {"total": {"value": 0}, "hits": []}, "took": 3}


def test_a_request_is_frozen_and_builds_the_same_body_as_build_request() -> None:
    exp = Expansion(groups=[{"en": ["North Korea"]}], kinds=["entity"], entities=["north-korea"])
    options: dict[str, Any] = dict(lang="de,en", source="a,b", topic="t", entity="e", since="2024-10-01",
                                   until="2024-10-28", size=7, order="date", facets=True, translit=False)
    request = SearchRequest("Nordkorea Truppen", expansion=exp, **options)
    with pytest.raises(dataclasses.FrozenInstanceError):
        request.size = 8  # type: ignore[misc]
    for syntax in ("query_string", "simple_query_string"):
        assert request.body(syntax) == build_request("Nordkorea Truppen", expansion=exp, syntax=syntax, **options)
    assert request.filters() == request.body()["query"]["bool"]["filter"]
    assert len(request.filters()) == 5  # language, source, topic, entity, published range
    assert dataclasses.replace(request, size=50).body()["size"] == 50


def test_search_hands_one_request_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every option of search() arrives in the request (the ``search`` settings handed in too), the
    expansion from ``indexing.search.expand``
    (replaced here, so a test's replacement takes effect), the query with its colon neutralised;
    no engine is asked anything."""
    seen: list[SearchRequest] = []

    def run(engine: object, index: str, request: SearchRequest, shape: object = None) -> tuple[dict[str, Any], str]:
        assert engine == "no engine" and index == "idx" and shape is None
        seen.append(request)
        return _EMPTY, "query_string"

    marker = Expansion(topics=["marker"])
    limits = SearchSettings(timeout="7s", max_query_chars=50)
    monkeypatch.setattr(search_module, "run", run)
    monkeypatch.setattr(search_module, "expand", lambda q: marker)
    result = search("Report 3: drones", lang="uk", source="s", topic="t", entity="e", since="2024-01-01",
                    until="2024-01-31", size=4, order="date", facets=True, translit=False, hybrid=False,
                    engine="no engine", index="idx", settings=limits, embeddings=None)  # type: ignore[arg-type]
    assert result.total == 0 and result.took_ms == 3 and result.facets is not None
    assert seen == [SearchRequest("Report 3  drones", lang="uk", source="s", topic="t", entity="e",
                                  since="2024-01-01", until="2024-01-31", size=4, order="date", facets=True,
                                  translit=False, expansion=marker, limits=limits)]
    assert seen[0].body()["timeout"] == "7s"  # the settings handed in, not the process-wide ones
    with pytest.raises(QueryError):  # and the query limits come from them too
        search("x" * 60, engine="no engine", index="idx", settings=limits, embeddings=None)  # type: ignore[arg-type]



class _SpyEmbedder:
    """Stands for the model the embedding settings name (never run here: hybrid_search is replaced)."""

    name, dim = "spy", 3

    def embed(self, texts: Any, *, query: bool = False) -> Any:
        raise AssertionError("not called")


def test_the_vector_half_embeds_with_the_settings_handed_in(monkeypatch: pytest.MonkeyPatch) -> None:
    """search() builds the embedder from the ``embeddings`` argument (no process-wide lookup) and
    hands it to the hybrid half; no model, or one that cannot load, is keyword-only on purpose; a
    caller that leaves ``embeddings`` out is refused instead of quietly searching by keyword."""
    built: list[EmbeddingSettings] = []
    handed: list[Any] = []

    def build(config: EmbeddingSettings) -> Any:
        built.append(config)
        if config.backend == "broken":
            raise EmbeddingError("model missing")
        return None if config.backend == "none" else _SpyEmbedder()

    def hybrid(engine: Any, index: str, request: SearchRequest, embedder: Any) -> SearchResult:
        handed.append(embedder)
        return SearchResult(total=1, hits=[], retrieval="hybrid")

    monkeypatch.setattr(embeddings_module, "build_embedder", build)
    monkeypatch.setattr(search_module, "hybrid_search", hybrid)
    monkeypatch.setattr(search_module, "run", lambda *a, **kw: (_EMPTY, "query_string"))
    embeddings_module._cached.cache_clear()  # the spy must not outlive this test
    try:
        config = EmbeddingSettings(backend="openai", url="http://127.0.0.1:9", model="spy-model")

        def retrieval(embeddings: EmbeddingSettings | None, **kw: Any) -> str:
            return search("underground school", engine="e", index="i", settings=SearchSettings(**kw),  # type: ignore[arg-type]
                          embeddings=embeddings).retrieval

        assert retrieval(config) == "hybrid"
        assert built == [config] and len(handed) == 1 and isinstance(handed[0], _SpyEmbedder)
        assert retrieval(config, hybrid=False) == "keyword"  # search.hybrid off: no model asked
        assert retrieval(None) == "keyword"
        assert retrieval(EmbeddingSettings(backend="none")) == "keyword"
        assert retrieval(EmbeddingSettings(backend="broken")) == "keyword"  # logged, not raised
        assert len(handed) == 1 and [c.backend for c in built] == ["openai", "none", "broken"]
        with pytest.raises(TypeError, match="embeddings"):
            search("underground school", engine="e", index="i", settings=SearchSettings())  # type: ignore[arg-type, call-arg]
    finally:
        embeddings_module._cached.cache_clear()


def test_the_names_callers_import_are_there() -> None:
    """The names imported from ``indexing.search`` across the repository (CLI, alerts, demo,
    benchmarks, tests) before it became a package."""
    names = ["QueryError", "SearchHit", "SearchResult", "Expansion", "TYPED_BONUS", "search", "build_request",
             "build_query", "check_query", "complete_clause", "expand", "is_explicit", "is_syntax_error",
             "neutralise_colons", "parse_hit", "query_string_limits", "translit_clause", "_to_datetime"]
    missing = [n for n in names if not hasattr(search_module, n)]
    assert missing == []
    assert set(search_module.__all__) <= set(dir(search_module))
