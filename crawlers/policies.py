"""When to fetch an article again: the recrawl rule of stored articles (:class:`KnownArticle`)
and the retry backoff of failed ones (:class:`RetryPolicy`), with the records the seen-store
(``crawlers.state``) hands out."""

from __future__ import annotations

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
