"""Do not follow an article redirect to an article that is already stored (earlier or in this run).

The old URL is recorded as an alias of the target, so the next run does not request it at
all; the response counts as a duplicate, not a failure.
"""

from __future__ import annotations

import logging
from typing import Self
from urllib.parse import urljoin

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response

from crawlers.extensions.crawl_state import CrawlState
from crawlers.kinds import RequestKind
from crawlers.urlcache import canonical

logger = logging.getLogger(__name__)

_REDIRECTS = {301, 302, 303, 307, 308}


class KnownRedirectTarget(IgnoreRequest):
    """The redirect leads to an article that is already stored."""


class KnownRedirectMiddleware:
    def __init__(self, state: CrawlState) -> None:
        self.state = state

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(CrawlState.from_crawler(crawler))

    def process_response(self, request: Request, response: Response) -> Response:
        if (
            response.status not in _REDIRECTS
            or request.meta.get("kind") != RequestKind.ARTICLE
            or request.meta.get("recrawl")
        ):
            return response
        location = response.headers.get(b"Location")
        if not location:
            return response
        target = canonical(urljoin(request.url, location.decode("latin-1")))
        if target == canonical(request.url):
            return response
        store = self.state.store
        if target in self.state.claimed or store.lookup(target) is not None:
            requested = request.meta.get("requested", canonical(request.url))
            store.add_alias(requested, target)
            logger.debug("%s redirects to known article %s", request.url, target)
            raise KnownRedirectTarget(f"redirect to known article {target}")
        return response
