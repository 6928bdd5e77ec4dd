"""Keep every request of a source (redirects included) on its host and subdomains."""

from __future__ import annotations

import logging
from typing import Self

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest

from crawlers.extensions.crawl_state import CrawlState
from crawlers.kinds import ON_SOURCE_HOST
from crawlers.urlcache import in_scope

logger = logging.getLogger(__name__)


class OffsiteRefused(IgnoreRequest):
    """An article request (usually a redirect) left the source's host."""


class SourceScopeMiddleware:
    def __init__(self, state: CrawlState) -> None:
        self.sources_by_id = state.sources_by_id

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(CrawlState.from_crawler(crawler))

    def process_request(self, request: Request) -> None:
        # Feeds and sitemaps named in the sources file may live elsewhere (a CDN, a feed
        # service); what they lead to must stay on the source's host.
        if request.meta.get("kind") not in ON_SOURCE_HOST:
            return None
        source = self.sources_by_id.get(request.meta.get("source", ""))
        if source is None or in_scope(source, request.url):
            return None
        logger.info("refusing off-site %s for source %s", request.url, source.id)
        raise OffsiteRefused(f"offsite: {request.url}")
