"""Bulk indexing that loses nothing: retries, dead letters, pending queue, node gone mid-run.

The node "going away" is real in two ways: a TCP relay in front of the real node that is shut
(connection refused, open keep-alive connections cut), and - marked slow - a second real node
started on a spare port with ``warwatch.localnode`` and stopped half-way.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from indexing.engine import Engine, EngineUnavailable, connect
from indexing.index.bulk import BulkStats, BulkWriter, index_documents
from indexing.index.documents import article_to_document
from indexing.index.pending import PendingQueue
from indexing.index.setup import articles_alias, setup_indices
from indexing.settings import Settings
from tests.conftest import free_port


class Relay:
    """A TCP relay 127.0.0.1:<port> -> the real node, which can be shut and reopened."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = 0
        self._server: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()

    @property
    def target_url(self) -> str:
        return f"http://{self.target[0]}:{self.target[1]}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def open(self) -> None:
        srv = socket.socket()
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind(("127.0.0.1", self.port))
        srv.listen(16)
        self.port = srv.getsockname()[1]
        self._server = srv
        threading.Thread(target=self._accept, args=(srv,), daemon=True).start()

    def _accept(self, srv: socket.socket) -> None:
        while True:
            try:
                client, _ = srv.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            with self._lock:
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def shut(self) -> None:
        if self._server:
            try:  # wakes the accept() of the relay thread (close() alone does not, on Linux)
                self._server.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._server.close()
            self._server = None
        with self._lock:
            for s in self._conns:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                    s.close()
                except OSError:
                    pass
            self._conns.clear()


@pytest.fixture
def engine(engine: Engine, es_settings: Settings) -> Engine:
    """The shared fixture's client, with the indices of the test's prefix set up."""
    setup_indices(engine, es_settings.index_prefix)
    return engine


@pytest.fixture
def relay(es_url: str) -> Iterator[Relay]:
    parts = urlsplit(es_url)
    r = Relay((parts.hostname or "127.0.0.1", parts.port or 9200))
    r.open()
    yield r
    r.shut()


def _articles(n: int, *, tag: str = "") -> list[dict]:
    return [
        article_to_document(
            {"title": f"Bericht {i}{tag}", "body": f"Die Truppen meldeten am Tag {i} neue Angriffe.{tag}",
             "language": "de", "published": "2024-10-28T10:00:00+00:00"},
            source="test", url=f"https://news.example/artikel/{i}?utm_source=feed", enrichment={},
        )
        for i in range(n)
    ]


def _count(engine: Engine, prefix: str) -> int:
    engine.refresh(articles_alias(prefix))
    return engine.count(articles_alias(prefix))


def test_bulk_indexes_and_rerun_changes_nothing(engine: Engine, es_settings: Settings) -> None:
    docs = _articles(1200)
    prefix = es_settings.index_prefix
    counts = index_documents(engine, docs, chunk_size=250, settings=es_settings)
    assert counts["created"] == 1200 and counts["failed"] == 0
    assert _count(engine, prefix) == 1200
    again = index_documents(engine, _articles(1200), chunk_size=250, settings=es_settings)
    assert again["unchanged"] == 1200 and again["created"] == 0 and again["updated"] == 0
    assert _count(engine, prefix) == 1200
    # ids come from the canonical URL: the utm parameter is gone
    doc = engine.get(articles_alias(prefix), docs[0]["id"])
    assert doc is not None and doc["url"] == "https://news.example/artikel/0"


def test_rejected_documents_go_to_the_dead_letter_file(engine: Engine, es_settings: Settings,
                                                        data_dir: Path) -> None:
    docs = _articles(5)
    docs[1]["published"] = "not a date"  # the engine refuses it (mapper_parsing_exception)
    docs[3]["word_count"] = "many"
    counts = index_documents(engine, docs + [{"title": "no id"}], settings=es_settings)
    assert counts["created"] == 3 and counts["failed"] == 3
    assert _count(engine, es_settings.index_prefix) == 3
    lines = [json.loads(line) for f in (data_dir / "dead-letter").glob("*.jsonl")
             for line in f.read_text().splitlines()]
    assert len(lines) == 3
    reasons = {rec["id"]: rec["reason"] for rec in lines}
    assert "mapper_parsing_exception" in reasons[docs[1]["id"]] or "parse" in reasons[docs[1]["id"]]
    assert "document without an id" in reasons[None]
    assert all(rec["status"] in (None, 400) for rec in lines)


def test_busy_items_are_retried_with_backoff(engine: Engine, index_prefix: str) -> None:
    """A 429 on some items is retried (only those) after a growing delay."""

    class BusyOnce:
        def __init__(self, real: Engine) -> None:
            self.real, self.calls = real, 0

        def bulk(self, ops: str, **kw: object) -> dict:
            self.calls += 1
            resp = self.real.bulk(ops, **kw)
            if self.calls == 1:  # pretend the first two items were rejected as busy
                for item in resp["items"][:2]:
                    item["index"]["status"] = 429
                resp["errors"] = True
            return resp

    sleeps: list[float] = []
    busy = BusyOnce(engine)
    writer = BulkWriter(busy, max_retries=3, initial_backoff=0.01, sleep=sleeps.append)  # type: ignore[arg-type]
    stats = BulkStats()
    ops = [({"index": {"_index": articles_alias(index_prefix), "_id": d["id"]}}, d) for d in _articles(4)]
    assert writer.send(ops, stats) == []
    assert busy.calls == 2 and stats.retried == 2 and sleeps == [0.01]
    assert _count(engine, index_prefix) == 4


def test_node_gone_mid_run_keeps_documents_pending(relay: Relay, es_settings: Settings, data_dir: Path) -> None:
    settings = es_settings.model_copy(update={"es_url": relay.url, "bulk_max_retries": 2,
                                              "bulk_initial_backoff": 0.05, "bulk_chunk_size": 100})
    prefix = settings.index_prefix
    engine = connect(settings)
    setup_indices(engine, prefix)
    queue = PendingQueue.from_settings(settings, batch_size=100)
    docs = _articles(1000)
    assert queue.add("run-1", docs) == 1000

    chunks: list[int] = []

    def stop_after_two_chunks(stage: str, done: int, total: int | None) -> None:
        chunks.append(done)
        if len(chunks) == 2:
            relay.shut()

    with pytest.raises(EngineUnavailable, match="pending"):
        queue.flush(lambda batch: index_documents(engine, batch, progress=stop_after_two_chunks, settings=settings))
    assert queue.count() == 800  # the two confirmed chunks left the queue, nothing else did
    assert _count(connect(settings, url=relay.target_url), prefix) == 200

    relay.open()  # the node is back (same port)
    engine = connect(settings)
    # The next run adds its own documents (half of them the same articles again) and flushes all.
    assert queue.add("run-2", _articles(1100)[500:]) == 600
    stats = queue.flush(lambda batch: index_documents(engine, batch, settings=settings))
    assert queue.count() == 0 and list((data_dir / "pending").glob("*.jsonl")) == []
    assert stats["failed"] == 0
    assert _count(engine, prefix) == 1100
    # Re-running never changes the count.
    queue.add("run-2", _articles(1100)[500:])
    queue.flush(lambda batch: index_documents(engine, batch, settings=settings))
    assert _count(engine, prefix) == 1100


@pytest.mark.slow
def test_real_node_stopped_mid_run(es_settings: Settings, spare_node_dir: Path) -> None:
    """A second real node on a spare port, stopped while documents are being indexed."""
    from warwatch import localnode

    port = free_port()
    url = localnode.start(port=port)
    try:
        settings = es_settings.model_copy(update={"es_url": url, "bulk_max_retries": 1,
                                                  "bulk_initial_backoff": 0.05})
        engine = connect(settings)
        setup_indices(engine, settings.index_prefix)
        queue = PendingQueue.from_settings(settings, batch_size=100)
        queue.add("run-1", _articles(600))

        calls: list[int] = []

        def stop_node(stage: str, done: int, total: int | None) -> None:
            calls.append(done)
            if len(calls) == 1:
                localnode.stop(port=port)

        with pytest.raises(EngineUnavailable):
            queue.flush(lambda batch: index_documents(engine, batch, chunk_size=100, progress=stop_node, settings=settings))
        assert queue.count() == 500
        localnode.start(port=port)
        engine = connect(settings)
        queue.flush(lambda batch: index_documents(engine, batch, settings=settings))
        assert queue.count() == 0
        assert _count(engine, settings.index_prefix) == 600
    finally:
        localnode.stop(port=port)
