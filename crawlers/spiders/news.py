"""One config-driven spider for every source of the sources file.

Discovery per source: robots.txt ``Sitemap:`` lines, configured feeds (RSS/Atom), sitemaps
(index, gzipped, Google News) and section pages (links that look like articles, nested
sections up to ``crawl.section_depth``). Discovery requests go first; articles are fetched
newest first where a date is known. Articles already stored are not fetched again unless due
for a recrawl (see ``crawlers.state``); discovered-but-unstored URLs are persisted as pending so
a killed crawl resumes them.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncIterator, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import scrapy
from scrapy.crawler import Crawler
from scrapy.http import Request, Response
from twisted.python.failure import Failure

from crawlers.dates import iso, parse_date
from crawlers.failures import DUPLICATE, PERMANENT, ROBOTS_DENIED, failure_reason
from crawlers.feeds import MalformedFeed, parse_feed
from crawlers.links import extract_canonical, extract_links, looks_like_article, looks_like_asset
from crawlers.report import CrawlReport
from crawlers.sitemaps import MalformedSitemap, SitemapTooLarge, parse_sitemap, robots_sitemaps
from crawlers.state import SeenStore
from crawlers.urlcache import canonical, in_scope
from indexing.archive import iter_manifest
from indexing.settings import get_settings
from indexing.sources import Source

logger = logging.getLogger(__name__)

DISCOVERY_PRIORITY = 10_000_000
SITEMAP_MAX_BYTES = 50 * 1024 * 1024
_HTML_TYPES = ("text/html", "application/xhtml+xml")


def _article_priority(published: datetime | None) -> int:
    # Scrapy keeps one queue per priority value: hour granularity for the last week (where the
    # order matters), day granularity before it keeps the number of queues small. Unit: hours.
    if published is None:
        return 0
    hours = int(published.timestamp() // 3600)
    if datetime.now(UTC) - published > timedelta(days=7):
        hours -= hours % 24
    return hours


def _is_html(response: Response) -> bool:
    ctype = response.headers.get(b"Content-Type", b"").decode("latin-1").split(";", 1)[0].strip().lower()
    if ctype:
        return ctype in _HTML_TYPES
    head = response.body[:512].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html")) or b"<body" in head


class NewsSpider(scrapy.Spider):
    name = "news"

    def __init__(self, sources: list[Source], run_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sources = list(sources)
        self.sources_by_id = {s.id: s for s in self.sources}
        self.run_id = run_id
        settings = get_settings()
        self.crawl_settings = settings.crawl
        self.data_dir = settings.data_dir
        self.run_dir = settings.runs_dir / run_id
        self.report = CrawlReport(run_id, [s.id for s in self.sources], settings.crawl.failure_ratio_flag)
        self.store = SeenStore(settings.state_dir / "crawl.sqlite")
        self.recrawl_window = timedelta(hours=settings.crawl.recrawl_window_hours)
        self.recrawl_min_interval = timedelta(hours=settings.crawl.recrawl_min_interval_hours)
        self._scheduled: set[str] = set()  # canonical article URLs requested this run
        self._claimed: set[str] = set()  # canonical article URLs stored this run
        self._new_scheduled: dict[str, int] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> NewsSpider:
        spider: NewsSpider = super().from_crawler(crawler, *args, **kwargs)
        return spider

    # --- start ---------------------------------------------------------------------------
    def reconcile_unfinished_runs(self) -> int:
        """Mark seen what killed runs stored (manifest line flushed) but never marked."""
        fixed = 0
        for run_id in self.store.unfinished_runs():
            for entry in iter_manifest(get_settings().runs_dir / run_id / "manifest.jsonl"):
                url = entry.get("url")
                if not isinstance(url, str) or not entry.get("fingerprint"):
                    continue
                known = self.store.lookup(url)
                if known is not None and known.fingerprint == entry["fingerprint"]:
                    continue
                fetched = parse_date(entry.get("fetched_at")) or datetime.now(UTC)
                self.store.mark_stored(
                    url,
                    str(entry.get("source")),
                    str(entry["fingerprint"]),
                    fetched,
                    parse_date(entry.get("published_hint")),
                    aliases=[a for a in entry.get("aliases", []) if isinstance(a, str)],
                    final_url=entry.get("final_url"),
                    discovered_via=entry.get("discovered_via"),
                    durable=False,  # replayed again from the manifest if this start is killed
                )
                fixed += 1
            self.store.flush()
            if run_id != self.run_id:
                self.store.run_finished(run_id)
        if fixed:
            logger.info("reconciled %d stored articles from interrupted runs", fixed)
        return fixed

    async def start(self) -> AsyncIterator[Request]:
        self.reconcile_unfinished_runs()
        self.store.run_started(self.run_id)
        now = datetime.now(UTC)
        for source in self.sources:
            for request in self._start_requests(source, now):
                yield request

    def _start_requests(self, source: Source, now: datetime) -> Iterator[Request]:
        self.report[source.id].touch()
        parts = urlsplit(source.url)
        robots = f"{parts.scheme}://{parts.netloc}/robots.txt"
        yield Request(
            robots,
            callback=self.parse_robots,
            errback=self.on_error,
            priority=DISCOVERY_PRIORITY + 1,
            meta={"source": source.id, "kind": "robots", "dont_obey_robotstxt": True},
        )
        for url in source.feeds:
            yield self._discovery_request(source, url, "feed")
        for url in source.sitemaps:
            yield self._discovery_request(source, url, "sitemap")
        sections = source.sections or ([] if source.feeds or source.sitemaps else [source.url])
        for url in sections:
            yield self._section_request(source, url, depth=0)
        # Resume what earlier (possibly killed) runs discovered but did not store.
        for pending in self.store.pending(source.id):
            request = self._article_request(
                source, pending.url, pending.discovered_via, pending.published, now
            )
            if request is not None:
                yield request
        for known in self.store.due_for_recrawl(
            source.id, now, self.recrawl_window, self.recrawl_min_interval
        ):
            if known.url in self._scheduled:
                continue
            self._scheduled.add(known.url)
            yield self._make_article_request(
                source, known.url, known.discovered_via, known.published, recrawl=True
            )

    # --- request builders ----------------------------------------------------------------
    def _discovery_request(self, source: Source, url: str, kind: str) -> Request:
        headers = {}
        etag, last_modified = self.store.validators(url)
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        callback = self.parse_feed if kind == "feed" else self.parse_sitemap
        meta = {"source": source.id, "kind": kind, "handle_httpstatus_list": [304]}
        if kind == "sitemap":
            meta["download_maxsize"] = max(SITEMAP_MAX_BYTES, self.crawl_settings.max_body_bytes)
        return Request(
            url,
            callback=callback,
            errback=self.on_error,
            headers=headers,
            priority=DISCOVERY_PRIORITY,
            meta=meta,
        )

    def _section_request(self, source: Source, url: str, depth: int) -> Request:
        return Request(
            canonical(url),
            callback=self.parse_section,
            errback=self.on_error,
            priority=DISCOVERY_PRIORITY - 1 - depth,
            meta={"source": source.id, "kind": "section", "depth": depth},
        )

    def _make_article_request(
        self, source: Source, url: str, via: str, published: datetime | None, recrawl: bool = False
    ) -> Request:
        # dont_filter: this spider de-duplicates articles itself (self._scheduled), and a redirect
        # to an article fetched directly must still arrive so the old URL becomes its alias.
        return Request(
            url,
            callback=self.parse_article,
            errback=self.on_error,
            priority=_article_priority(published),
            dont_filter=True,
            meta={
                "source": source.id,
                "kind": "article",
                "via": via,
                "published": iso(published),
                "recrawl": recrawl,
                "requested": url,
            },
        )

    def _article_request(
        self, source: Source, raw_url: str, via: str, published: datetime | None, now: datetime
    ) -> Request | None:
        """Filter a discovered article URL; None when it is not to be fetched now."""
        url = canonical(raw_url)
        if not in_scope(source, url) or not source.url_allowed(url) or looks_like_asset(url):
            return None
        if url in self._scheduled:
            return None
        self._scheduled.add(url)
        stats = self.report[source.id]
        stats.discovered += 1
        stats.discovered_via[via] += 1
        max_age = self.crawl_settings.max_age_days
        if published is not None and max_age is not None and now - published > timedelta(days=max_age):
            stats.skipped_old += 1
            return None
        known = self.store.lookup(url)
        if known is not None:
            if known.due_for_recrawl(now, self.recrawl_window, self.recrawl_min_interval):
                return self._make_article_request(
                    source, known.url, via, known.published or published, recrawl=True
                )
            stats.skipped_known += 1
            return None
        if self.store.gave_up(url):
            stats.skipped_failed += 1
            return None
        cap = self.crawl_settings.max_articles_per_source
        if cap is not None:
            if self._new_scheduled.get(source.id, 0) >= cap:
                return None
            self._new_scheduled[source.id] = self._new_scheduled.get(source.id, 0) + 1
        return self._make_article_request(source, url, via, published)

    def _schedule_articles(
        self, source: Source, found: Iterable[tuple[str, datetime | None, datetime | None]], via: str
    ) -> list[Request]:
        """(url, published, order date) triples: published is a publication date from a feed or
        news sitemap; the order date (published or lastmod) only sets the fetch order."""
        now = datetime.now(UTC)
        oldest = datetime.min.replace(tzinfo=UTC)
        ordered = sorted(found, key=lambda f: f[2] or f[1] or oldest, reverse=True)
        requests = []
        for url, published, order in ordered:
            request = self._article_request(source, url, via, published, now)
            if request is not None:
                if order is not None and published is None:
                    request.priority = _article_priority(order)
                requests.append(request)
        new = [r for r in requests if not r.meta["recrawl"]]
        if new:
            # Persist before fetching: a kill -9 from here on loses nothing discovered.
            self.store.add_pending((r.url, source.id, via, parse_date(r.meta["published"])) for r in new)
        return requests

    # --- callbacks -----------------------------------------------------------------------
    def _source(self, response: Response) -> Source:
        return self.sources_by_id[response.meta["source"]]

    def _account(self, response: Response) -> Source:
        source = self._source(response)
        stats = self.report[source.id]
        stats.bytes += len(response.body)
        stats.touch()
        return source

    def _remember_validators(self, response: Response) -> None:
        etag = response.headers.get(b"ETag")
        last_modified = response.headers.get(b"Last-Modified")
        self.store.set_validators(
            response.request.url if response.request is not None else response.url,
            etag.decode("latin-1") if etag else None,
            last_modified.decode("latin-1") if last_modified else None,
        )

    def parse_robots(self, response: Response) -> Iterator[Request]:
        source = self._account(response)
        for url in robots_sitemaps(response.body, response.url):
            if in_scope(source, url):
                yield self._discovery_request(source, url, "sitemap")

    def parse_feed(self, response: Response) -> Iterator[Request]:
        source = self._account(response)
        if response.status == 304:
            self.report[source.id].not_modified += 1
            return
        try:
            entries = parse_feed(response.body, response.url)
        except MalformedFeed as exc:
            logger.warning("malformed feed %s: %s", response.url, exc)
            self.report[source.id].discovery_failed["feed:malformed"] += 1
            return
        yield from self._schedule_articles(
            source, ((e.url, e.published, e.published) for e in entries), "feed"
        )
        self._remember_validators(response)

    def parse_sitemap(self, response: Response) -> Iterator[Request]:
        source = self._account(response)
        stats = self.report[source.id]
        if response.status == 304:
            stats.not_modified += 1
            return
        try:
            entries = parse_sitemap(response.body, response.url, max_size=SITEMAP_MAX_BYTES)
        except SitemapTooLarge as exc:
            logger.warning("sitemap %s refused: %s", response.url, exc)
            stats.discovery_failed["sitemap:gzip_bomb"] += 1
            return
        except MalformedSitemap as exc:
            logger.warning("malformed sitemap %s: %s", response.url, exc)
            stats.discovery_failed["sitemap:malformed"] += 1
            return
        children = sorted(
            (e for e in entries if e.is_sitemap),
            key=lambda e: e.lastmod or datetime.min.replace(tzinfo=UTC),
            reverse=True,
        )
        max_age = self.crawl_settings.max_age_days
        now = datetime.now(UTC)
        for child in children:
            if (
                max_age is not None
                and child.lastmod is not None
                and now - child.lastmod > timedelta(days=max_age)
            ):
                continue
            yield self._discovery_request(source, child.url, "sitemap")
        # Only news:publication_date is a publication date; lastmod only orders.
        urls = ((e.url, e.published, e.published or e.lastmod) for e in entries if not e.is_sitemap)
        yield from self._schedule_articles(source, urls, "sitemap")
        self._remember_validators(response)

    def parse_section(self, response: Response) -> Iterator[Request]:
        source = self._account(response)
        if not _is_html(response):
            self.report[source.id].discovery_failed["section:non_html"] += 1
            return
        depth = int(response.meta.get("depth", 0))
        articles: list[tuple[str, datetime | None, datetime | None]] = []
        for link in extract_links(response.body, response.url):
            url = canonical(link)
            if not in_scope(source, url) or looks_like_asset(url):
                continue
            is_article = (
                source.url_allowed(url)
                if source.allow
                else (looks_like_article(url) and source.url_allowed(url))
            )
            if is_article:
                articles.append((url, None, None))
            elif depth + 1 < self.crawl_settings.section_depth and not source.is_denied(url):
                yield self._section_request(source, url, depth + 1)
        yield from self._schedule_articles(source, articles, "section")

    def parse_article(self, response: Response) -> Iterator[Any]:
        source = self._account(response)
        stats = self.report[source.id]
        meta = response.meta
        requested: str = meta["requested"]
        if not _is_html(response):
            stats.failed["non_html"] += 1
            self.store.pending_failed(requested, permanent=True)
            return
        stats.fetched += 1
        fetched_at = datetime.now(UTC)
        final = canonical(response.url)
        key = final
        canonical_link = extract_canonical(response.body, response.url)
        if canonical_link is not None:
            candidate = canonical(canonical_link)
            if (
                in_scope(source, candidate)
                and not looks_like_asset(candidate)
                and not (urlsplit(candidate).path in ("", "/") and urlsplit(final).path not in ("", "/"))
            ):
                key = candidate
        aliases = sorted(
            {requested, final, key, *(canonical(u) for u in meta.get("redirect_urls", []))} - {key}
        )
        published = parse_date(meta.get("published"))

        if key in self._claimed:
            stats.duplicates += 1
            for alias in aliases:
                self.store.add_alias(alias, key)
            return
        known = self.store.lookup(key)
        if key != final and not meta.get("canonical_hop"):
            # An AMP/print/tracking variant: fetch the publisher's canonical page instead.
            if known is None or (
                known.due_for_recrawl(fetched_at, self.recrawl_window, self.recrawl_min_interval)
                and not meta["recrawl"]
            ):
                stats.duplicates += 1
                self.store.drop_pending(requested)
                if key not in self._scheduled:
                    self._scheduled.add(key)
                    self.store.add_pending([(key, source.id, meta["via"], published)])
                    request = self._make_article_request(
                        source, key, meta["via"], published, recrawl=known is not None
                    )
                    request.meta["canonical_hop"] = True
                    yield request
                return
        if known is not None and not meta["recrawl"] and known.url == key and requested != key:
            # A new URL of an article stored earlier (redirect or rel=canonical).
            stats.duplicates += 1
            for alias in aliases:
                self.store.add_alias(alias, key)
            return
        self._claimed.add(key)
        fingerprint = hashlib.sha256(response.body).hexdigest()
        if known is None:
            change = "new"
        elif known.fingerprint != fingerprint:
            change = "updated"
        else:
            change = "unchanged"
        headers = [
            (k.decode("latin-1"), v.decode("latin-1")) for k, vs in response.headers.items() for v in vs
        ]
        yield {
            "url": key,
            "final_url": response.url,
            "requested_url": requested,
            "status": response.status,
            "fetched_at": fetched_at,
            "source": source.id,
            "fingerprint": fingerprint,
            "content_type": response.headers.get(b"Content-Type", b"").decode("latin-1"),
            "discovered_via": meta["via"],
            "published_hint": iso(published) if published else None,
            "change": change,
            "aliases": aliases,
            "headers": headers,
            "body": response.body,
        }

    def on_error(self, failure: Failure) -> None:
        request: Request = failure.request  # type: ignore[attr-defined]
        meta = request.meta
        source_id = meta.get("source")
        if source_id not in self.sources_by_id:
            return
        stats = self.report[source_id]
        stats.touch()
        kind = meta.get("kind")
        reason = failure_reason(failure)
        response = getattr(failure.value, "response", None)
        if response is not None:
            stats.bytes += len(response.body)
        if kind == "robots":
            logger.debug("no robots.txt sitemaps for %s: %s", request.url, reason)
            return
        if reason == ROBOTS_DENIED:
            stats.robots_denied += 1
        if reason == DUPLICATE:
            stats.duplicates += 1
            self.store.drop_pending(meta.get("requested", request.url))
            return
        if kind == "article":
            if reason != ROBOTS_DENIED:
                stats.failed[reason] += 1
            self.store.pending_failed(meta.get("requested", request.url), permanent=reason in PERMANENT)
            logger.info("article %s failed: %s", request.url, reason)
        elif reason != ROBOTS_DENIED:
            stats.discovery_failed[f"{kind}:{reason}"] += 1
            logger.warning("%s %s failed: %s", kind, request.url, reason)
