"""The engine adapter against the real local node (and its error mapping)."""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest

from indexing.engine import Engine, EngineError, EngineUnavailable, NotFound, connect, probe
from indexing.settings import get_settings


@pytest.fixture
def engine(index_prefix: str) -> Engine:
    eng = connect(get_settings())
    yield eng
    eng.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_connect_picks_the_client_of_the_server(engine: Engine) -> None:
    info = engine.info()
    distribution = info["version"].get("distribution", "elasticsearch")
    assert engine.flavor == ("opensearch" if distribution == "opensearch" else "elasticsearch")
    module = type(engine.client).__module__.split(".")[0]
    assert module == ("opensearchpy" if engine.flavor == "opensearch" else "elasticsearch")
    assert engine.server.version == info["version"]["number"]
    assert engine.health()["status"] in {"green", "yellow"}


def test_unreachable_node_is_engine_unavailable(index_prefix: str) -> None:
    with pytest.raises(EngineUnavailable):
        connect(get_settings(), url=f"http://127.0.0.1:{_free_port()}")


def test_index_lifecycle_and_not_found(engine: Engine, index_prefix: str) -> None:
    name = f"{index_prefix}scratch"
    assert not engine.index_exists(name)
    assert engine.create_index(name) is True
    assert engine.create_index(name) is False  # idempotent
    assert engine.index_exists(name)
    assert engine.get(name, "missing") is None
    assert engine.get_alias(f"{index_prefix}no-such-alias") == {}
    with pytest.raises(NotFound):
        engine.search(f"{index_prefix}no-such-index", {"query": {"match_all": {}}})
    with pytest.raises(EngineError) as bad:
        engine.search(name, {"query": {"no_such_query": {}}})
    assert bad.value.status == 400 and not bad.value.retryable
    assert engine.delete_index(name) is True
    assert engine.delete_index(name) is False


def test_documents_roundtrip(engine: Engine, index_prefix: str) -> None:
    name = f"{index_prefix}docs"
    engine.create_index(name)
    resp = engine.bulk([{"index": {"_index": name, "_id": "a"}}, {"t": "eins"},
                        {"index": {"_index": name, "_id": "b"}}, {"t": "zwei"}], refresh=True)
    assert resp["errors"] is False
    assert engine.count(name) == 2
    assert engine.get(name, "a")["t"] == "eins"
    assert engine.mget(name, ["a", "b", "c"]) == {"a": {"t": "eins"}, "b": {"t": "zwei"}}
    hits = engine.search(name, {"query": {"match": {"t": "zwei"}}})["hits"]["hits"]
    assert [h["_id"] for h in hits] == ["b"]


def test_language_analyzers_are_present(engine: Engine) -> None:
    # analysis-common must be installed: production mappings depend on it.
    assert engine.analyze({"analyzer": "german", "text": "Truppen"}) == ["trupp"]
    assert engine.analyze({"analyzer": "russian", "text": "войска"}) == ["войск"]


def test_probe_reads_settings(index_prefix: str) -> None:
    server = probe(get_settings())
    assert server.flavor in {"opensearch", "elasticsearch"}
    assert server.major >= 2


def test_elasticsearch_client_errors_are_mapped() -> None:
    """Pure unit test of the mapping for the elasticsearch client (the local node may be OpenSearch)."""
    import elastic_transport
    import elasticsearch

    from indexing.engine_errors import translate

    def meta(status: int) -> elastic_transport.ApiResponseMeta:
        return elastic_transport.ApiResponseMeta(status=status, http_version="1.1",
                                                 headers=elastic_transport.HttpHeaders(), duration=0.0,
                                                 node=elastic_transport.NodeConfig("http", "127.0.0.1", 9200))

    nf = translate(elasticsearch.NotFoundError("missing", meta(404), {"error": {"type": "index_not_found_exception"}}))
    assert isinstance(nf, NotFound) and nf.error_type == "index_not_found_exception"
    busy = translate(elasticsearch.ApiError("busy", meta(429), {"error": {"type": "es_rejected_execution_exception"}}))
    assert isinstance(busy, EngineUnavailable) and busy.status == 429 and busy.retryable
    bad = translate(elasticsearch.BadRequestError("bad", meta(400), {"error": {"type": "parsing_exception"}}))
    assert type(bad) is EngineError and not bad.retryable
    down = translate(elasticsearch.ConnectionError("refused"))
    assert isinstance(down, EngineUnavailable)


@pytest.mark.slow
def test_elasticsearch_client_path_on_a_bare_elasticsearch_node(index_prefix: str, bare_elasticsearch: str) -> None:
    """The official elasticsearch client against a real (bare: no analysis-common) Elasticsearch
    node from Elastic's integ-test-zip, on a spare port (shared by the session): the adapter's
    operations."""
    eng = connect(get_settings(), url=bare_elasticsearch)
    try:
        assert eng.flavor == "elasticsearch"
        assert type(eng.client).__module__.startswith("elasticsearch")
        name, alias = f"{index_prefix}es-v1", f"{index_prefix}es"
        assert eng.create_index(name, {"mappings": {"properties": {"t": {"type": "text"},
                                                                  "k": {"type": "keyword"}}}})
        assert not eng.create_index(name)
        eng.update_aliases([{"add": {"index": name, "alias": alias}}])
        assert list(eng.get_alias(alias)) == [name]
        ndjson = json.dumps({"index": {"_index": alias, "_id": "a"}}) + "\n" + \
            json.dumps({"t": "North Korean troops", "k": "x"}) + "\n"
        resp = eng.bulk(ndjson, refresh=True)
        assert resp["errors"] is False
        assert eng.count(alias) == 1
        assert eng.get(alias, "a")["k"] == "x" and eng.get(alias, "zz") is None
        assert eng.mget(alias, ["a", "zz"]) == {"a": {"t": "North Korean troops", "k": "x"}}
        hits = eng.search(alias, {"query": {"match": {"t": "troops"}}, "highlight": {"fields": {"t": {}}}})
        assert hits["hits"]["hits"][0]["highlight"]["t"] == ["North Korean <em>troops</em>"]
        with pytest.raises(NotFound):
            eng.search(f"{index_prefix}missing", {"query": {"match_all": {}}})
        assert eng.delete_index(name) and not eng.delete_index(name)
    finally:
        eng.close()


def test_es_url_takes_several_nodes() -> None:
    from indexing.engine import _failover, es_urls

    assert es_urls("http://127.0.0.1:9200") == ["http://127.0.0.1:9200"]
    assert es_urls(" http://a:9231/, http://a:9232 ,,http://a:9231") == ["http://a:9231", "http://a:9232"]
    with pytest.raises(EngineError):
        es_urls(" , ")
    assert _failover(["x"])["max_retries"] == 0
    assert _failover(["x", "y", "z"]) == {"max_retries": 2, "retry_on_status": (502, 503, 504)}


def test_connect_skips_a_node_that_does_not_answer(es_url: str) -> None:
    from tests.conftest import free_port

    dead = f"http://127.0.0.1:{free_port()}"
    engine = connect(get_settings(), url=f"{dead},{es_url}")
    try:
        assert engine.url == es_url.rstrip("/")
        assert engine.health()["status"] in ("green", "yellow")
    finally:
        engine.close()


@pytest.mark.slow
def test_per_request_options_make_one_client_each(index_prefix: str, bare_elasticsearch: str) -> None:
    """The elasticsearch client's ``options()`` copies the client (~0.2 ms; a hybrid search makes
    up to seven requests with one timeout): the adapter makes one per set of options, and a new
    one when its client is replaced. The requests still carry them (a 404 stays an answer)."""
    eng = connect(get_settings(), url=bare_elasticsearch)
    other = connect(get_settings(), url=bare_elasticsearch)
    try:
        made: list[dict[str, Any]] = []
        for client in (eng.client, other.client):
            real = client.options

            def counted(_real: Any = real, **options: Any) -> Any:
                made.append(options)
                return _real(**options)

            client.options = counted
        name = f"{index_prefix}opts"
        assert eng.create_index(name, {"mappings": {"properties": {"k": {"type": "keyword"}}}})
        assert eng.get(name, "missing") is None  # a 404 through ignore_status
        made.clear()
        for _ in range(3):
            assert eng.search(name, {"query": {"match_all": {}}}, request_timeout=7)["hits"]["hits"] == []
            assert eng.get(name, "missing") is None  # a 404 through ignore_status
        assert made == [{"request_timeout": 7}]  # the 404 one was made before
        eng.client = other.client
        eng.search(name, {"query": {"match_all": {}}}, request_timeout=7)
        assert made == [{"request_timeout": 7}] * 2
        assert eng.delete_index(name)
    finally:
        eng.close()
        other.close()
