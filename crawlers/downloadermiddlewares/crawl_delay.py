"""Honour robots.txt ``Crawl-delay`` (Scrapy reads robots.txt but does not apply it).

The delay becomes the minimum delay of the source's download slot (``crawlers.slots``): the
slot sends one request per Crawl-delay while other sources' slots go on at their own pace. No
request waits inside this middleware (that would hold a global request slot). Delays longer
than ``WARWATCH_MAX_CRAWL_DELAY`` are clamped (a value of hours would stall a news crawl).
"""

from __future__ import annotations

import logging
from typing import Any, Self

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.utils.httpobj import urlparse_cached

from crawlers.limits import DEFAULTS
from crawlers.slots import set_min_delay, slot_key

logger = logging.getLogger(__name__)


class CrawlDelayMiddleware:
    def __init__(self, crawler: Crawler, user_agent: str, max_delay: float) -> None:
        self.crawler = crawler
        self.user_agent = user_agent
        self.max_delay = max_delay
        self.delays: dict[str, float] = {}  # netloc -> seconds
        crawler.signals.connect(self.robots_parsed, signal=signals.robots_parsed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        settings = crawler.settings
        if not settings.getbool("ROBOTSTXT_OBEY"):
            raise NotConfigured
        user_agent = settings.get("ROBOTSTXT_USER_AGENT") or settings.get("USER_AGENT")
        return cls(crawler, user_agent, settings.getfloat("WARWATCH_MAX_CRAWL_DELAY", DEFAULTS.max_crawl_delay))

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
            self.delays[netloc] = min(float(delay), self.max_delay)
            logger.info("robots.txt of %s asks for Crawl-delay %.1fs", netloc, self.delays[netloc])

    def process_request(self, request: Request) -> None:
        if not self.delays or request.meta.get("dont_obey_robotstxt"):
            return
        delay = self.delays.get(urlparse_cached(request).netloc)
        key = slot_key(request)
        if delay and key is not None and self.crawler.engine is not None:
            set_min_delay(self.crawler.engine.downloader, key, delay)
