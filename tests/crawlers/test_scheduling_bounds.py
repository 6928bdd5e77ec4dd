"""What the request scheduler remembers during a run stays within what the article cap can use,
however many URLs a source lists (counted entries, not time)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from crawlers.crawl_report import CrawlReport
from crawlers.limits import CrawlLimits
from crawlers.scheduling import RequestScheduler
from crawlers.state import SeenStore
from indexing.sources import Source

# The defaults (a cap of 5,000 new articles, sitemaps of up to 50,000 URLs) scaled down 100x:
# a source listing ten full sitemaps, a thousand times what its cap can use.
CAP = 50
LISTS, PER_LIST = 10, 5_000


def _scheduler(tmp_path: Path, source: Source) -> RequestScheduler:
    state: Any = SimpleNamespace(
        store=SeenStore(tmp_path / "crawl.sqlite"),
        report=CrawlReport("r1", [source.id], 0.5),
        sources_by_id={source.id: source},
    )
    callbacks = {k: (lambda *a, **kw: None) for k in ("article", "error", "sitemap", "feed", "section", "robots")}
    return RequestScheduler(state, CrawlLimits(max_articles_per_source=CAP), callbacks)


def test_the_scheduled_set_holds_what_the_cap_can_use(tmp_path: Path) -> None:
    source = Source.model_validate({"id": "big", "name": "Big", "url": "https://big.example/"})
    scheduler = _scheduler(tmp_path, source)
    now = datetime.now(UTC)
    requested = []
    for n in range(LISTS):
        found = [(f"https://big.example/a/{n}-{i}", now - timedelta(minutes=n * PER_LIST + i), None)
                 for i in range(PER_LIST)]
        requested += scheduler.articles(source, found, "sitemap")
    # the feed lists the newest again: neither requested nor counted twice
    requested += scheduler.articles(source, [(f"https://big.example/a/0-{i}", None, now) for i in range(10)], "feed")
    stats = scheduler.state.report[source.id]

    assert len(requested) == CAP
    assert stats.discovered == LISTS * PER_LIST
    assert stats.capped["articles"] == LISTS * PER_LIST - CAP
    # remembered: the requested URLs and the latest 2 x cap turned down, not all 50,000 listed
    assert len(scheduler.scheduled) == CAP
    remembered = len(scheduler.scheduled) + sum(len(p) for p in scheduler._passed.values())
    assert remembered <= 3 * CAP
