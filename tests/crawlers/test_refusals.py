"""401/403 are transient (a rate limit as often as a ban): retried in later runs with backoff,
and a source that answers mostly with them is ``blocked`` in health, not ``errors`` (issue 16)."""

from __future__ import annotations

import sqlite3
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from scrapy.http import HtmlResponse, Request
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from crawlers.failures import PERMANENT, failure_reason
from indexing.health import evaluate_rules, run_figures
from indexing.health.store import SourceHistory
from indexing.settings import HealthSettings
from tests.crawlers.conftest import Crawler
from tests.crawlers.sitefixture import Route, SiteServer, article_html, sources_yaml

_ARTICLE = "/world/2024/05/rate-limited-story-report.html"


def _feed(paths: list[str]) -> Route:
    items = "".join(f"<item><link>{{{{BASE}}}}{p}</link></item>" for p in paths)
    return Route(body=f"<rss><channel>{items}</channel></rss>".encode(), content_type="application/rss+xml")


def _time_passes(data_dir: Path, hours: float) -> None:
    """Move the recorded retry times back (the crawler reads the wall clock)."""
    db = sqlite3.connect(data_dir / "state" / "crawl.sqlite")
    with db:
        db.execute("UPDATE pending SET next_try = next_try - ?", (hours * 3600,))
    db.close()


def test_403_twice_then_200_is_fetched_on_a_later_try(crawler: Crawler) -> None:
    answers = [403, 403, 200]

    def rate_limited(req: BaseHTTPRequestHandler) -> Route:
        status = answers.pop(0) if len(answers) > 1 else answers[0]
        return Route(status, article_html(_ARTICLE, "Story", "Body text. " * 20) if status == 200 else b"slow down")

    routes = {
        "/robots.txt": Route(body=b"User-agent: *\n", content_type="text/plain"),
        "/feed.xml": _feed([_ARTICLE]),
        _ARTICLE: Route(handler=rate_limited),
    }
    with SiteServer(routes) as srv:
        sources = crawler.sources(sources_yaml(srv.base_url, sitemaps=False, sections=False))
        first = crawler.run("r1", sources)
        waiting = crawler.run("r2", sources)  # within the backoff: not asked again
        _time_passes(crawler.data_dir, 1)
        second_try = crawler.run("r3", sources)
        _time_passes(crawler.data_dir, 2)
        third_try = crawler.run("r4", sources)
        article_hits = srv.count(_ARTICLE)
    assert first.source()["failed"] == {"http_403": 1}
    assert waiting.source()["skipped_backoff"] == 1 and waiting.source()["skipped_failed"] == 0
    assert second_try.source()["failed"] == {"http_403": 1}
    assert [e["url"].endswith(_ARTICLE) for e in third_try.manifest] == [True]
    assert third_try.source()["new"] == 1 and article_hits == 3


def test_a_source_answering_only_403_is_blocked_in_health_not_errors(crawler: Crawler) -> None:
    paths = [f"/world/2024/05/refused-story-{i}-report.html" for i in range(6)]
    routes = {p: Route(403, b"<html><body>Access denied</body></html>") for p in paths}
    routes["/robots.txt"] = Route(body=b"User-agent: *\n", content_type="text/plain")
    routes["/feed.xml"] = _feed(paths)
    with SiteServer(routes) as srv:
        result = crawler.run("r1", crawler.sources(sources_yaml(srv.base_url, sitemaps=False, sections=False)))
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.source()["failed"] == {"http_403": 6}
    (doc,) = run_figures("r1", crawler.data_dir / "runs")
    assert doc["blocked"] == 6 and doc["blocked_ratio"] == 1.0
    cfg = HealthSettings(min_attempts=5, max_error_ratio=0.5)
    findings = evaluate_rules(SourceHistory("fixture", [doc], None), cfg)
    assert [f.rule for f in findings] == ["blocked"]
    assert "refused (401/403/challenge pages)" in findings[0].message


def test_errors_that_are_not_refusals_stay_errors() -> None:
    run = {"run_id": "r1", "new": 0, "attempts": 10, "error_ratio": 0.8, "blocked_ratio": 0.1,
           "failures": {"http_503": 7, "http_403": 1}}
    cfg = HealthSettings(min_attempts=5, max_error_ratio=0.5)
    assert [f.rule for f in evaluate_rules(SourceHistory("s", [run], None), cfg)] == ["errors"]


def test_challenge_pages_are_their_own_reason_and_not_permanent() -> None:
    request = Request("https://news.example/a-story")
    page = b"<html><head><title>Just a moment...</title></head><body><script src='/cdn-cgi/challenge-platform/x'>"
    challenge = HtmlResponse(request.url, status=403, body=page, request=request)
    plain = HtmlResponse(request.url, status=403, body=b"<html>no</html>", request=request)
    flagged = HtmlResponse(request.url, status=503, body=b"", headers={"cf-mitigated": "challenge"}, request=request)
    reasons = [failure_reason(Failure(HttpError(r))) for r in (challenge, plain, flagged)]
    assert reasons == ["challenge", "http_403", "challenge"]
    assert not {"challenge", "http_401", "http_403"} & PERMANENT
