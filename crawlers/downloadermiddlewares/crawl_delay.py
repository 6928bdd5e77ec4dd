"""Honour robots.txt ``Crawl-delay`` (Scrapy reads robots.txt but does not apply it).

Each request to a host reserves the next free time slot ``crawl_delay`` seconds after the
previous one and waits for it, so concurrency or AutoThrottle cannot undercut the delay.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Self

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet import reactor, task

logger = logging.getLogger(__name__)

#: Longer Crawl-delays are clamped (a value of hours would stall a news crawl for days).
MAX_CRAWL_DELAY = 60.0


class CrawlDelayMiddleware:
    def __init__(self, crawler: Crawler) -> None:
        if not crawler.settings.getbool("ROBOTSTXT_OBEY"):
            raise NotConfigured
        self.user_agent = crawler.settings.get("ROBOTSTXT_USER_AGENT") or crawler.settings.get("USER_AGENT")
        self.delays: dict[str, float] = {}
        self._next_slot: dict[str, float] = {}
        crawler.signals.connect(self.robots_parsed, signal=signals.robots_parsed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    def robots_parsed(self, robotparser: Any, request: Request) -> None:
        crawl_delay = getattr(robotparser, "crawl_delay", None)
        if crawl_delay is None:
            return
        try:
            delay = crawl_delay(self.user_agent)
        except (TypeError, ValueError):
            return
        if delay:
            netloc = urlparse_cached(request).netloc
            self.delays[netloc] = min(float(delay), MAX_CRAWL_DELAY)
            logger.info("robots.txt of %s asks for Crawl-delay %.1fs", netloc, self.delays[netloc])

    async def process_request(self, request: Request) -> None:
        if request.meta.get("dont_obey_robotstxt"):
            return
        netloc = urlparse_cached(request).netloc
        delay = self.delays.get(netloc)
        if not delay:
            return
        now = time.monotonic()
        slot = max(now, self._next_slot.get(netloc, 0.0))
        self._next_slot[netloc] = slot + delay
        wait = slot - now
        if wait > 0:
            await maybe_deferred_to_future(task.deferLater(reactor, wait, lambda: None))
