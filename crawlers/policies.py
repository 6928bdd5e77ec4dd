"""When to fetch an article again: the recrawl rule of stored articles (:class:`KnownArticle`)
and the retry backoff of failed ones (:class:`RetryPolicy`), with the records the seen-store
(``crawlers.state``) hands out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from crawlers.limits import DEFAULTS
from indexing.settings import get_settings


def default_min_recheck() -> timedelta:
    """``crawl.recrawl_min_interval_hours``: within the recrawl window an article is re-fetched
    when the time since its last fetch is at least its age at that fetch (so checks thin out as
    it ages), but never more often than this."""
    return timedelta(hours=get_settings().crawl.recrawl_min_interval_hours)


@dataclass(frozen=True)
class KnownArticle:
    url: str
    source: str
    fingerprint: str
    published: datetime | None
    first_fetched: datetime
    last_fetched: datetime
    discovered_via: str = "feed"

    def due_for_recrawl(
        self, now: datetime, window: timedelta, min_interval: timedelta | None = None
    ) -> bool:
        """Inside the recrawl window after publication (or first fetch when the date is
        unknown), and its re-check interval has passed (never shorter than ``min_interval``,
        default ``crawl.recrawl_min_interval_hours``)."""
        born = self.published or self.first_fetched
        if now - born > window:
            return False
        floor = min_interval if min_interval is not None else default_min_recheck()
        interval = max(floor, self.last_fetched - born)
        return now - self.last_fetched >= interval


@dataclass(frozen=True)
class RetryPolicy:
    """When a transiently failed article is tried again (in a later run) and when it is given up."""

    base: timedelta = timedelta(minutes=DEFAULTS.retry_backoff_minutes)
    cap: timedelta = timedelta(hours=DEFAULTS.retry_backoff_max_hours)
    max_attempts: int = DEFAULTS.retry_max_attempts

    def wait(self, attempts: int) -> timedelta:
        """Backoff after the ``attempts``-th failure: base, 2 x base, 4 x base, ... up to cap."""
        return min(self.cap, self.base * (2 ** min(max(attempts - 1, 0), 30)))


@dataclass(frozen=True)
class PendingArticle:
    url: str
    source: str
    discovered_via: str
    published: datetime | None
    ordered: datetime | None = None  # the order date (a sitemap's lastmod) when unpublished


def next_revisit(
    published: datetime | None,
    first_fetched: datetime,
    last_fetched: datetime,
    intervals: Sequence[timedelta],
) -> datetime | None:
    """When a stored article is checked again: its birth (publication, else first fetch) plus
    the first interval (``changes.revisit_after``, sorted) that lands after its last fetch; None
    when the schedule is over. An article first fetched after its whole schedule had passed
    (found late, or intervals shorter than its age: a check with seconds) is scheduled from its
    first fetch instead, so every stored article gets its revisits. A date in the future is
    not a birth."""
    if not intervals:
        return None
    born = published if published is not None and published <= first_fetched else first_fetched
    if born + max(intervals) <= first_fetched:
        born = first_fetched
    for interval in sorted(intervals):
        if born + interval > last_fetched:
            return born + interval
    return None


@dataclass(frozen=True)
class DueRevisit:
    """A stored article due for a revisit, with what its conditional GET and its takedown
    check need (``crawlers.state_base.BaseSeenStore.due_revisits``)."""

    url: str
    source: str
    fingerprint: str
    published: datetime | None
    next_revisit: datetime
    revisits: int = 0
    etag: str | None = None
    last_modified: str | None = None
    suspect: str | None = None  # a takedown kind a first check saw, not confirmed yet
    suspect_since: datetime | None = None
    takedown: str | None = None  # the takedown reported already (not reported twice)
    capture_file: str | None = None  # the last full capture (the stored version's evidence)
    capture_offset: int | None = None
    capture_at: datetime | None = None
    final_url: str | None = None
    first_fetched: datetime | None = None
