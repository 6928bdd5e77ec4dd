"""The search cluster as deployed (issue #18 §3): three local nodes, the articles index with one
replica, one node SIGKILLed in the middle of bulk indexing through warwatch's own bulk path."""

from __future__ import annotations

import json
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from indexing.settings import get_settings, reset_settings
from tests.conftest import _cleanup_prefix
from tests.production.conftest import LocalCluster

DOCS = 1500
CHUNK = 50
KILL_AFTER = 400  # documents sent when the node is killed


@pytest.fixture
def on_cluster(local_cluster: LocalCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Settings pointing at all three nodes, a prefix of the test's own, vectors off."""
    prefix = f"ww-prod-{uuid.uuid4().hex[:8]}-"
    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.setenv("WARWATCH_ES_URL", local_cluster.es_url)
    monkeypatch.setenv("WARWATCH_INDEX_PREFIX", prefix)
    monkeypatch.setenv("WARWATCH_DATA_DIR", str(data))
    monkeypatch.setenv("WARWATCH_EMBEDDINGS__BACKEND", "none")
    reset_settings()
    yield prefix
    _cleanup_prefix(local_cluster.urls[0], prefix)


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as resp:  # noqa: S310 - loopback node
        return json.load(resp)


def _doc(i: int) -> dict[str, Any]:
    from indexing.index.documents import article_to_document

    url = f"https://cluster.example/{i}"
    title = "North Korean troops in Russia" if i % 100 == 0 else f"Report number {i} from the front"
    art = {"title": title, "lead": f"Lead {i}", "body": f"Body of report {i}. " * 20, "language": "en",
           "url": url, "canonical_url": url, "published": "2026-11-04T08:00:00+00:00"}
    return article_to_document(art, source="cluster", url=url, fetched_at="2026-11-04T09:00:00+00:00")


def _wait_green(engine: Any, index: str, rounds: int = 6) -> dict[str, Any]:
    """Cluster health once the index is green (each round waits the server's 30 s at most)."""
    health: dict[str, Any] = {}
    for _ in range(rounds):
        health = engine.health(index=index, wait_for_status="green")
        if health["status"] == "green":
            break
    return health


def _primary_port(base: str, index: str) -> int:
    shards = _get(f"{base}/_cat/shards/{index}?format=json&h=prirep,node,state")
    primary = next(s for s in shards if s["prirep"] == "p" and s["state"] == "STARTED")
    return int(str(primary["node"]).rsplit("-", 1)[1])


def test_node_loss_during_bulk_loses_nothing(local_cluster: LocalCluster, on_cluster: str) -> None:
    from indexing.alerts.config import Watch
    from indexing.alerts.evaluate import evaluate
    from indexing.engine import connect
    from indexing.health.check import check_health
    from indexing.index.bulk import index_documents
    from indexing.index.setup import articles_alias, setup_indices
    from indexing.search import search
    from warwatch.pipeline.maintenance import index_health

    engine = connect(get_settings())
    concrete = setup_indices(engine, get_settings().index_prefix)
    alias = articles_alias(get_settings().index_prefix)
    health = _wait_green(engine, alias)
    assert health["status"] == "green" and health["number_of_nodes"] == 3
    assert health["active_shards"] == 2 * health["active_primary_shards"]  # one replica each
    victim = _primary_port(local_cluster.urls[0], concrete)
    killed: list[int] = []

    def progress(stage: str, done: int, total: int | None) -> None:
        if done >= KILL_AFTER and not killed:
            killed.append(local_cluster.kill(victim))

    docs = [_doc(i) for i in range(DOCS)]
    counts = index_documents(engine, docs, chunk_size=CHUNK, initial_backoff=0.2, max_retries=8, progress=progress,
                             settings=get_settings())
    assert killed, "the node was never killed"
    assert counts["failed"] == 0 and counts["created"] == DOCS, counts

    # The cluster lost a node: yellow (the lost copies are not yet re-created), still answering.
    during = engine.health(index=alias)
    assert during["number_of_nodes"] == 2 and during["status"] in ("yellow", "green"), during
    engine.refresh(alias)
    assert engine.count(alias) == DOCS
    hits = engine.search(alias, {"query": {"match_all": {}}, "size": DOCS, "_source": False})["hits"]["hits"]
    assert {h["_id"] for h in hits} == {d["id"] for d in docs}
    result = search("North Korean troops", size=20, engine=engine, index=alias, settings=get_settings().search,
                    embeddings=get_settings().embeddings)
    assert result.total >= DOCS // 100

    # The alerts and health stages keep working without the node.
    rid = "20261104T090000Z-cluster"
    rdir = get_settings().data_dir / "runs" / rid
    rdir.mkdir(parents=True)
    (rdir / "indexed-ids.txt").write_text("\n".join(d["id"] for d in docs[:300]) + "\n", encoding="utf-8")
    report = evaluate(rid, settings=get_settings(), watches=[Watch(id="nk", query="North Korean troops in Russia")])
    assert report.documents_in_index == 300 and not report.problems, report.as_dict()
    assert report.watches["nk"].found == 3 and report.watches["nk"].error is None  # searched without the node
    figures = index_health()
    assert figures["status"] in ("yellow", "green") and figures["articles"] == DOCS and figures["nodes"] == 2
    assert check_health(settings=get_settings(), engine=engine).sources is not None

    # The node comes back and rejoins; every copy is allocated again.
    local_cluster.restart()
    after = _wait_green(engine, alias)
    assert after["status"] == "green" and after["number_of_nodes"] == 3, after
    assert engine.count(alias) == DOCS
    engine.close()

