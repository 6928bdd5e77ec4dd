"""The cycle's stages on the demo site: re-runnable, loud when the engine is gone, reprocessable offline."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from indexing.settings import reset_settings
from tests.conftest import REPO_ROOT as PROJECT_ROOT
from tests.conftest import count_docs
from warwatch import pipeline

DEMO_SITE = PROJECT_ROOT / "demo" / "site"



def test_skip_reasons_are_named() -> None:
    assert pipeline._skip_reason({"status": 404, "warc_file": "x"}) == "http_404"
    assert pipeline._skip_reason({"status": 200, "content_type": "application/pdf", "warc_file": "x"}) == "not_html"
    assert pipeline._skip_reason({"status": 200, "content_type": "text/html; charset=utf-8"}) == "not_archived"
    assert pipeline._skip_reason({"status": 200, "content_type": "text/html", "warc_file": "w"}) is None


def test_run_ids_are_safe() -> None:
    rid = pipeline.new_run_id()
    assert "/" not in rid and rid[:4].isdigit()
    with pytest.raises(pipeline.PipelineError):
        pipeline.run_dir("../escape")


def test_stages_rerun_and_reprocess_offline(index_prefix: str, data_dir: Path, es_url: str) -> None:
    from demo.server import render_sources, serve

    articles = json.loads((DEMO_SITE / "articles.json").read_text())["articles"]
    with serve(DEMO_SITE, port=0) as server:
        sources = render_sources(server.base_url, data_dir / "sources.yaml")
        rid = pipeline.new_run_id()
        crawl_report = pipeline.crawl(rid, sources)
        assert sum(s["fetched"] for s in crawl_report["sources"].values()) == len(articles)
    # From here on, no network: the site is gone.
    cleaned = pipeline.clean(rid)
    assert cleaned.counts["articles"] == len(articles)
    assert cleaned.counts["responses"] == len(articles)
    pipeline.index(rid)
    alias = f"{index_prefix}articles"
    first = count_docs(es_url, alias)
    assert first == len(articles)

    # Re-running a stage changes nothing that was already right.
    assert pipeline.clean(rid).counts["articles"] == len(articles)
    pipeline.index(rid)
    assert count_docs(es_url, alias) == first

    # Reprocess from the archive into a fresh index: the same documents come back.
    monkey_prefix = index_prefix + "re-"
    import os

    os.environ["WARWATCH_INDEX_PREFIX"] = monkey_prefix
    reset_settings()
    try:
        result = pipeline.reprocess()
        assert result.ok, result.report["problems"]
        assert count_docs(es_url, f"{monkey_prefix}articles") == first
    finally:
        os.environ["WARWATCH_INDEX_PREFIX"] = index_prefix
        reset_settings()


def test_engine_down_keeps_documents_pending(index_prefix: str, data_dir: Path, es_url: str,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from demo.server import render_sources, serve

    with serve(DEMO_SITE, port=0) as server:
        sources = render_sources(server.base_url, data_dir / "sources.yaml")
        rid = pipeline.new_run_id()
        pipeline.crawl(rid, sources)
    pipeline.clean(rid)

    # Point at a port where nothing listens: the run must fail loudly and keep everything.
    monkeypatch.setenv("WARWATCH_ES_URL", "http://127.0.0.1:9")
    reset_settings()
    with pytest.raises(pipeline.IndexingError, match="pending"):
        pipeline.index(rid)
    merged = pipeline.report(rid)
    assert merged["run_id"] == rid

    # The node is back: the next run indexes what was pending, and only once.
    monkeypatch.setenv("WARWATCH_ES_URL", es_url)
    reset_settings()
    rid2 = pipeline.new_run_id()
    pipeline.index(rid2)
    count = count_docs(es_url, f"{index_prefix}articles")
    articles = json.loads((DEMO_SITE / "articles.json").read_text())["articles"]
    assert count == len(articles)
    pipeline.index(rid2)
    assert count_docs(es_url, f"{index_prefix}articles") == count


def _archive_pages(data_dir: Path, rid: str, pages: dict[str, Path]) -> None:
    from datetime import UTC, datetime

    from indexing.archive import WarcWriter, append_manifest

    rdir = pipeline.run_dir(rid)
    with WarcWriter(data_dir / "warc", "test") as writer:
        for url, page in pages.items():
            now = datetime.now(UTC)
            path, offset = writer.write_response(url, 200, {"Content-Type": "text/html; charset=utf-8"},
                                                 page.read_bytes(), now)
            append_manifest(rdir / "manifest.jsonl", {
                "url": url, "final_url": url, "status": 200, "fetched_at": now.isoformat(),
                "warc_file": str(path.relative_to(data_dir)), "warc_offset": offset, "source": "fixture",
                "content_type": "text/html; charset=utf-8", "fingerprint": "x"})


def test_clean_counts_non_articles_and_keeps_paywall_teasers_marked(data_dir: Path) -> None:
    from indexing.index.documents import article_to_document

    pages = PROJECT_ROOT / "tests" / "fixtures" / "pages"
    rid = pipeline.new_run_id()
    _archive_pages(data_dir, rid, {
        "http://news.example/a/": pages / "de-zeitung.html",
        "http://news.example/paywall/": pages / "paywall-teaser.html",
        "http://news.example/consent/": pages / "consent-wall.html",
        "http://news.example/list/": pages / "listing.html",
    })
    result = pipeline.clean(rid)
    assert result.counts["responses"] == 4
    assert result.counts["articles"] == 2
    assert result.counts["paywall_teasers"] == 1
    assert result.counts["not_article:consent_wall"] == 1
    assert result.counts["not_article:listing_page"] == 1
    lines = [json.loads(x) for x in (data_dir / "runs" / rid / "cleaned.jsonl").read_text().splitlines()]
    access = {}
    for rec in lines:
        doc = article_to_document(rec["article"], source="fixture", url=rec["crawl"]["url"])
        access[rec["crawl"]["url"]] = doc["access"]
    assert access == {"http://news.example/a/": "full", "http://news.example/paywall/": "paywall_teaser"}


def test_published_falls_back_to_the_feed_date_and_refuses_the_future() -> None:
    entry = {"fetched_at": "2025-03-01T12:00:00+00:00", "published_hint": "2025-02-28T08:00:00Z"}
    assert pipeline.resolve_published("2025-02-27T10:00:00+01:00", entry) == "2025-02-27T09:00:00+00:00"
    assert pipeline.resolve_published(None, entry) == "2025-02-28T08:00:00+00:00"
    assert pipeline.resolve_published("2031-01-01T00:00:00+00:00", entry) == "2025-02-28T08:00:00+00:00"
    assert pipeline.resolve_published("2031-01-01T00:00:00+00:00", {"fetched_at": entry["fetched_at"]}) is None
    assert pipeline.resolve_published("2025-03-02T06:00:00+00:00", entry) == "2025-03-02T06:00:00+00:00"


# --------------------------------------------------------------------------- batches and leases
def _clock(start: str) -> list:
    from datetime import datetime

    return [datetime.fromisoformat(start)]


def test_a_leased_batch_is_not_claimed_twice_and_expired_scheduled_leases_come_back(data_dir: Path) -> None:
    from datetime import timedelta

    from warwatch.pipeline import batches

    now = _clock("2026-01-01T00:00:00+00:00")
    (data_dir / "runs" / "b1").mkdir(parents=True)
    (data_dir / "runs" / "b2").mkdir(parents=True)
    first = batches.claim("airflow:run-1", bind_pid=False, ttl=600, now=lambda: now[0])
    assert [lease.batch_id for lease in first] == ["b1", "b2"]
    for lease in first:
        lease.close()  # the task ends; the lease file stays for the run's next task
    assert batches.claim("airflow:run-2", bind_pid=False, ttl=600, now=lambda: now[0]) == []
    # The same owner takes its batch on again (the next task of the same run).
    again = batches.acquire("b1", "airflow:run-1", stage="clean", bind_pid=False, ttl=600, now=lambda: now[0])
    assert again is not None
    again.close()
    # The run died: after its lease expired another run takes the batches, and the late one is told.
    now[0] += timedelta(seconds=601)
    taken = batches.claim("airflow:run-2", bind_pid=False, ttl=600, now=lambda: now[0])
    assert [lease.batch_id for lease in taken] == ["b1", "b2"]
    stale = batches.Lease("b1", "airflow:run-1", None)
    with pytest.raises(batches.LeaseLost):
        batches.renew(stale, "index", now=lambda: now[0])
    batches.mark_processed("b1", {}, now=lambda: now[0])
    for lease in taken:
        batches.release(lease)
    assert batches.unprocessed() == ["b2"]
    assert batches.claim("airflow:run-3", bind_pid=False, now=lambda: now[0])[0].batch_id == "b2"


def test_a_process_bound_lease_dies_with_its_lock(data_dir: Path) -> None:
    from warwatch.pipeline import batches

    (data_dir / "runs" / "b1").mkdir(parents=True)
    lease = batches.acquire("b1", "cli:host:1", stage="clean")
    assert lease is not None
    # Held by a live process (this one): nobody else gets it, whatever the lease file says.
    assert batches.acquire("b1", "cli:host:2", stage="clean") is None
    lease.close()  # what the kernel does when the holder dies, SIGKILL included
    other = batches.acquire("b1", "cli:host:2", stage="clean")
    assert other is not None and batches.read_lease("b1")["owner"] == "cli:host:2"
    batches.release(other)
    assert batches.read_lease("b1") == {}


def test_recover_stuck_frees_expired_leases_of_dead_owners(data_dir: Path) -> None:
    from datetime import timedelta

    from warwatch.pipeline import batches

    now = _clock("2026-01-01T00:00:00+00:00")
    (data_dir / "runs" / "b1").mkdir(parents=True)
    lease = batches.acquire("b1", "airflow:dead-run", stage="index", bind_pid=False, ttl=60, now=lambda: now[0])
    assert lease is not None
    lease.close()
    assert batches.recover_stuck(now=lambda: now[0]) == {"freed": [], "hung": []}
    now[0] += timedelta(seconds=61)
    assert batches.recover_stuck(now=lambda: now[0]) == {"freed": ["b1"], "hung": []}
    assert batches.read_lease("b1") == {}


def test_feed_polls_drop_sitemaps_and_sections_and_discovery_comes_due(data_dir: Path, tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    import yaml

    from warwatch.pipeline.crawl import feeds_only_sources
    from warwatch.pipeline.discovery import full_discovery_due, record_full_discovery

    src = tmp_path / "sources.yaml"
    src.write_text("sources:\n"
                   "  - {id: a, name: A, url: 'http://127.0.0.1:1/', feeds: ['http://127.0.0.1:1/f'],"
                   " sitemaps: ['http://127.0.0.1:1/s'], sections: ['http://127.0.0.1:1/w/']}\n"
                   "  - {id: b, name: B, url: 'http://127.0.0.1:2/'}\n")
    out = feeds_only_sources(src, ["a"], tmp_path / "feeds.yaml")
    data = yaml.safe_load(out.read_text())["sources"]
    assert [s["id"] for s in data] == ["a"]
    assert data[0]["feeds"] == ["http://127.0.0.1:1/f"] and data[0]["sitemaps"] == [] and data[0]["sections"] == []
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    assert full_discovery_due("a", now=t0)
    record_full_discovery(["a"], now=t0)
    assert not full_discovery_due("a", now=t0 + timedelta(hours=5))
    assert full_discovery_due("a", now=t0 + timedelta(hours=6))
    assert full_discovery_due("b", now=t0)


def test_backfill_dates_are_whole_days() -> None:
    from warwatch.pipeline.tasks import day_bounds

    since, until = day_bounds("2026-01-01", "2026-01-02")
    assert since is not None and until is not None
    assert since.isoformat() == "2026-01-01T00:00:00+00:00"
    assert until.isoformat() == "2026-01-02T23:59:59.999999+00:00"
    assert day_bounds(None, None) == (None, None)
    with pytest.raises(pipeline.PipelineError):
        day_bounds("2026-01-03", "2026-01-02")
    # the last representable day has no next day to step back from: still its whole day, no crash
    assert day_bounds(None, "9999-12-31")[1] == datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
