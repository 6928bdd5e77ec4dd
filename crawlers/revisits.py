"""Revisits of stored articles (issue #19): the request, and what its answer becomes.

A revisit is an article request (``meta["via"] = "revisit"``) made at its source's start for a
stored article whose schedule (``crawlers.policies.next_revisit``) is due, conditional on the
article's own ETag / Last-Modified, at a priority below every new article, within its own budget
(ceil(``changes.revisit_share`` x the source's article cap), outside that cap). Its answer:

* 304, or 200 with the stored bytes: a WARC ``revisit`` record and a manifest line
  ``revisit: true, change: unchanged, warc_type: revisit`` (cleaning skips it);
* a takedown (``indexing.changes.takedown``): remembered in the seen-store as a suspicion and
  checked again ``changes.confirm_delay_seconds`` later (in this run, without blocking the
  reactor; if the run ends first, the next run checks it first); a second check that agrees
  gives the takedown manifest line (the confirming response archived as evidence), one that
  does not is handled as an ordinary revisit. A takedown reported once is not reported again;
* anything else: the spider's ordinary article path, a full capture with ``revisit: true``.

5xx, 429 and timeouts go to the errback like any article failure: never a takedown, the article
stays due. Every figure is counted in the crawl report (``revisits_*``, ``takedowns_*``).
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from scrapy.http import Request, Response

from crawlers.articles import RAW_BODY, raw_body
from crawlers.extensions.crawl_state import CrawlState
from crawlers.policies import DueRevisit, next_revisit
from crawlers.urlcache import canonical
from indexing.archive import ArchiveError, read_record
from indexing.dates import iso
from indexing.sources import Source

if TYPE_CHECKING:  # the module itself loads the extractor (trafilatura, numpy): only when a revisit is classified
    from indexing.changes.takedown import Page, Verdict

logger = logging.getLogger(__name__)

REVISIT_VIA = "revisit"
#: below every new article (an undated one has priority 0)
REVISIT_PRIORITY = -1_000
#: request meta: the seen-store's :class:`DueRevisit` of the article revisited
DUE_META = "revisit_due"
#: request meta: the takedown kind a first check saw (this request is the second check)
CONFIRMING_META = "revisit_confirming"
#: answers a revisit reads itself (redirects are followed; 5xx/429 are retried, then failed)
HANDLED_STATUSES = [304, 404, 410]


def revisit_budget(share: float, cap: int | None) -> int | None:
    """Revisits per source and run: ceil(share x cap); None (no bound) without a cap."""
    return math.ceil(share * cap) if cap is not None else None


def is_overdue(due: DueRevisit, now: datetime, intervals: Sequence[timedelta]) -> bool:
    """Late by more than the next interval: the schedule point after the one due has passed."""
    first = due.first_fetched or due.next_revisit
    following = next_revisit(due.published, first, due.next_revisit, intervals)
    return following is not None and following <= now


def prepare_revisit(request: Request, due: DueRevisit, callback: Callable[..., Any]) -> Request:
    """``request`` (an article request for ``due.url``) made a revisit: conditional, low priority."""
    request.callback = callback
    request.priority = REVISIT_PRIORITY
    request.meta.update({"revisit": True, DUE_META: due, "handle_httpstatus_list": HANDLED_STATUSES})
    if due.suspect:  # seen by a check of an earlier run: this one is the second check
        request.meta[CONFIRMING_META] = due.suspect
    if due.etag:
        request.headers["If-None-Match"] = due.etag
    if due.last_modified:
        request.headers["If-Modified-Since"] = due.last_modified
    return request


@dataclass(frozen=True)
class Confirm:
    """Check again after ``delay`` seconds (the spider waits without blocking, then sends it)."""

    delay: float
    request: Request


#: the answer is an ordinary (changed) article: the spider's ``parse_article`` takes it
AS_ARTICLE = object()


def _headers(response: Response) -> list[tuple[str, str]]:
    return [(k.decode("latin-1"), v.decode("latin-1")) for k, vs in response.headers.items() for v in vs]


class RevisitAnswers:
    """Turns revisit answers into items, second checks and counts (the spider's ``parse_revisit``)."""

    def __init__(self, state: CrawlState) -> None:
        self.state = state
        self.store = state.store

    def answer(self, response: Response) -> Iterator[Any]:
        meta = response.meta
        due: DueRevisit = meta[DUE_META]
        source = self.state.sources_by_id[due.source]
        stats = self.state.report[source.id]
        served = raw_body(response)  # as served; a rendered page's DOM (response.body) never matches
        stats.bytes += len(served)
        stats.touch()
        now = datetime.now(UTC)
        final = canonical(response.url)
        same_place = final == canonical(due.url)
        if response.status == 304 or (
            response.status == 200 and same_place and hashlib.sha256(served).hexdigest() == due.fingerprint
        ):
            stats.revisits_done += 1
            stats.revisits_not_modified += 1
            yield self._unchanged(response, due, source, now)
            return
        from indexing.changes.takedown import classify, page_of

        verdict = classify(
            response.status, due.url, final, source.url, source.sections,
            new=lambda: page_of(response.body, response.url), stored=lambda: self._stored_page(due),
        )
        if verdict is None:
            stats.revisits_done += 1
            stats.revisits_changed += 1
            stats.bytes -= len(served)  # the article path counts them
            yield AS_ARTICLE
            return
        if due.takedown == verdict.kind:  # reported before: revisited on schedule, not again
            stats.revisits_done += 1
            self.store.revisited(due.url, now)
            return
        if meta.get(CONFIRMING_META):
            stats.revisits_done += 1
            stats.takedowns_confirmed += 1
            first_seen = due.suspect_since or meta.get("revisit_first_seen") or now
            yield self._takedown(response, due, source, verdict, first_seen, now)
            return
        first_seen = self.store.suspect(due.url, verdict.kind, now)
        stats.takedowns_suspected += 1
        logger.info("%s looks %s (%s): checking again", due.url, verdict.kind, verdict.reason)
        second = response.request.replace(dont_filter=True) if response.request else None
        if second is None:
            return
        second.meta.update({CONFIRMING_META: verdict.kind, "revisit_first_seen": first_seen})
        # the redirect middleware's bookkeeping of the first check must not carry over
        # ... nor the first answer's bytes as served (a rendered answer keeps them in the meta)
        for key in ("redirect_urls", "redirect_times", "redirect_ttl", "redirect_reasons", "retry_times", RAW_BODY):
            second.meta.pop(key, None)
        yield Confirm(self.state.confirm_delay, second.replace(url=due.url))

    def _stored_page(self, due: DueRevisit) -> Page | None:
        """The stored capture's page (read back from the WARC), or None when it cannot be read."""
        if not due.capture_file or due.capture_offset is None or self.state.storage is None:
            return None
        try:
            record = read_record(due.capture_file, due.capture_offset, storage=self.state.storage)
        except ArchiveError as exc:
            logger.warning("stored capture of %s unreadable: %s", due.url, exc)
            return None
        from indexing.changes.takedown import page_of

        return page_of(record.body, record.url)

    def _base(self, response: Response, due: DueRevisit, source: Source, now: datetime) -> dict[str, Any]:
        return {
            "url": due.url,
            "final_url": response.url,
            "requested_url": due.url,
            "status": response.status,
            "fetched_at": now,
            "source": source.id,
            "content_type": (response.headers.get(b"Content-Type") or b"").decode("latin-1"),
            "discovered_via": REVISIT_VIA,
            "published_hint": iso(due.published) if due.published else None,
            "aliases": [],
            "revisit": True,
            "revisit_of": due.url,
            "headers": _headers(response),
        }

    def _unchanged(self, response: Response, due: DueRevisit, source: Source, now: datetime) -> dict[str, Any]:
        item = self._base(response, due, source, now)
        item.update(
            fingerprint=due.fingerprint,
            change="unchanged",
            warc_type="revisit",
            refers_to_uri=due.final_url or due.url,
            refers_to_date=due.capture_at,
            # the bytes repeated (200): identical-payload-digest; a 304: server-not-modified
            body=raw_body(response) if response.status == 200 else None,
        )
        return item

    def _takedown(
        self, response: Response, due: DueRevisit, source: Source, verdict: Verdict,
        first_seen: datetime, now: datetime,
    ) -> dict[str, Any]:
        item = self._base(response, due, source, now)
        item.update(
            fingerprint=None,  # not a version of the article: the replay must not store it
            change="takedown",
            takedown=verdict.kind,
            takedown_reason=verdict.reason,
            first_seen=iso(first_seen),
            confirmed_at=iso(now),
            body=raw_body(response),
        )
        return item
