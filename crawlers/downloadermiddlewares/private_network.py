"""Refuse loopback, private, link-local and other non-public addresses (SSRF guard).

A source may opt in with ``allow_private_network: true`` (test and intranet sites). Requests
without a source (robots.txt) are allowed only on the hosts of sources that opted in.
"""

from __future__ import annotations

import logging
from typing import Self

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest
from scrapy.utils.httpobj import urlparse_cached

from crawlers.urlcache import host_is_private, normalised_host
from indexing.urls import url_host

logger = logging.getLogger(__name__)


class PrivateAddressRefused(IgnoreRequest):
    """The request's host is (or resolves to) a non-public address."""


class PrivateNetworkMiddleware:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    def _sources(self) -> dict:
        spider = self.crawler.spider
        return getattr(spider, "sources_by_id", {}) if spider is not None else {}

    def process_request(self, request: Request) -> None:
        host = normalised_host(urlparse_cached(request).hostname or "")
        if not host_is_private(host):
            return None
        sources = self._sources()
        source = sources.get(request.meta.get("source"))
        if source is not None:
            allowed = source.allow_private_network
        else:
            allowed = any(s.allow_private_network and url_host(s.url) == host for s in sources.values())
        if allowed:
            return None
        logger.warning("refusing %s: %s is a private/loopback address", request.url, host)
        raise PrivateAddressRefused(f"private address: {host}")
