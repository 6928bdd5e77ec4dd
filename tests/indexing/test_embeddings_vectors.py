"""Vectors in the engine (indexing/embeddings/vectors.py): their stored form, their mapping, the
engine's kNN, and ``search_with_vectors`` against the real local node."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from indexing.embeddings.vectors import (
    decode,
    encode_vector,
    knn_hits,
    native_knn,
    search_with_vectors,
    vector_mapping,
)
from indexing.engine import Engine, EngineError, ServerInfo, connect
from indexing.settings import get_settings


@pytest.fixture
def engine(index_prefix: str) -> Iterator[Engine]:
    eng = connect(get_settings())
    yield eng
    eng.close()


def _offline(flavor: str) -> Engine:
    """An engine of ``flavor`` whose client must never be called."""
    return Engine(client=None, server=ServerInfo(flavor=flavor, version="9.2.0", cluster_name="t"),  # type: ignore[arg-type]
                  url="http://127.0.0.1:1")


@pytest.mark.parametrize("flavor", ["opensearch", "elasticsearch"])
def test_a_vector_comes_back_as_it_was_stored(flavor: str) -> None:
    eng = _offline(flavor)
    vec = np.random.default_rng(5).standard_normal(384).astype(np.float32)
    vec /= np.linalg.norm(vec)
    stored = encode_vector(eng, vec)
    if flavor == "opensearch":  # base64 of float16: 2 bytes a dimension
        assert isinstance(stored, str) and len(stored) == 1024
    else:
        assert isinstance(stored, list) and len(stored) == 384
    back = decode(stored, 384)
    assert back is not None and back.dtype == np.float32
    assert np.allclose(back, vec, atol=1e-3)
    assert decode(stored, 383) is None  # another model's size
    assert native_knn(eng) is (flavor == "elasticsearch")
    assert vector_mapping(eng, 384)["type"] == ("dense_vector" if flavor == "elasticsearch" else "binary")


def test_what_is_not_a_vector_decodes_to_none() -> None:
    assert decode("not base64!", 2) is None
    assert decode({"a": 1}, 2) is None
    assert decode(None, 2) is None


def test_knn_on_an_engine_without_it_is_an_error_not_a_search(monkeypatch: pytest.MonkeyPatch) -> None:
    """OpenSearch without the k-NN plugin: knn_hits refuses before any search is sent (the
    engine's client, None here, would fail on one)."""
    eng = _offline("opensearch")
    monkeypatch.setattr(eng, "plugins", set)  # core OpenSearch: no k-NN plugin
    with pytest.raises(EngineError, match="no vector search"):
        knn_hits(eng, "idx", "embedding", [0.1, 0.2], k=3)


def test_search_with_vectors_returns_the_vector_fields(engine: Engine, index_prefix: str,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Elasticsearch 9.2 needs ``exclude_vectors: false`` to return vectors; an engine that does
    not know the option (OpenSearch 3.8, Elasticsearch before it) refuses it with a 400, and the
    request is made again without it, once per engine: later searches ask in one request. Either
    way the fields asked for come back, the rest not."""
    name = f"{index_prefix}vectors"
    engine.create_index(name, {"mappings": {"properties": {"language": {"type": "keyword"}}}})
    engine.bulk([{"index": {"_index": name, "_id": "1"}}, {"language": "de", "embedding": "AAAA", "body": "x"}],
                refresh=True)
    hits = search_with_vectors(engine, name, {"query": {"match_all": {}}}, ["language", "embedding"])["hits"]["hits"]
    assert [h["_source"] for h in hits] == [{"language": "de", "embedding": "AAAA"}]
    requests: list[dict[str, Any]] = []
    real_search = engine.search

    def counted(index: str, body: dict[str, Any], **params: Any) -> dict[str, Any]:
        requests.append(body)
        return real_search(index, body, **params)

    monkeypatch.setattr(engine, "search", counted)
    again = search_with_vectors(engine, name, {"query": {"match_all": {}}}, ["language", "embedding"])
    assert [h["_source"] for h in again["hits"]["hits"]] == [{"language": "de", "embedding": "AAAA"}]
    assert len(requests) == 1  # the refusal (if any) is remembered
    with pytest.raises(EngineError) as bad:  # any other bad request is not retried away
        search_with_vectors(engine, name, {"query": {"no_such_query": {}}}, ["language"])
    assert bad.value.status == 400


def test_a_cluster_that_will_not_list_its_plugins_counts_as_without_knn_for_a_while(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """An OpenSearch role without cluster monitoring gets a 403 from ``_cat/plugins``: no kNN in
    the server (the client-side matrix works anyway), one warning, and the question is not asked
    again on every search, only after ``PLUGINS_RETRY`` seconds."""
    from indexing.embeddings import vectors

    eng = _offline("opensearch")
    asked: list[int] = []

    def refused() -> set[str]:
        asked.append(1)
        raise EngineError("security_exception: no permissions for [cluster:monitor/nodes/info]", status=403)

    monkeypatch.setattr(eng, "plugins", refused)
    assert [vectors.knn_plugin(eng) for _ in range(5)] == [False] * 5
    assert len(asked) == 1 and len([r for r in caplog.records if "cannot list the plugins" in r.message]) == 1
    assert not native_knn(eng, "idx")  # and no mapping request (the client is None)
    monkeypatch.setattr(vectors, "PLUGINS_RETRY", -1.0)
    vectors._PLUGIN.pop(eng)
    vectors.knn_plugin(eng)
    vectors.knn_plugin(eng)
    assert len(asked) == 3 and len([r for r in caplog.records if "cannot list the plugins" in r.message]) == 2
    monkeypatch.setattr(eng, "plugins", lambda: {"opensearch-knn"})
    assert vectors.knn_plugin(eng) and vectors.knn_settings(eng)["knn"] is True
