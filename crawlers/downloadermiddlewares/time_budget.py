"""Time budgets: one for the whole crawl, one per source (counted from its first request).

When the crawl's budget (``WARWATCH_TIME_BUDGET_SECONDS``) runs out the spider is closed
cleanly with the reason ``budget_exhausted``: what was fetched is archived and marked, the
report is written, undone discovered URLs stay pending for the next run. When a source's
budget (``WARWATCH_SOURCE_TIME_BUDGET_SECONDS``) runs out, its further requests are dropped
(:class:`BudgetExhausted`, counted as ``capped.time_budget``) while other sources go on.
Either way a source with work left (requests under way or queued, discovered articles not
stored yet) is flagged ``budget_exhausted`` in the report. A request never gets a
download timeout beyond what is left of its budgets, so a hung server cannot outlast them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, Self

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.utils.defer import deferred_from_coro

from crawlers.extensions.crawl_state import CrawlState
from crawlers.slots import drain, source_slot

logger = logging.getLogger(__name__)

REASON = "budget_exhausted"
#: A request always gets at least this long to download, even at the end of a budget.
MIN_DOWNLOAD_TIMEOUT = 1.0


class BudgetExhausted(IgnoreRequest):
    """The source's time budget ran out: the request is not made."""


def _refused(request: Request) -> BudgetExhausted:
    return BudgetExhausted(f"time budget used up: {request.url}")


class TimeBudgetMiddleware:
    def __init__(
        self,
        crawler: Crawler,
        state: CrawlState,
        crawl_budget: float | None,
        source_budget: float | None,
        clock: Callable[[], float] = time.monotonic,
        call_later: Callable[..., Any] | None = None,
    ) -> None:
        self.crawler = crawler
        self.state = state
        self.crawl_budget = crawl_budget
        self.source_budget = source_budget
        self.clock = clock
        self._call_later_fn = call_later  # None: the reactor's callLater
        self.default_timeout = crawler.settings.getfloat("DOWNLOAD_TIMEOUT", 180.0)
        self._opened = clock()
        self._source_started: dict[str, float] = {}
        self._timers: list[Any] = []
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        settings = crawler.settings
        crawl_budget = settings.get("WARWATCH_TIME_BUDGET_SECONDS")
        source_budget = settings.get("WARWATCH_SOURCE_TIME_BUDGET_SECONDS")
        if crawl_budget is None and source_budget is None:
            raise NotConfigured
        return cls(
            crawler,
            CrawlState.from_crawler(crawler),
            float(crawl_budget) if crawl_budget is not None else None,
            float(source_budget) if source_budget is not None else None,
        )

    def _call_later(self, seconds: float, fn: Callable[..., None], *args: Any) -> None:
        call_later = self._call_later_fn
        if call_later is None:
            from twisted.internet import reactor  # the crawl's reactor, installed by now

            call_later = reactor.callLater  # type: ignore[attr-defined]
        self._timers.append(call_later(max(0.0, seconds), fn, *args))  # type: ignore[arg-type]

    def spider_opened(self, spider: Spider) -> None:
        self._opened = self.clock()
        if self.crawl_budget is not None:
            self._call_later(self.crawl_budget, self.crawl_budget_over)

    def spider_closed(self, spider: Spider, reason: str) -> None:
        for timer in self._timers:
            if timer.active():
                timer.cancel()

    def crawl_budget_over(self) -> None:
        logger.warning(
            "crawl %s: time budget of %.0fs used up, closing", self.state.run_id, self.crawl_budget
        )
        engine = self.crawler.engine
        for source_id in self.state.sources_by_id:
            if engine is None or self._work_left(engine.downloader, source_id):
                self.state.report[source_id].budget_exhausted = True
        if engine is not None and engine.spider is not None:
            # Requests waiting out a Crawl-delay or Retry-After are not waited for.
            drain(engine.downloader, None, _refused)
            deferred_from_coro(engine.close_spider_async(reason=REASON))

    def _work_left(self, downloader: Any, source_id: str) -> bool:
        """Requests of the source under way or queued, or discovered articles not stored yet."""
        slot = downloader.slots.get(source_slot(source_id))
        if slot is not None and (slot.active or slot.queue):
            return True
        return bool(self.state.store.pending(source_id, limit=1))

    def source_budget_over(self, source_id: str) -> None:
        """Drop what the source has queued; its later requests are refused in process_request.
        A source done before its budget ran out is not flagged."""
        engine = self.crawler.engine
        if engine is None:
            return
        key = source_slot(source_id)
        slot = engine.downloader.slots.get(key)
        busy = slot is not None and bool(slot.active)
        if drain(engine.downloader, key, _refused) or busy:
            self.state.report[source_id].budget_exhausted = True
            logger.warning("source %s: time budget of %.0fs used up", source_id, self.source_budget)

    def remaining(self, source_id: str | None, now: float) -> float | None:
        """Seconds left of the tighter budget for a request of ``source_id`` (None: no budget)."""
        left = [self.crawl_budget - (now - self._opened)] if self.crawl_budget is not None else []
        if source_id is not None and self.source_budget is not None:
            started = self._source_started.get(source_id)
            if started is None:
                started = self._source_started[source_id] = now
                self._call_later(self.source_budget, self.source_budget_over, source_id)
            left.append(self.source_budget - (now - started))
        return min(left) if left else None

    def process_request(self, request: Request) -> None:
        source_id = request.meta.get("source")
        left = self.remaining(source_id, self.clock())
        if left is None:
            return
        if left <= 0:
            if source_id is not None:
                self.state.report[source_id].budget_exhausted = True
            raise _refused(request)
        timeout = float(request.meta.get("download_timeout", self.default_timeout))
        if left < timeout:
            request.meta["download_timeout"] = max(left, MIN_DOWNLOAD_TIMEOUT)
