"""Which requests a crawl makes, in what order, within which bounds.

:class:`RequestScheduler` builds the spider's requests (discovery first, then articles newest
first), filters discovered article URLs (scope, allow/deny, already stored, given up, waiting
for a retry, too old), applies the discovery bounds of :class:`crawlers.limits.CrawlLimits`
and counts every URL a bound cut in the crawl report (``capped``, ``out_of_scope``).
Every request of a source goes to the source's own download slot (``crawlers.slots``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from scrapy.http import Request

from crawlers.dates import iso, parse_date
from crawlers.extensions.crawl_state import CrawlState
from crawlers.held import HeldLinks
from crawlers.limits import CrawlLimits
from crawlers.links import looks_like_asset
from crawlers.slots import SLOT_META, source_slot
from crawlers.urlcache import canonical, in_scope
from indexing.sources import Source

DISCOVERY_PRIORITY = 10_000_000
#: request kinds that discover articles: a source's held-back undated links wait for these
DISCOVERY_KINDS = frozenset({"robots", "feed", "sitemap", "section"})
_OLDEST = datetime.min.replace(tzinfo=UTC)
#: URLs a source's filter turned down that are remembered (not counted twice), without a cap
PASSED_MEMORY = 10_000
#: (url, publication date, order date): the publication date comes from a feed or a news
#: sitemap; the order date (publication or lastmod) only sets the fetch order.
Found = tuple[str, datetime | None, datetime | None]


def article_priority(published: datetime | None, now: datetime | None = None) -> int:
    # Scrapy keeps one queue per priority value: hour granularity for the last week (where the
    # order matters), day granularity before it keeps the number of queues small. Unit: hours.
    if published is None:
        return 0
    hours = int(published.timestamp() // 3600)
    if (now or datetime.now(UTC)) - published > timedelta(days=7):
        hours -= hours % 24
    return hours


class RequestScheduler:
    def __init__(
        self, state: CrawlState, limits: CrawlLimits, callbacks: dict[str, Callable[..., Any]]
    ) -> None:
        self.state = state
        self.store = state.store
        self.limits = limits
        self.callbacks = callbacks  # kind -> spider callback; "error" -> errback
        #: canonical article URLs requested this run: at most the cap's new articles per source
        #: and the recrawls due (a URL turned down is not kept here, see ``_passed``)
        self.scheduled: set[str] = set()
        #: per source, the latest URLs turned down (known, too old, capped, ...), so a URL listed
        #: twice (feed and sitemap) is counted once; bounded (``_remember_passed``)
        self._passed: dict[str, dict[str, None]] = {}
        self._new: Counter[str] = Counter()  # new articles scheduled per source
        self._children: Counter[str] = Counter()  # child sitemaps requested per source
        #: undated discoveries per source, held back while a cap could bite: they are scheduled
        #: when the source's discovery is done, after every dated one (crawlers.held)
        self._undated: dict[str, HeldLinks] = {}
        self._discovering: Counter[str] = Counter()  # discovery requests of a source not answered yet

    def _request(self, source: Source, url: str, kind: str, priority: int, **meta: Any) -> Request:
        if kind in DISCOVERY_KINDS:
            self._discovering[source.id] += 1
        return Request(
            url,
            callback=self.callbacks[kind],
            errback=self.callbacks["error"],
            priority=priority,
            meta={"source": source.id, "kind": kind, SLOT_META: source_slot(source.id), **meta},
            dont_filter=kind == "article",
        )

    # --- discovery -------------------------------------------------------------------------
    def robots(self, source: Source, url: str) -> Request:
        return self._request(source, url, "robots", DISCOVERY_PRIORITY + 1, dont_obey_robotstxt=True)

    def discovery(self, source: Source, url: str, kind: str, depth: int = 0) -> Request:
        """A feed or sitemap request, conditional (ETag / Last-Modified) when we have validators."""
        headers = {}
        etag, last_modified = self.store.validators(url)
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        meta: dict[str, Any] = {"handle_httpstatus_list": [304]}
        if kind == "sitemap":
            meta["download_maxsize"] = max(self.limits.sitemap_max_bytes, self.limits.max_body_bytes)
            meta["sitemap_depth"] = depth
        request = self._request(source, url, kind, DISCOVERY_PRIORITY - depth, **meta)
        request.headers.update(headers)
        return request

    def robots_sitemaps(self, source: Source, urls: list[str]) -> list[Request]:
        """Requests for a robots.txt's ``Sitemap:`` lines: on the source's host, capped."""
        stats = self.state.report[source.id]
        ours = [u for u in urls if in_scope(source, u)]
        stats.out_of_scope += len(urls) - len(ours)
        cap = self.limits.robots_max_sitemaps
        stats.capped["robots_sitemaps"] += max(0, len(ours) - cap)
        return [self.discovery(source, u, "sitemap") for u in ours[:cap]]

    def child_sitemaps(self, source: Source, urls: list[str], depth: int) -> list[Request]:
        """Requests for the children of a sitemap index at ``depth``: on the source's host, not
        deeper than ``sitemap_max_depth``, at most ``sitemap_max_children`` per source and run."""
        stats = self.state.report[source.id]
        ours = [u for u in urls if in_scope(source, u)]
        stats.out_of_scope += len(urls) - len(ours)
        if depth + 1 > self.limits.sitemap_max_depth:
            stats.capped["sitemap_depth"] += len(ours)
            return []
        room = max(0, self.limits.sitemap_max_children - self._children[source.id])
        stats.capped["sitemap_children"] += max(0, len(ours) - room)
        self._children[source.id] += min(room, len(ours))
        return [self.discovery(source, u, "sitemap", depth + 1) for u in ours[:room]]

    def section(self, source: Source, url: str, depth: int) -> Request:
        return self._request(source, canonical(url), "section", DISCOVERY_PRIORITY - 100 - depth, depth=depth)

    # --- articles --------------------------------------------------------------------------
    def article(
        self, source: Source, url: str, via: str, published: datetime | None, recrawl: bool = False
    ) -> Request:
        # dont_filter: articles are de-duplicated here (self.scheduled), and a redirect to an
        # article fetched directly must still arrive so the old URL becomes its alias.
        return self._request(
            source,
            url,
            "article",
            article_priority(published),
            via=via,
            published=iso(published),
            recrawl=recrawl,
            requested=url,
        )

    def articles(self, source: Source, found: Iterable[Found], via: str, document: str = "") -> list[Request]:
        """Requests for discovered articles, newest first; the new ones are persisted as
        pending before they are fetched (a kill -9 from here on loses nothing discovered).
        Undated ones are held back while the source's cap could bite (``_defer``); ``document``
        is where they were found (a sitemap's or section page's URL)."""
        now = datetime.now(UTC)
        requests, undated = [], []
        for url, published, order in sorted(found, key=lambda f: f[2] or f[1] or _OLDEST, reverse=True):
            if order is None and published is None and self.limits.max_articles_per_source is not None:
                undated.append(url)
                continue
            request = self._filter(source, url, via, published, now)
            if request is not None:
                if order is not None and published is None:
                    request.priority = article_priority(order, now)
                requests.append(request)
        if undated:
            self._defer(source, undated, via, document)
        new = [r for r in requests if not r.meta["recrawl"]]
        if new:
            self.store.add_pending((r.url, source.id, via, parse_date(r.meta["published"])) for r in new)
        return requests

    def _defer(self, source: Source, urls: list[str], via: str, document: str) -> None:
        """Hold undated discoveries back while the source's article cap could bite, so that
        thousands of undated links (a huge undated sitemap, a section page of dead links) cannot
        take the places of dated articles discovered later in the run, nor of the undated links
        of other documents (``crawlers.held``: fair by kind, then by document). At most twice
        the cap are held; the links dropped for that are counted as capped."""
        cap = self.limits.max_articles_per_source
        assert cap is not None
        held = self._undated.setdefault(source.id, HeldLinks(2 * cap))
        passed = self._passed.get(source.id, {})
        fresh = [u for u in urls if canonical(u) not in self.scheduled and canonical(u) not in passed]
        dropped = held.add(fresh, via, document)
        if dropped:
            stats = self.state.report[source.id]
            stats.discovered += dropped.total()
            stats.discovered_via.update(dropped)
            stats.capped["articles"] += dropped.total()

    def discovery_done(self, source_id: str) -> list[Request]:
        """One discovery request of the source was answered (or failed); when it was the last
        one, the source's held-back undated links (every dated one is scheduled by now)."""
        self._discovering[source_id] -= 1
        return self.release_undated(source_id) if self._discovering[source_id] <= 0 else []

    def release_undated(self, source_id: str | None = None) -> list[Request]:
        """The held-back undated discoveries of one source (or of all, when the spider idles),
        fairly interleaved by kind and document, within what is left of each source's cap."""
        now = datetime.now(UTC)
        requests = []
        for sid, held in self._undated.items():
            if source_id is not None and sid != source_id:
                continue
            source = self.state.sources_by_id[sid]
            for url, via in held.release(skip=lambda u: canonical(u) in self.scheduled):
                request = self._filter(source, url, via, None, now)
                if request is not None:
                    requests.append(request)
        new = [r for r in requests if not r.meta["recrawl"]]
        if new:
            self.store.add_pending((r.url, r.meta["source"], r.meta["via"], None) for r in new)
        return requests

    def resumed(self, source: Source, now: datetime) -> list[Request]:
        """What earlier (possibly killed) runs discovered but did not store, and stored
        articles due for a recrawl."""
        requests = []
        for pending in self.store.pending(source.id, now):
            request = self._filter(source, pending.url, pending.discovered_via, pending.published, now)
            if request is not None:
                requests.append(request)
        limits = self.limits
        for known in self.store.due_for_recrawl(
            source.id, now, limits.recrawl_window, limits.recrawl_min_interval
        ):
            if known.url not in self.scheduled:
                self.scheduled.add(known.url)
                requests.append(
                    self.article(source, known.url, known.discovered_via, known.published, recrawl=True)
                )
        return requests

    def _filter(
        self, source: Source, raw_url: str, via: str, published: datetime | None, now: datetime
    ) -> Request | None:
        """The request for a discovered article URL; None when it is not to be fetched now."""
        url = canonical(raw_url)
        if not in_scope(source, url) or not source.url_allowed(url) or looks_like_asset(url):
            return None
        if url in self.scheduled or url in self._passed.get(source.id, ()):
            return None
        request = self._decide(source, url, via, published, now)
        if request is None:
            self._remember_passed(source.id, url)
        else:
            self.scheduled.add(url)
        return request

    def _remember_passed(self, source_id: str, url: str) -> None:
        """Keep ``url`` among the source's turned-down URLs: the latest ``2 x cap`` of them (as
        many as :class:`crawlers.held.HeldLinks` holds back), PASSED_MEMORY without a cap. One
        listed again after it was forgotten is looked up and counted again."""
        cap = self.limits.max_articles_per_source
        passed = self._passed.setdefault(source_id, {})
        passed[url] = None
        if len(passed) > (2 * cap if cap is not None else PASSED_MEMORY):
            del passed[next(iter(passed))]

    def _decide(
        self, source: Source, url: str, via: str, published: datetime | None, now: datetime
    ) -> Request | None:
        """Count a newly discovered URL and make its request; None when it is not fetched now."""
        stats = self.state.report[source.id]
        stats.discovered += 1
        stats.discovered_via[via] += 1
        limits = self.limits
        if published is not None and limits.max_age is not None and now - published > limits.max_age:
            stats.skipped_old += 1
            return None
        known = self.store.lookup(url)
        if known is not None:
            if known.due_for_recrawl(now, limits.recrawl_window, limits.recrawl_min_interval):
                return self.article(source, known.url, via, known.published or published, recrawl=True)
            stats.skipped_known += 1
            return None
        if self.store.gave_up(url):
            stats.skipped_failed += 1
            return None
        next_try = self.store.next_try(url)
        if next_try is not None and next_try > now:
            stats.skipped_backoff += 1
            return None
        cap = limits.max_articles_per_source
        if cap is not None and self._new[source.id] >= cap:
            stats.capped["articles"] += 1
            return None
        self._new[source.id] += 1
        return self.article(source, url, via, published)
