"""Request kinds are one enum (crawlers.kinds) whose values are the strings stored in request
meta and named in crawl reports; every request the scheduler builds carries one."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from scrapy import Request

from crawlers.crawl_report import CrawlReport
from crawlers.downloadermiddlewares.scope import OffsiteRefused, SourceScopeMiddleware
from crawlers.kinds import DISCOVERY_KINDS, RequestKind
from crawlers.limits import CrawlLimits
from crawlers.scheduling import RequestScheduler
from crawlers.state import SeenStore
from indexing.sources import Source

SOURCE = Source.model_validate({"id": "s", "name": "S", "url": "https://s.example/"})


def _scheduler(tmp_path: Path) -> RequestScheduler:
    state: Any = SimpleNamespace(
        store=SeenStore(tmp_path / "crawl.sqlite"),
        report=CrawlReport("r1", [SOURCE.id], 0.5),
        sources_by_id={SOURCE.id: SOURCE},
    )
    callbacks: dict[str, Any] = {k: (lambda *a, **kw: None) for k in [*RequestKind, "error"]}
    return RequestScheduler(state, CrawlLimits(), callbacks)


def test_the_kinds_keep_the_strings_stored_in_meta_and_reports() -> None:
    assert {k.value for k in RequestKind} == {"robots", "feed", "sitemap", "section", "article"}
    assert RequestKind("section") is RequestKind.SECTION
    assert f"{RequestKind.FEED}:malformed" == "feed:malformed"
    assert RequestKind.ARTICLE not in DISCOVERY_KINDS
    assert DISCOVERY_KINDS == {"robots", "feed", "sitemap", "section"}


def test_every_scheduled_request_carries_its_kind(tmp_path: Path) -> None:
    scheduler = _scheduler(tmp_path)
    requests = {
        RequestKind.ROBOTS: scheduler.robots(SOURCE, "https://s.example/robots.txt"),
        RequestKind.FEED: scheduler.discovery(SOURCE, "https://s.example/feed.xml", RequestKind.FEED),
        RequestKind.SITEMAP: scheduler.discovery(SOURCE, "https://s.example/sm.xml", RequestKind.SITEMAP),
        RequestKind.SECTION: scheduler.section(SOURCE, "https://s.example/news/", depth=0),
        RequestKind.ARTICLE: scheduler.article(SOURCE, "https://s.example/a/1", RequestKind.FEED, datetime.now(UTC)),
    }
    for kind, request in requests.items():
        assert request.meta["kind"] is kind
        assert request.dont_filter == (kind is RequestKind.ARTICLE)
    assert "sitemap_depth" in requests[RequestKind.SITEMAP].meta
    assert "sitemap_depth" not in requests[RequestKind.FEED].meta
    # four discovery requests outstanding: the held-back links wait for the last one
    assert scheduler._discovering[SOURCE.id] == 4


@pytest.mark.parametrize("kind", ["article", "section", RequestKind.ARTICLE, RequestKind.SECTION])
def test_scope_refuses_off_site_articles_and_sections(kind: str) -> None:
    middleware = SourceScopeMiddleware(SimpleNamespace(sources_by_id={SOURCE.id: SOURCE}))  # type: ignore[arg-type]
    with pytest.raises(OffsiteRefused):
        middleware.process_request(Request("https://elsewhere.example/x", meta={"source": "s", "kind": kind}))
    assert middleware.process_request(Request("https://s.example/x", meta={"source": "s", "kind": kind})) is None


@pytest.mark.parametrize("kind", ["feed", "sitemap", RequestKind.FEED, RequestKind.SITEMAP])
def test_scope_lets_feeds_and_sitemaps_live_on_a_cdn(kind: str) -> None:
    middleware = SourceScopeMiddleware(SimpleNamespace(sources_by_id={SOURCE.id: SOURCE}))  # type: ignore[arg-type]
    request = Request("https://cdn.example/feed.xml", meta={"source": "s", "kind": kind})
    assert middleware.process_request(request) is None
