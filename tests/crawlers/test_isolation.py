"""Isolation and budgets (issue 10): one source's Crawl-delay, Retry-After or slowness never
delays another's articles; time budgets stop a crawl (or a source) cleanly and keep what was
fetched; transient failures are retried in later runs with a backoff, permanent ones are not."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from crawlers.state import RetryPolicy
from tests.crawlers.conftest import Crawler, CrawlResult
from tests.crawlers.seenbackend import SeenBackend
from tests.crawlers.sitefixture import Route, SiteServer, article_html

_XML = "application/xml"


def _site(
    prefix: str, n: int, robots: bytes = b"User-agent: *\n", **article: object
) -> tuple[dict[str, Route], list[str]]:
    paths = [f"/{prefix}/2024/05/story-{prefix}-{i}-report.html" for i in range(n)]
    routes = {p: Route(body=article_html(p, p, "Body text. " * 20), **article) for p in paths}  # type: ignore[arg-type]
    rows = "".join(f"<url><loc>{{{{BASE}}}}{p}</loc></url>" for p in paths)
    routes["/s.xml"] = Route(
        body=f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{rows}</urlset>'.encode(),
        content_type=_XML,
    )
    routes["/robots.txt"] = Route(body=robots, content_type="text/plain")
    return routes, paths


def _source(source_id: str, base: str) -> str:
    return (
        f"  - id: {source_id}\n    name: {source_id}\n    url: {base}/\n    feeds: []\n"
        f"    sitemaps: [{base}/s.xml]\n    sections: []\n    allow_private_network: true\n"
    )


def _article_hits(srv: SiteServer, paths: list[str]) -> list[float]:
    wanted = set(paths)
    return sorted(h.at for h in srv.hits if h.bare_path in wanted)


def _crawl_two(
    crawler: Crawler, sites: dict[str, tuple[dict[str, Route], list[str]]], *extra: str
) -> tuple[CrawlResult, float, dict[str, list[float]]]:
    """One crawl of two sources, each on its own server: (result, the crawl's first request
    (not the process start: a loaded machine takes seconds to import), article hit times)."""
    (a, (a_routes, a_paths)), (b, (b_routes, b_paths)) = sites.items()
    with SiteServer(a_routes) as sa, SiteServer(b_routes) as sb:
        sources = crawler.sources("sources:\n" + _source(a, sa.base_url) + _source(b, sb.base_url))
        result = crawler.run("r1", sources, *extra, timeout=120)
        started = min(h.at for h in sa.hits + sb.hits)
        hits = {a: _article_hits(sa, a_paths), b: _article_hits(sb, b_paths)}
    assert result.returncode == 0, result.stderr[-2000:]
    return result, started, hits


def test_a_long_crawl_delay_does_not_delay_another_source_and_the_budget_ends_the_crawl(
    crawler: Crawler,
) -> None:
    slow = _site("slow", 5, robots=b"User-agent: *\nCrawl-delay: 30\n")
    # Few global request slots: requests waiting out the delay must not hold them.
    crawler.env["WARWATCH_CRAWL__CONCURRENT_REQUESTS"] = "4"
    result, started, hits = _crawl_two(
        crawler, {"slow": slow, "fast": _site("fast", 40)}, "--time-budget", "12"
    )
    fast_hits, slow_hits = hits["fast"], hits["slow"]
    # every fast article, each within seconds of the crawl's start, while the slow source waits
    assert len(fast_hits) == 40 and fast_hits[-1] - started < 10, fast_hits[-1] - started
    assert len(slow_hits) <= 1
    # the budget closed the crawl on time: the slow source's 30 s waits were not waited out
    report = result.report
    assert report["duration"] < 12 + 10, report["duration"]
    assert report["finish_reason"] == "budget_exhausted"
    assert report["sources"]["fast"]["new"] == 40 and len(result.manifest) == 40 + len(slow_hits)
    assert "budget_exhausted" in report["sources"]["slow"]["flags"]
    assert "budget_exhausted" not in report["sources"]["fast"]["flags"]  # it had finished


def test_retry_after_holds_only_its_own_source(crawler: Crawler) -> None:
    busy = _site("busy", 3, status=429, headers={"Retry-After": "60"})
    crawler.env["WARWATCH_CRAWL__CONCURRENT_REQUESTS"] = "4"
    crawler.env["WARWATCH_CRAWL__MAX_RETRY_AFTER"] = "100"
    result, started, hits = _crawl_two(
        crawler, {"busy": busy, "fast": _site("fast", 30)}, "--time-budget", "10"
    )
    fast_hits, busy_hits = hits["fast"], hits["busy"]
    assert len(fast_hits) == 30 and fast_hits[-1] - started < 9
    # the first 429 held the busy source's slot: no retry hammered it within the 60 s asked for
    assert 1 <= len(busy_hits) <= 3 and busy_hits[-1] - busy_hits[0] < 5
    assert result.report["sources"]["fast"]["new"] == 30


def test_a_source_budget_stops_that_source_only(crawler: Crawler) -> None:
    # one article a second: 30 take 30 s, the source's budget is 4 s
    slow_routes, slow_paths = _site("slow", 30, robots=b"User-agent: *\nCrawl-delay: 1\n")
    fast_routes, fast_paths = _site("fast", 30)
    with SiteServer(slow_routes) as slow, SiteServer(fast_routes) as fast:
        sources = crawler.sources(
            "sources:\n" + _source("slow", slow.base_url) + _source("fast", fast.base_url)
        )
        result = crawler.run("r1", sources, "--source-time-budget", "4", timeout=120)
        slow_hits = _article_hits(slow, slow_paths)
        second = crawler.run("r2", sources, "--source-time-budget", "4", timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    report = result.report
    assert report["finish_reason"] == "finished"
    slow_stats, fast_stats = report["sources"]["slow"], report["sources"]["fast"]
    assert "budget_exhausted" in slow_stats["flags"] and "budget_exhausted" not in fast_stats["flags"]
    assert fast_stats["new"] == 30
    assert 1 <= slow_stats["new"] <= 8 and slow_stats["new"] == len(slow_hits)
    # what the budget cut was counted, not failed, and stays pending for the next run
    assert slow_stats["capped"]["time_budget"] >= 1 and slow_stats["failed"] == {}
    assert second.report["sources"]["slow"]["new"] >= 1
    stored = {e["url"] for e in result.manifest + second.manifest}
    assert len(stored) == len(result.manifest) + len(second.manifest), "nothing fetched twice"


def test_transient_failures_back_off_and_stay_retryable_permanent_ones_are_given_up(seen: SeenBackend) -> None:
    policy = RetryPolicy(base=timedelta(minutes=30), cap=timedelta(hours=24), max_attempts=10)
    assert [policy.wait(n) for n in (1, 2, 3, 7, 8, 20)] == [
        timedelta(minutes=30),
        timedelta(hours=1),
        timedelta(hours=2),
        timedelta(hours=24),
        timedelta(hours=24),
        timedelta(hours=24),
    ]
    store = seen.open(retry=policy)
    t0 = datetime(2024, 5, 3, 12, tzinfo=UTC)
    store.add_pending([("https://e.com/flaky", "s", "feed", None), ("https://e.com/gone", "s", "feed", None)])
    # three bad hours, one failed run an hour: still retried, each time a little later
    for hour in range(3):
        now = t0 + timedelta(hours=hour)
        assert "https://e.com/flaky" in {p.url for p in store.pending("s", now)}
        store.pending_failed("https://e.com/flaky", now=now)
    assert not store.gave_up("https://e.com/flaky")
    assert store.next_try("https://e.com/flaky") == t0 + timedelta(hours=2) + timedelta(hours=2)
    assert "https://e.com/flaky" not in {p.url for p in store.pending("s", t0 + timedelta(hours=3))}
    assert "https://e.com/flaky" in {p.url for p in store.pending("s", t0 + timedelta(hours=4))}
    store.pending_failed("https://e.com/gone", permanent=True, now=t0)
    assert store.gave_up("https://e.com/gone")
    assert "https://e.com/gone" not in {p.url for p in store.pending("s", t0 + timedelta(days=30))}
    for _ in range(7):
        store.pending_failed("https://e.com/flaky", now=t0)
    assert store.gave_up("https://e.com/flaky")  # ten transient failures: given up
    store.close()


def test_a_503_is_retried_in_a_later_run_after_its_backoff(crawler: Crawler) -> None:
    routes, paths = _site("s", 3)
    routes[paths[0]].status = 503
    crawler.env["WARWATCH_CRAWL__RETRY_TIMES"] = "0"
    with SiteServer(routes) as srv:
        sources = crawler.sources("sources:\n" + _source("fixture", srv.base_url))
        first = crawler.run("r1", sources)
        second = crawler.run("r2", sources)  # inside the 30 min backoff
        routes[paths[0]].status = 200
        # half an hour later (the subprocess has no clock to inject): the backoff has passed
        db = sqlite3.connect(crawler.data_dir / "state" / "crawl.sqlite")
        with db:
            db.execute("UPDATE pending SET next_try = next_try - 1800")
        db.close()
        third = crawler.run("r3", sources)
    assert first.source()["failed"] == {"http_503": 1} and first.source()["new"] == 2
    assert second.source()["skipped_backoff"] == 1 and second.source()["failed"] == {}
    assert srv.count(paths[0]) == 2
    assert third.source()["new"] == 1 and third.manifest[0]["url"].endswith(paths[0])


def test_time_budget_middleware_refuses_and_clamps_by_an_injected_clock(tmp_path: Path) -> None:
    import pytest
    from scrapy import Request
    from scrapy.utils.test import get_crawler

    from crawlers.downloadermiddlewares.time_budget import BudgetExhausted, TimeBudgetMiddleware
    from crawlers.extensions.crawl_state import CrawlState
    from indexing.sources import Source

    sources = [Source(id=s, name=s, url=f"https://{s}.example.com/", feeds=[]) for s in ("a", "b")]
    crawler = get_crawler(
        settings_dict={
            "WARWATCH_RUN_ID": "t",
            "WARWATCH_SOURCES": sources,
            "WARWATCH_RUNS_DIR": str(tmp_path / "runs"),
            "WARWATCH_STATE_DIR": str(tmp_path / "state"),
            "DOWNLOAD_TIMEOUT": 30,
        }
    )
    state = CrawlState.from_crawler(crawler)
    now = [100.0]
    timers: list[tuple[float, object, tuple[object, ...]]] = []

    def call_later(seconds: float, fn: object, *args: object) -> None:
        timers.append((seconds, fn, args))

    mw = TimeBudgetMiddleware(
        crawler, state, crawl_budget=60.0, source_budget=20.0, clock=lambda: now[0], call_later=call_later
    )

    def request(source: str) -> Request:
        return Request(f"https://{source}.example.com/x", meta={"source": source})

    first = request("a")
    mw.process_request(first)  # a's budget starts now; 20 s left < 30 s timeout
    assert first.meta["download_timeout"] == 20.0
    assert timers == [(20.0, mw.source_budget_over, ("a",))]  # drops what a has queued then
    now[0] += 15
    late = request("a")
    mw.process_request(late)
    assert late.meta["download_timeout"] == 5.0
    now[0] += 10  # a: 25 s > 20 s
    with pytest.raises(BudgetExhausted):
        mw.process_request(request("a"))
    assert state.report["a"].budget_exhausted and not state.report["b"].budget_exhausted
    other = request("b")  # b's own budget starts only now
    mw.process_request(other)
    assert other.meta["download_timeout"] == 20.0
    now[0] += 30  # the crawl's 60 s are over for everyone
    with pytest.raises(BudgetExhausted):
        mw.process_request(request("b"))
    state.store.close()


def test_a_source_never_gets_more_parallel_requests_than_configured(crawler: Crawler) -> None:
    routes, paths = _site("s", 10, delay=0.5)
    crawler.env["WARWATCH_CRAWL__CONCURRENT_REQUESTS_PER_DOMAIN"] = "2"
    with SiteServer(routes) as srv:
        result = crawler.run("r1", crawler.sources("sources:\n" + _source("fixture", srv.base_url)))
        arrivals = _article_hits(srv, paths)
    assert result.returncode == 0 and result.source()["new"] == 10
    # each answer takes 0.5 s: at most 2 requests may arrive within any 0.45 s
    assert max(sum(t - 0.45 < u <= t for u in arrivals) for t in arrivals) <= 2, arrivals
