"""One crawl per source at a time, across processes; the start-up replay leaves live runs alone
(issue 16)."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from crawlers.locks import CrawlLocks, run_is_live
from crawlers.replay import replay_unfinished_runs
from crawlers.state import SeenStore
from tests.crawlers.conftest import Crawler
from tests.crawlers.sitefixture import Route, SiteServer, article_html, sources_yaml


def _finished(data_dir: Path, run_id: str) -> float | None:
    db = sqlite3.connect(data_dir / "state" / "crawl.sqlite")
    try:
        row = db.execute("SELECT finished FROM runs WHERE run_id = ?", (run_id,)).fetchone()
    finally:
        db.close()
    assert row is not None, f"run {run_id} was never started"
    return row[0]


def test_a_second_crawl_of_a_source_skips_it_and_does_not_finish_the_live_run(crawler: Crawler) -> None:
    arrived, release = threading.Event(), threading.Event()
    paths = [f"/world/2024/05/held-story-{i}-report.html" for i in range(3)]
    routes = {p: Route(body=article_html(p, p, "Body text. " * 20)) for p in paths}

    def held(req: BaseHTTPRequestHandler) -> Route:
        arrived.set()
        release.wait(timeout=120)  # the first crawl stays in the middle of its crawl until released
        return Route(body=article_html(paths[0], "held", "Body text. " * 20))

    routes[paths[0]] = Route(handler=held)
    items = "".join(f"<item><link>{{{{BASE}}}}{p}</link></item>" for p in paths)
    routes["/feed.xml"] = Route(
        body=f"<rss><channel>{items}</channel></rss>".encode(), content_type="application/rss+xml"
    )
    routes["/robots.txt"] = Route(body=b"User-agent: *\n", content_type="text/plain")
    with SiteServer(routes) as srv:
        sources = crawler.sources(sources_yaml(srv.base_url, sitemaps=False, sections=False))
        first = crawler.start("r1", sources)
        try:
            assert arrived.wait(timeout=120), "the first crawl never reached the held article"
            # The first crawl's other articles may still be on their way (a loaded machine): wait
            # for them, so that every later hit can only come from the second crawl.
            for _ in range(1200):
                if set(paths[1:]) <= set(srv.paths()):
                    break
                time.sleep(0.05)
            hits_before = len(srv.hits)
            second = crawler.run("r2", sources)
            hits_during = len(srv.hits) - hits_before
            r1_finished_while_live = _finished(crawler.data_dir, "r1")
        finally:
            release.set()
            out, err = first.communicate(timeout=180)
        third = crawler.run("r3", sources)
    assert second.returncode == 0, second.stderr[-2000:]
    report = second.report
    assert report["locked"] == ["fixture"] and report["totals"]["locked"] == 1
    assert "fixture" not in report["sources"] and second.manifest == []
    assert hits_during == 0, "the second crawl sent nothing to the source being crawled"
    assert r1_finished_while_live is None, "the replay of r2 finished the live run r1"
    assert first.returncode == 0, err[-2000:]
    r1 = json.loads((crawler.data_dir / "runs" / "r1" / "crawl-report.json").read_text())
    assert r1["locked"] == [] and r1["sources"]["fixture"]["new"] == 3
    # the lock went with the first crawl: the next one crawls the source again
    assert third.returncode == 0 and third.report["locked"] == [] and "fixture" in third.report["sources"]
    assert _finished(crawler.data_dir, "r1") is not None


def test_replay_touches_only_runs_whose_lock_is_free(tmp_path: Path) -> None:
    store = SeenStore(tmp_path / "state" / "crawl.sqlite")
    locks_dir = tmp_path / "locks"
    live = CrawlLocks(locks_dir)  # another crawl process, as far as flock is concerned
    assert live.hold_run("live")
    killed = CrawlLocks(locks_dir)
    assert killed.hold_run("killed")
    for fd in killed._held.values():  # a kill -9: the lock file stays, the lock goes with the fd
        os.close(fd)
    killed._held.clear()
    for run_id in ("live", "killed", "old"):  # "old": a run from before run locks
        store.run_started(run_id)
        run_dir = tmp_path / "runs" / run_id
        run_dir.mkdir(parents=True)
        entry = {
            "url": f"https://e.com/{run_id}",
            "source": "s",
            "fingerprint": "f" * 64,
            "fetched_at": datetime.now(UTC).isoformat(),
        }
        (run_dir / "manifest.jsonl").write_text(json.dumps(entry) + "\n")
    assert (locks_dir / "crawl-run-killed.lock").exists()
    assert run_is_live(locks_dir, "live")
    assert not run_is_live(locks_dir, "killed") and not run_is_live(locks_dir, "old")
    fixed = replay_unfinished_runs(
        store, tmp_path / "runs", "current", is_live=lambda r: run_is_live(locks_dir, r)
    )
    assert store.unfinished_runs() == ["live"]
    assert fixed == 2 and store.lookup("https://e.com/live") is None
    live.release()
    assert not run_is_live(locks_dir, "live")
    store.close()
