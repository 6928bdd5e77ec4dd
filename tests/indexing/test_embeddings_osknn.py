"""The vector side on OpenSearch with its k-NN plugin (the local node's ``opensearch-knn`` engine,
shared by the session: ``knn_opensearch``): articles indices get ``index.knn``, the embedding
field becomes a ``knn_vector`` searched in the server, with the same neighbours and scores as
the client-side matrix over the same vectors; an index made without ``index.knn`` keeps the
matrix; a migration keeps the vectors searchable."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest

from indexing.settings import get_settings
from tests.indexing.test_embeddings_es import _WordsEmbedder

QUERIES = ("nordkoreanische Truppen Kursk", "drone attack Odesa", "Gefangenenaustausch", "Truppen Zorblat")
PREFIX = "ww-test-osknn-"


@contextlib.contextmanager
def _articles(url: str, prefix: str) -> Iterator[tuple[Any, str]]:
    """The search corpus in an articles index under ``prefix`` on the k-NN node, embedded by the
    stage; yields (the engine, the alias) and removes the indices after."""
    from indexing.embeddings.stage import embed_pending
    from indexing.engine import connect
    from indexing.index.setup import articles_alias, setup_indices
    from indexing.settings import reset_settings
    from tests.conftest import _cleanup_prefix
    from tests.indexing.search_corpus import corpus, index_articles

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WARWATCH_ES_URL", url)
        mp.setenv("WARWATCH_INDEX_PREFIX", prefix)
        reset_settings()
        eng = connect(get_settings())
        try:
            setup_indices(eng, prefix)
            index_articles(eng, corpus())
            report = embed_pending(eng, settings=get_settings(), embedder=_WordsEmbedder())
            assert report.embedded == len(corpus()) and not report.failed
            eng.refresh(articles_alias(prefix))
            yield eng, articles_alias(prefix)
        finally:
            eng.close()
            _cleanup_prefix(url, prefix)
            reset_settings()


@pytest.fixture(scope="module")
def articles_on_osknn(knn_opensearch: str) -> Iterator[tuple[Any, str]]:
    with _articles(knn_opensearch, PREFIX) as found:
        yield found


@pytest.mark.slow
def test_the_vectors_are_searched_in_the_server_with_the_matrix_s_scores(articles_on_osknn: tuple[Any, str]) -> None:
    """With the plugin: ``index.knn`` from the templates, ``knn_vector`` for the searched field
    (the title's stays stored only), kNN in the server; its refined neighbours (language
    centring, feedback) are the client-side matrix's over the same vectors, and so is the
    hybrid page (the neighbours' languages, for the echo, come with their vectors)."""
    from indexing.embeddings import retrieval
    from indexing.embeddings.vectors import field_types, knn_plugin, native_knn
    from indexing.index.templates import EMBEDDING_FIELD, TITLE_EMBEDDING_FIELD
    from indexing.search import search

    eng, alias = articles_on_osknn
    assert knn_plugin(eng) and native_knn(eng, alias)
    assert set(eng.index_setting(alias, "index.knn").values()) == {"true"}
    assert set(field_types(eng, alias, EMBEDDING_FIELD).values()) == {"knn_vector"}
    assert set(field_types(eng, alias, TITLE_EMBEDDING_FIELD).values()) == {"binary"}
    embedder, limits = _WordsEmbedder(), get_settings().search
    searches: list[dict[str, Any]] = []
    real_search = eng.search

    def spy(index: str, body: Any, **params: Any) -> Any:
        searches.append(dict(body))
        return real_search(index, body, **params)

    matrix_only = (mock.patch.object(retrieval, "native_knn", lambda *_: False),
                   mock.patch("indexing.embeddings.vectors.native_knn", lambda *_: False))
    for query in QUERIES:
        searches.clear()
        with mock.patch.object(eng, "search", spy):
            server = retrieval.neighbours(eng, alias, query, k=10, embedder=embedder)
        assert any("knn" in (b.get("query") or {}) for b in searches)  # the engine's kNN query
        with matrix_only[0], matrix_only[1]:
            matrix = retrieval.neighbours(eng, alias, query, k=10, embedder=embedder)
        assert server and [i for i, _ in server] == [i for i, _ in matrix], query
        assert max(abs(a - b) for (_, a), (_, b) in zip(server, matrix, strict=True)) < 1e-4
        with mock.patch("indexing.search._embedder", lambda _: embedder):
            hybrid = search(query, engine=eng, index=alias, settings=limits, embeddings=get_settings().embeddings,
                            size=5)
            with matrix_only[0], matrix_only[1]:
                by_matrix = search(query, engine=eng, index=alias, settings=limits,
                                   embeddings=get_settings().embeddings, size=5)
        assert hybrid.retrieval == by_matrix.retrieval == "hybrid"
        assert [(h.id, h.title, h.highlights) for h in hybrid.hits] == \
            [(h.id, h.title, h.highlights) for h in by_matrix.hits], query


@pytest.mark.slow
def test_an_index_made_without_index_knn_keeps_the_client_side_matrix(knn_opensearch: str) -> None:
    """An index created before the plugin (no ``index.knn``): its vector field stays ``binary``
    and its vectors are ranked client-side; the alias is searched in the server only once every
    index behind it has ``knn_vector``."""
    from indexing.embeddings import retrieval
    from indexing.embeddings.stage import embed_pending
    from indexing.embeddings.vectors import field_types, native_knn
    from indexing.engine import connect
    from indexing.index.templates import EMBEDDING_FIELD
    from indexing.settings import reset_settings
    from tests.conftest import _cleanup_prefix
    from tests.indexing.test_embeddings_es import MAPPING

    prefix = "ww-test-osknn-old-"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WARWATCH_ES_URL", knn_opensearch)
        reset_settings()
        eng = connect(get_settings())
        old, new, alias = f"{prefix}a", f"{prefix}b", f"{prefix}all"
        try:
            eng.create_index(old, {**MAPPING, "aliases": {alias: {}}})
            eng.create_index(new, {**MAPPING, "settings": {"index": {"knn": True}}, "aliases": {alias: {}}})
            docs = [("uk-school", "uk", "У Харкові відкрили підземну школу"),
                    ("en-school", "en", "Kharkiv opens an underground school"),
                    ("de-strom", "de", "Strompreis für Haushalte steigt")]
            ops: list[dict[str, Any]] = []
            for n, (doc_id, lang, title) in enumerate(docs):
                ops += [{"index": {"_index": old if n == 0 else new, "_id": doc_id}},
                        {"id": doc_id, "language": lang, "title": title}]
            assert eng.bulk(ops, refresh=True)["errors"] is False
            report = embed_pending(eng, index=alias, settings=get_settings(), embedder=_WordsEmbedder())
            assert report.embedded == 3 and not report.failed
            assert field_types(eng, alias, EMBEDDING_FIELD) == {old: "binary", new: "knn_vector"}
            assert native_knn(eng, new) and not native_knn(eng, old) and not native_knn(eng, alias)
            eng.refresh(alias)
            near = retrieval.neighbours(eng, alias, "Kharkiv underground school", k=3, embedder=_WordsEmbedder())
            assert {i for i, _ in near} == {d[0] for d in docs}  # both kinds read back by the matrix
        finally:
            eng.close()
            _cleanup_prefix(knn_opensearch, prefix)
            reset_settings()


@pytest.mark.slow
def test_a_migration_keeps_the_vectors_in_the_server_s_knn(knn_opensearch: str) -> None:
    """``warwatch es migrate`` to a new mapping version (the engine's reindex): the new index has
    ``index.knn`` and the ``knn_vector`` field before the copy, so the server's kNN finds the
    same neighbours after it, and the stage has nothing left to embed."""
    from indexing.embeddings.retrieval import neighbours
    from indexing.embeddings.stage import embed_pending
    from indexing.embeddings.vectors import field_types, native_knn
    from indexing.index import templates
    from indexing.index.setup import migrate
    from indexing.index.templates import EMBEDDING_FIELD

    prefix = "ww-test-osknn-migrate-"
    with _articles(knn_opensearch, prefix) as (eng, alias):
        embedder = _WordsEmbedder()
        before = [neighbours(eng, alias, q, k=5, embedder=embedder) for q in QUERIES]
        target = migrate(eng, prefix, target_version=templates.MAPPING_VERSION + 1)
        assert sorted(eng.get_alias(alias)) == [target]
        assert field_types(eng, alias, EMBEDDING_FIELD) == {target: "knn_vector"} and native_knn(eng, alias)
        assert eng.index_setting(alias, "index.knn") == {target: "true"}
        after = [neighbours(eng, alias, q, k=5, embedder=embedder) for q in QUERIES]
        assert all(before) and [[i for i, _ in n] for n in after] == [[i for i, _ in n] for n in before]
        assert embed_pending(eng, index=alias, settings=get_settings(), embedder=embedder).embedded == 0
