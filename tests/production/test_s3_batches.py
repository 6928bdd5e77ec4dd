"""Batch files on an S3-compatible object store (issue #18 §2): a crawl on "host A" (data directory
A) publishes its batch; "host B", with an empty data directory B and the same bucket and batch
registry (Postgres), claims it and cleans, enriches, indexes and alerts it; every article is indexed
exactly once; a rerun on a third empty host changes nothing; retention deletes the derived batch
files in the store by prefix. s3proxy (a real S3 API server, tests/production/s3proxy.py) and
Postgres are the session's (tests/production/conftest.py)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from indexing.settings import get_settings, reset_settings
from indexing.storage import s3_client
from tests.conftest import REPO_ROOT, count_docs
from tests.production import services
from tests.production.conftest import fresh_schema, use_bucket
from tests.production.s3proxy import S3Proxy

BUCKET = "warwatch-batches"
PREFIX = "wb/"
DEMO_SITE = REPO_ROOT / "demo" / "site"
#: what a processed batch leaves in the store (the derived files retention deletes, and what stays)
DERIVED = {"cleaned.jsonl", "documents.jsonl", "indexed-ids.txt", "crawl.log"}
KEPT = {"manifest.jsonl", "batch.json", "crawl-report.json", "clean-report.json", "enrich-report.json",
        "index-report.json", "alerts-report.json", "processed.json", "runs-recorded.json", "takedowns.jsonl"}


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    from demo.server import serve

    with serve() as server:
        yield server.base_url


@pytest.fixture
def shared(s3proxy: S3Proxy, postgres: services.Postgres, index_prefix: str, tmp_path: Path,
           monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """What every host shares: the bucket, the registry, the engine. Yields the bucket's prefix."""
    prefix = f"{PREFIX}{uuid.uuid4().hex[:8]}/"
    use_bucket(monkeypatch, s3proxy, BUCKET, prefix, WARWATCH_STATE__BACKEND="postgres",
               WARWATCH_STATE__DSN=fresh_schema(postgres), WARWATCH_EMBEDDINGS__BACKEND="none")
    yield prefix
    from warwatch.pipeline import batches

    for registry in batches._REGISTRIES.values():
        registry.close()
    batches._REGISTRIES.clear()
    reset_settings()


def _host(path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path.mkdir()
    monkeypatch.setenv("WARWATCH_DATA_DIR", str(path))
    reset_settings()
    return path


def _objects(prefix: str) -> dict[str, dict[str, Any]]:
    """The batch files in the bucket under ``prefix`` (name -> size, sha256), by one listing."""
    client = s3_client(get_settings().storage)
    page = client.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    assert not page.get("IsTruncated")
    out = {}
    for obj in page.get("Contents", []):
        if obj["Key"].endswith("/"):
            continue  # s3proxy lists its directories
        head = client.head_object(Bucket=BUCKET, Key=obj["Key"])
        out[obj["Key"][len(prefix):]] = {"size": obj["Size"], "sha256": head["Metadata"].get("sha256")}
    return out


def _search_ids(es_url: str, alias: str) -> list[str]:
    import urllib.request

    req = urllib.request.Request(f"{es_url}/{alias}/_search?size=1000", data=b'{"_source": ["url"]}',
                                 headers={"content-type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310
        return [h["_id"] for h in json.load(resp)["hits"]["hits"]]


def test_a_batch_crawled_on_one_host_is_processed_on_another_exactly_once(
        shared: str, site: str, es_url: str, index_prefix: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from demo.server import render_sources
    from warwatch import pipeline
    from warwatch.pipeline import maintenance

    articles = json.loads((DEMO_SITE / "articles.json").read_text())["articles"]
    sources = render_sources(site, tmp_path / "sources.yaml")
    host_a = _host(tmp_path / "host-a", monkeypatch)
    run_id = pipeline.new_run_id()
    crawled = pipeline.crawl(run_id, sources, budget=300)
    assert sum(s["fetched"] for s in crawled["sources"].values()) == len(articles)
    batch = f"{shared}runs/{run_id}/"
    published = _objects(batch)
    assert {"manifest.jsonl", "crawl-report.json", "crawl.log", "batch.json"} <= set(published)
    local = host_a / "runs" / run_id
    for name in ("manifest.jsonl", "crawl-report.json"):  # whole: the object is the file
        assert published[name]["size"] == (local / name).stat().st_size

    # host B: an empty data directory, the same bucket and registry
    host_b = _host(tmp_path / "host-b", monkeypatch)
    reports = pipeline.process_pending()
    assert [r["run_id"] for r in reports] == [run_id]
    assert not reports[0]["problems"], reports[0]["problems"]
    assert reports[0]["clean"]["articles"] == len(articles)
    alias = f"{index_prefix}articles"
    ids = _search_ids(es_url, alias)
    assert count_docs(es_url, alias) == len(articles) == len(set(ids))  # every article, exactly once
    stored = _objects(batch)
    assert DERIVED | KEPT <= set(stored)
    indexed = (host_b / "runs" / run_id / "indexed-ids.txt").read_text().split()
    assert sorted(indexed) == sorted(ids)
    assert not list((host_b / "warc").rglob("*.warc.gz"))  # captures read from the store, not copied here

    # a rerun on a third empty host: nothing to claim, and the stages run again change nothing
    _host(tmp_path / "host-c", monkeypatch)
    assert pipeline.process_pending() == []
    assert pipeline.clean(run_id).counts["articles"] == len(articles)
    pipeline.enrich(run_id)
    pipeline.index(run_id)
    assert count_docs(es_url, alias) == len(articles)
    pipeline.report(run_id)  # the health figures of the rerun's reports (retention waits for them)
    again = _objects(batch)
    for name in ("manifest.jsonl", "cleaned.jsonl", "documents.jsonl"):
        assert again[name] == stored[name], name  # the same object: the same bytes put again

    # retention: the derived files of the processed batch go from the store, listed by prefix
    later = time.time() + 10 * 365 * 86400
    dry = maintenance.prune_stored_batch_files(later, dry_run=True)
    assert dry["batches"] == 1 and dry["files"] == len(DERIVED)
    assert set(_objects(batch)) == set(again)
    done = maintenance.prune_stored_batch_files(later)
    assert (done["batches"], done["files"], done["bytes"]) == (1, len(DERIVED), dry["bytes"])
    assert set(_objects(batch)) == set(again) - DERIVED
    assert maintenance.prune_stored_batch_files(later)["files"] == 0  # twice: nothing more to do
