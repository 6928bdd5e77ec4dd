"""One config-driven spider for every source of the crawl (``WARWATCH_SOURCES``).

Discovery per source: robots.txt ``Sitemap:`` lines, configured feeds (RSS/Atom), sitemaps
(index, gzipped, Google News) and section pages (links that look like articles, nested
sections up to ``crawl.section_depth``), each bounded (``crawlers.limits``). Discovery requests
go first; articles are fetched newest first where a date is known (``crawlers.scheduling``).
The crawl's state (sources, seen-store, report) is the ``CrawlState`` extension; this class
only turns responses into requests and items.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from typing import Any, Self
from urllib.parse import urlsplit

import scrapy
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DontCloseSpider
from scrapy.http import Request, Response
from twisted.python.failure import Failure

from crawlers.articles import aliases_of, article_item, article_key, is_article_link, is_html
from crawlers.extensions.crawl_state import CrawlState
from crawlers.failures import BUDGET_EXHAUSTED, DUPLICATE, PERMANENT, ROBOTS_DENIED, failure_reason
from crawlers.feeds import MalformedFeed, parse_feed
from crawlers.kinds import DISCOVERY_KINDS, RequestKind
from crawlers.limits import CrawlLimits
from crawlers.links import extract_links, looks_like_asset
from crawlers.revisits import AS_ARTICLE, Confirm, RevisitAnswers
from crawlers.scheduling import Found, RequestScheduler
from crawlers.sitemaps import MalformedSitemap, SitemapTooLarge, read_sitemap, robots_sitemaps
from crawlers.urlcache import canonical, in_scope
from crawlers.validators import DOC_META
from indexing.dates import parse_date
from indexing.sources import Source

logger = logging.getLogger(__name__)


class NewsSpider(scrapy.Spider):
    name = "news"

    def __init__(self, state: CrawlState, limits: CrawlLimits, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.state = state
        self.store = state.store
        self.report = state.report
        self.limits = limits
        #: kept for components that still look sources up on the spider
        self.sources_by_id = state.sources_by_id
        callbacks: dict[str, Callable[..., Any]] = {
            RequestKind.ROBOTS: self._discovery(self.parse_robots),
            RequestKind.FEED: self._discovery(self.parse_feed),
            RequestKind.SITEMAP: self._discovery(self.parse_sitemap),
            RequestKind.SECTION: self._discovery(self.parse_section),
            RequestKind.ARTICLE: self.parse_article,
            "revisit": self.parse_revisit,
            "error": self.on_error,
        }
        self.revisits = RevisitAnswers(state)
        self.requests = RequestScheduler(state, limits, callbacks)

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Self:
        spider = cls(CrawlState.from_crawler(crawler), CrawlLimits.from_settings(crawler.settings), **kwargs)
        spider._set_crawler(crawler)
        crawler.signals.connect(spider.release_undated, signal=signals.spider_idle)
        return spider

    def _discovery(
        self, parse: Callable[[Response], Iterator[Request]]
    ) -> Callable[[Response], Iterator[Request]]:
        """``parse``, then the source's held-back undated links when this was its last
        outstanding discovery request (``RequestScheduler.discovery_done``)."""

        def run(response: Response) -> Iterator[Request]:
            yield from parse(response)
            yield from self.requests.discovery_done(response.meta["source"])

        run.__name__ = parse.__name__
        return run

    def release_undated(self) -> None:
        """When everything else is done: the undated article links held back (see
        ``RequestScheduler._defer``), within what is left of each source's cap."""
        requests = self.requests.release_undated()
        if not requests:
            return
        assert self.crawler.engine is not None
        for request in requests:
            self.crawler.engine.crawl(request)
        raise DontCloseSpider

    async def start(self) -> AsyncIterator[Request]:
        now = datetime.now(UTC)
        for source in self.state.sources:
            for request in self._start_requests(source, now):
                yield request

    def _start_requests(self, source: Source, now: datetime) -> Iterator[Request]:
        self.report[source.id].touch()
        parts = urlsplit(source.url)
        yield self.requests.robots(source, f"{parts.scheme}://{parts.netloc}/robots.txt")
        for url in source.feeds:
            yield self.requests.discovery(source, url, RequestKind.FEED)
        for url in source.sitemaps:
            yield self.requests.discovery(source, url, RequestKind.SITEMAP)
        for url in source.sections or ([] if source.feeds or source.sitemaps else [source.url]):
            yield self.requests.section(source, url, depth=0)
        yield from self.requests.resumed(source, now)

    # --- discovery callbacks -----------------------------------------------------------------
    def _account(self, response: Response) -> Source:
        source = self.state.sources_by_id[response.meta["source"]]
        stats = self.report[source.id]
        stats.bytes += len(response.body)
        stats.touch()
        return source

    def _read_completely(self, response: Response) -> None:
        """Every URL the feed or sitemap lists is scheduled or pending: its validators are
        saved once its children (if any) are read completely too (``crawlers.validators``)."""
        etag = response.headers.get(b"ETag")
        last_modified = response.headers.get(b"Last-Modified")
        self.requests.validators.parsed(
            response.meta.get(DOC_META, response.url),
            etag.decode("latin-1") if etag else None,
            last_modified.decode("latin-1") if last_modified else None,
        )

    def _not_read(self, response: Response, not_modified: bool = False) -> None:
        doc = response.meta.get(DOC_META, response.url)
        if not_modified:
            self.requests.validators.not_modified(doc)
        else:
            self.requests.validators.failed(doc, permanent=False)

    def parse_robots(self, response: Response) -> Iterator[Request]:
        source = self._account(response)
        yield from self.requests.robots_sitemaps(source, robots_sitemaps(response.body, response.url))

    def parse_feed(self, response: Response) -> Iterator[Request]:
        source = self._account(response)
        if response.status == 304:
            self.report[source.id].not_modified += 1
            self._not_read(response, not_modified=True)
            return
        try:
            entries = parse_feed(response.body, response.url)
        except MalformedFeed as exc:
            logger.warning("malformed feed %s: %s", response.url, exc)
            self.report[source.id].discovery_failed["feed:malformed"] += 1
            self._not_read(response)
            return
        # An entry whose date is missing or unreadable is ordered with its feed's newest entry.
        newest = max((e.published for e in entries if e.published), default=None)
        yield from self.requests.articles(
            source, ((e.url, e.published, e.published or newest) for e in entries), RequestKind.FEED, response.url
        )
        self._read_completely(response)

    def parse_sitemap(self, response: Response) -> Iterator[Request]:
        source = self._account(response)
        stats = self.report[source.id]
        if response.status == 304:
            stats.not_modified += 1
            self._not_read(response, not_modified=True)
            return
        limits = self.limits
        try:
            entries, cut = read_sitemap(
                response.body, response.url, limits.sitemap_max_bytes, limits.sitemap_max_urls
            )
        except SitemapTooLarge as exc:
            logger.warning("sitemap %s refused: %s", response.url, exc)
            stats.discovery_failed["sitemap:gzip_bomb"] += 1
            self._not_read(response)
            return
        except MalformedSitemap as exc:
            logger.warning("malformed sitemap %s: %s", response.url, exc)
            stats.discovery_failed["sitemap:malformed"] += 1
            self._not_read(response)
            return
        if cut:
            logger.warning(
                "sitemap %s has more than %d URLs: the rest is not read",
                response.url,
                limits.sitemap_max_urls,
            )
            stats.capped["sitemap_urls"] += 1
            self.requests.validators.incomplete(response.meta.get(DOC_META, response.url))
        now = datetime.now(UTC)
        children = sorted(
            (e for e in entries if e.is_sitemap),
            key=lambda e: e.lastmod or datetime.min.replace(tzinfo=UTC),
            reverse=True,
        )
        if limits.max_age is not None:  # an index entry last changed before max_age holds only old articles
            children = [c for c in children if c.lastmod is None or now - c.lastmod <= limits.max_age]
        depth = int(response.meta.get("sitemap_depth", 0))
        doc = response.meta.get(DOC_META, response.url)
        yield from self.requests.child_sitemaps(source, [(c.url, c.lastmod) for c in children], depth, doc)
        # Only news:publication_date is a publication date; lastmod only orders.
        # An entry whose dates are missing or unreadable is ordered with its sitemap's newest
        # entry: one bad date among good ones must not send it behind thousands of undated links.
        pages = [e for e in entries if not e.is_sitemap]
        newest = max((d for e in pages if (d := e.published or e.lastmod) is not None), default=None)
        urls = ((e.url, e.published, e.published or e.lastmod or newest) for e in pages)
        yield from self.requests.articles(source, urls, RequestKind.SITEMAP, response.url)
        self._read_completely(response)

    def parse_section(self, response: Response) -> Iterator[Request]:
        source = self._account(response)
        stats = self.report[source.id]
        if not is_html(response):
            stats.discovery_failed["section:non_html"] += 1
            return
        depth = int(response.meta.get("depth", 0))
        articles: list[Found] = []
        links = extract_links(response.body, response.url)
        if len(links) > self.limits.section_max_links:
            stats.capped["section_links"] += len(links) - self.limits.section_max_links
            links = links[: self.limits.section_max_links]
        for link in links:
            url = canonical(link)
            if is_article_link(source, url):
                articles.append((url, None, None))
            elif (depth + 1 < self.limits.section_depth and in_scope(source, url) and not looks_like_asset(url)
                  and not source.is_denied(url)):
                yield self.requests.section(source, url, depth + 1)
        yield from self.requests.articles(source, articles, RequestKind.SECTION, response.url)

    # --- articles ----------------------------------------------------------------------------
    def parse_article(self, response: Response) -> Iterator[Any]:
        source = self._account(response)
        stats = self.report[source.id]
        meta = response.meta
        if not is_html(response):
            stats.failed["non_html"] += 1
            self.store.pending_failed(meta["requested"], permanent=True)
            return
        stats.fetched += 1
        fetched_at = datetime.now(UTC)
        final, key = article_key(response, source)
        aliases = aliases_of(meta["requested"], final, key, meta.get("redirect_urls", []))
        published = parse_date(meta.get("published"))
        if key in self.state.claimed:  # stored in this run through another URL
            self._duplicate(source, key, aliases)
            return
        known = self.store.lookup(key)
        if key != final and not meta.get("canonical_hop"):
            hop = self._canonical_hop(response, source, key, known, published, fetched_at)
            if hop is not False:
                if hop is not None:
                    yield hop
                return
        if known is not None and not meta["recrawl"] and known.url == key and meta["requested"] != key:
            self._duplicate(source, key, aliases)  # a new URL of an article stored earlier
            return
        self.state.claimed.add(key)
        yield article_item(response, source, key, aliases, published, known, fetched_at)

    async def parse_revisit(self, response: Response) -> AsyncIterator[Any]:
        """A revisit's answer (``crawlers.revisits``): a revisit record, a second check after
        ``changes.confirm_delay_seconds`` (awaited: the reactor keeps running), a takedown, or
        the ordinary article path for a changed page."""
        for out in self.revisits.answer(response):
            if isinstance(out, Confirm):
                if out.delay > 0:
                    await asyncio.sleep(out.delay)
                yield out.request
            elif out is AS_ARTICLE:
                for item in self.parse_article(response):
                    yield item
            else:
                yield out

    def _duplicate(self, source: Source, key: str, aliases: list[str]) -> None:
        self.report[source.id].duplicates += 1
        for alias in aliases:
            self.store.add_alias(alias, key)

    def _canonical_hop(
        self,
        response: Response,
        source: Source,
        key: str,
        known: Any,
        published: datetime | None,
        now: datetime,
    ) -> Request | None | bool:
        """An AMP/print/tracking variant: fetch the publisher's canonical page instead (a
        request, or None when it is requested already); False to store this response."""
        meta = response.meta
        limits = self.limits
        due = known is not None and known.due_for_recrawl(
            now, limits.recrawl_window, limits.recrawl_min_interval
        )
        if known is not None and not (due and not meta["recrawl"]):
            return False
        self.report[source.id].duplicates += 1
        self.store.drop_pending(meta["requested"])
        if key in self.requests.scheduled:
            return None
        self.requests.scheduled.add(key)
        self.store.add_pending([(key, source.id, meta["via"], published)])
        request = self.requests.article(source, key, meta["via"], published, recrawl=known is not None)
        request.meta["canonical_hop"] = True
        return request

    def on_error(self, failure: Failure) -> Iterator[Request]:
        self._record_failure(failure)
        meta = failure.request.meta  # type: ignore[attr-defined]
        if DOC_META in meta:  # a feed or sitemap not read: its ancestors keep no validators
            self.requests.validators.failed(meta[DOC_META], permanent=failure_reason(failure) in PERMANENT)
        if meta.get("kind") in DISCOVERY_KINDS and meta.get("source") in self.state.sources_by_id:
            yield from self.requests.discovery_done(meta["source"])

    def _record_failure(self, failure: Failure) -> None:
        request: Request = failure.request  # type: ignore[attr-defined]
        meta = request.meta
        source_id = meta.get("source")
        if source_id not in self.state.sources_by_id:
            return
        stats = self.report[source_id]
        stats.touch()
        kind = meta.get("kind")
        reason = failure_reason(failure)
        response = getattr(failure.value, "response", None)
        if response is not None:
            stats.bytes += len(response.body)
        if reason == BUDGET_EXHAUSTED:  # not made: stays pending for the next run, no attempt counted
            stats.capped["time_budget"] += 1
            return
        if kind == RequestKind.ROBOTS:
            logger.debug("no robots.txt sitemaps for %s: %s", request.url, reason)
            return
        if reason == ROBOTS_DENIED:
            stats.robots_denied += 1
        if reason == DUPLICATE:
            stats.duplicates += 1
            self.store.drop_pending(meta.get("requested", request.url))
            return
        if kind == RequestKind.ARTICLE:
            if reason != ROBOTS_DENIED:
                stats.failed[reason] += 1
            self.store.pending_failed(meta.get("requested", request.url), permanent=reason in PERMANENT)
            logger.info("article %s failed: %s", request.url, reason)
        elif reason != ROBOTS_DENIED:
            stats.discovery_failed[f"{kind}:{reason}"] += 1
            logger.warning("%s %s failed: %s", kind, request.url, reason)
