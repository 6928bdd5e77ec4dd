"""The kinds of request a crawl makes: stored in ``request.meta["kind"]`` and named in the crawl
report (``discovery_failed["<kind>:<reason>"]``), so the values are the strings they always were."""

from __future__ import annotations

from enum import StrEnum


class RequestKind(StrEnum):
    ROBOTS = "robots"
    FEED = "feed"
    SITEMAP = "sitemap"
    SECTION = "section"
    ARTICLE = "article"


#: request kinds that discover articles: a source's held-back undated links wait for these
DISCOVERY_KINDS = frozenset({RequestKind.ROBOTS, RequestKind.FEED, RequestKind.SITEMAP, RequestKind.SECTION})
#: request kinds that must stay on the source's host (feeds and sitemaps may live on a CDN)
ON_SOURCE_HOST = frozenset({RequestKind.ARTICLE, RequestKind.SECTION})
