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

from crawlers.extensions.crawl_state import CrawlState
from crawlers.held import HeldLinks
from crawlers.kinds import DISCOVERY_KINDS, RequestKind
from crawlers.limits import CrawlLimits
from crawlers.links import looks_like_asset
from crawlers.policies import PendingArticle
from crawlers.revisits import REVISIT_VIA, is_overdue, prepare_revisit, revisit_budget
from crawlers.slots import SLOT_META, source_slot
from crawlers.state import PendingRow
from crawlers.urlcache import canonical, in_scope
from crawlers.validators import DOC_META, DocumentValidators
from indexing.dates import iso, parse_date
from indexing.sources import Source

DISCOVERY_PRIORITY = 10_000_000
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
        #: pending URLs of earlier runs per source, scheduled when the source's discovery is done:
        #: what this run discovers takes the article cap first, the backlog what is left
        self._backlog: dict[str, list[PendingArticle]] = {}
        #: new article URLs the article cap left over, persisted as pending for a later run
        self._leftover: list[PendingRow] = []
        self.validators = DocumentValidators(state.store)

    def _request(self, source: Source, url: str, kind: RequestKind, priority: int, **meta: Any) -> Request:
        if kind in DISCOVERY_KINDS:
            self._discovering[source.id] += 1
        return Request(
            url,
            callback=self.callbacks[kind],
            errback=self.callbacks["error"],
            priority=priority,
            meta={"source": source.id, "kind": kind, SLOT_META: source_slot(source.id), **meta},
            dont_filter=kind == RequestKind.ARTICLE,
        )

    # --- discovery -------------------------------------------------------------------------
    def robots(self, source: Source, url: str) -> Request:
        return self._request(source, url, RequestKind.ROBOTS, DISCOVERY_PRIORITY + 1, dont_obey_robotstxt=True)

    def discovery(
        self, source: Source, url: str, kind: RequestKind, depth: int = 0, parent: str | None = None
    ) -> Request:
        """A feed or sitemap request, conditional (ETag / Last-Modified) when we have validators
        (``parent``: the sitemap index listing it, whose validators wait for it)."""
        headers = {}
        etag, last_modified = self.store.validators(url)
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        meta: dict[str, Any] = {"handle_httpstatus_list": [304]}
        if kind == RequestKind.SITEMAP:
            meta["download_maxsize"] = max(self.limits.sitemap_max_bytes, self.limits.max_body_bytes)
            meta["sitemap_depth"] = depth
        request = self._request(source, url, kind, DISCOVERY_PRIORITY - depth, **meta)
        request.headers.update(headers)
        request.meta[DOC_META] = request.url
        self.validators.requested(request.url, parent)
        return request

    def robots_sitemaps(self, source: Source, urls: list[str]) -> list[Request]:
        """Requests for a robots.txt's ``Sitemap:`` lines: on the source's host, capped."""
        stats = self.state.report[source.id]
        ours = [u for u in urls if in_scope(source, u)]
        stats.out_of_scope += len(urls) - len(ours)
        cap = self.limits.robots_max_sitemaps
        stats.capped["robots_sitemaps"] += max(0, len(ours) - cap)
        return [self.discovery(source, u, RequestKind.SITEMAP) for u in ours[:cap]]

    def child_sitemaps(
        self, source: Source, children: list[tuple[str, datetime | None]], depth: int, parent: str
    ) -> list[Request]:
        """Requests for the children (url, lastmod; newest first) of the sitemap index
        ``parent`` at ``depth``: on the source's host, not deeper than ``sitemap_max_depth``, at
        most ``sitemap_max_children`` per source and run. An index whose children a bound cut
        keeps no validators, and children read completely before and unchanged since go after
        the others, so that the next run reaches the children this one left."""
        stats = self.state.report[source.id]
        ranked = sorted(((u, self._read_before(u, m)) for u, m in children), key=lambda c: c[1])
        ours = [(u, read) for u, read in ranked if in_scope(source, u)]
        stats.out_of_scope += len(children) - len(ours)
        if ours and depth + 1 > self.limits.sitemap_max_depth:
            stats.capped["sitemap_depth"] += len(ours)
            self.validators.incomplete(parent)
            return []
        room = max(0, self.limits.sitemap_max_children - self._children[source.id])
        if len(ours) > room:
            stats.capped["sitemap_children"] += len(ours) - room
            if not all(read for _, read in ours[room:]):  # a child never read completely is left
                self.validators.incomplete(parent)
        self._children[source.id] += min(room, len(ours))
        return [self.discovery(source, u, RequestKind.SITEMAP, depth + 1, parent) for u, _ in ours[:room]]

    def _read_before(self, url: str, lastmod: datetime | None) -> bool:
        read = self.store.validated_at(url)
        return read is not None and (lastmod is None or lastmod <= read)

    def section(self, source: Source, url: str, depth: int) -> Request:
        return self._request(source, canonical(url), RequestKind.SECTION, DISCOVERY_PRIORITY - 100 - depth, depth=depth)

    # --- articles --------------------------------------------------------------------------
    def article(
        self, source: Source, url: str, via: str, published: datetime | None, recrawl: bool = False
    ) -> Request:
        # dont_filter: articles are de-duplicated here (self.scheduled), and a redirect to an
        # article fetched directly must still arrive so the old URL becomes its alias.
        return self._request(
            source,
            url,
            RequestKind.ARTICLE,
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
            request = self._filter(source, url, via, published, now, order)
            if request is not None:
                if order is not None and published is None:
                    request.priority = article_priority(order, now)
                requests.append(request)
        if undated:
            self._defer(source, undated, via, document)
        self._persist(requests)
        return requests

    def _persist(self, requests: list[Request]) -> None:
        """New article URLs become pending before they are fetched, and so do those the
        article cap left over (fetched by a later run): nothing discovered is lost."""
        rows: list[PendingRow] = [
            (r.url, r.meta["source"], r.meta["via"], parse_date(r.meta["published"]))
            for r in requests
            if not r.meta["recrawl"]
        ]
        rows += self._leftover
        self._leftover = []
        if rows:
            self.store.add_pending(rows)

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
            # left for a later run (pending), unless a later run would not fetch them anyway
            self.store.add_pending(
                (url, source.id, kind, None)
                for url, kind in ((canonical(u), k) for u, k in held.take_dropped())
                if self._worth_keeping(source, url)
            )

    def _worth_keeping(self, source: Source, url: str) -> bool:
        if not in_scope(source, url) or not source.url_allowed(url) or looks_like_asset(url):
            return False
        return self.store.lookup(url) is None and not self.store.gave_up(url)

    def discovery_done(self, source_id: str) -> list[Request]:
        """One discovery request of the source was answered (or failed); when it was the last
        one, the source's held-back undated links (every dated one is scheduled by now)."""
        self._discovering[source_id] -= 1
        return self.release_undated(source_id) if self._discovering[source_id] <= 0 else []

    def release_undated(self, source_id: str | None = None) -> list[Request]:
        """Within what is left of each source's cap, for one source (or all, when the spider
        idles): the pending backlog of earlier runs, newest first, then the held-back undated
        discoveries, fairly interleaved by kind and document."""
        now = datetime.now(UTC)
        requests = []
        for sid in [s for s in self._backlog if source_id is None or s == source_id]:
            source = self.state.sources_by_id[sid]
            for pending in self._backlog.pop(sid):
                request = self._filter(source, pending.url, pending.discovered_via, pending.published, now)
                if request is not None:
                    request.priority = article_priority(pending.published or pending.ordered, now)
                    requests.append(request)
            self._leftover.clear()  # what the cap left of the backlog is pending already
        for sid, held in self._undated.items():
            if source_id is not None and sid != source_id:
                continue
            source = self.state.sources_by_id[sid]
            for url, via in held.release(skip=lambda u: canonical(u) in self.scheduled):
                request = self._filter(source, url, via, None, now)
                if request is not None:
                    requests.append(request)
        self._persist(requests)
        return requests

    def resumed(self, source: Source, now: datetime) -> list[Request]:
        """Stored articles due for a recrawl. What earlier (possibly killed, or capped) runs
        discovered but did not store waits until the source's discovery is done
        (``release_undated``): this run's discoveries, newest first, take the cap first."""
        limits = self.limits
        requests = []
        cap = limits.max_articles_per_source
        # newest first; more than twice the cap cannot be fetched now (the rest waits its turn)
        backlog = self.store.pending(source.id, now, limit=2 * cap if cap is not None else None)
        if backlog:
            self._backlog[source.id] = backlog
        requests += self.revisits(source, now)  # first: a revisit is not fetched twice as a recrawl
        for known in self.store.due_for_recrawl(
            source.id, now, limits.recrawl_window, limits.recrawl_min_interval
        ):
            if known.url not in self.scheduled:
                self.scheduled.add(known.url)
                requests.append(
                    self.article(source, known.url, known.discovered_via, known.published, recrawl=True)
                )
        return requests

    def revisits(self, source: Source, now: datetime) -> list[Request]:
        """The source's stored articles due for a revisit (takedown suspicions first, then most
        overdue first), at most the revisit budget: ceil(``changes.revisit_share`` x the article
        cap). Outside the new-article cap and below every new article's priority
        (``crawlers.revisits``); counted as due / overdue in the report."""
        cap = self.limits.max_articles_per_source
        budget = revisit_budget(self.state.revisit_share, cap)
        intervals = self.state.revisit_after.get(source.id, [])
        if budget == 0 or not intervals:
            return []
        due, count = self.store.due_revisits(source.id, now, budget)
        stats = self.state.report[source.id]
        stats.revisits_due += count
        stats.revisits_overdue += count - len(due) + sum(1 for d in due if is_overdue(d, now, intervals))
        requests = []
        for revisit in due:
            if revisit.url in self.scheduled:
                continue
            self.scheduled.add(revisit.url)
            request = self.article(source, revisit.url, REVISIT_VIA, revisit.published, recrawl=True)
            requests.append(prepare_revisit(request, revisit, self.callbacks["revisit"]))
        return requests

    def _filter(
        self,
        source: Source,
        raw_url: str,
        via: str,
        published: datetime | None,
        now: datetime,
        order: datetime | None = None,
    ) -> Request | None:
        """The request for a discovered article URL; None when it is not to be fetched now."""
        url = canonical(raw_url)
        if not in_scope(source, url) or not source.url_allowed(url) or looks_like_asset(url):
            return None
        if url in self.scheduled or url in self._passed.get(source.id, ()):
            return None
        request = self._decide(source, url, via, published, now, order)
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
        self, source: Source, url: str, via: str, published: datetime | None, now: datetime,
        order: datetime | None = None,
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
            self._leftover.append((url, source.id, via, published, order))
            return None
        self._new[source.id] += 1
        return self.article(source, url, via, published)
