"""Retries that back off as the server asks: 429/503 with ``Retry-After`` (seconds or an HTTP
date) wait that long (capped at WARWATCH_MAX_RETRY_AFTER) before the retry; without it the
wait grows exponentially. A Retry-After beyond the cap gives up at once (the failure is
reported as http_429/http_503 and the article is retried in a later run).

The wait holds the source's download slot (``crawlers.slots.hold``): the retry and every other
request of that source queue in the downloader until it passes, while other sources go on.
Nothing sleeps in this middleware (a sleeping request would hold a global request slot)."""

from __future__ import annotations

import email.utils
import logging
from datetime import UTC, datetime

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.http import Response

from crawlers.limits import DEFAULTS
from crawlers.slots import hold, slot_key

logger = logging.getLogger(__name__)

_BACKOFF_STATUSES = {429, 503}
_BASE_BACKOFF = 1.0


def parse_retry_after(value: bytes | str | None, now: float | None = None) -> float | None:
    """Seconds to wait, from a Retry-After header value (delta-seconds or HTTP-date)."""
    if not value:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now_ts = now if now is not None else datetime.now(UTC).timestamp()
    return max(0.0, when.timestamp() - now_ts)


class RetryAfterMiddleware(RetryMiddleware):
    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler.settings)
        self.crawler = crawler
        self.max_retry_after = crawler.settings.getfloat("WARWATCH_MAX_RETRY_AFTER", DEFAULTS.max_retry_after)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RetryAfterMiddleware:
        return cls(crawler)

    def process_response(self, request: Request, response: Response) -> Request | Response:  # type: ignore[override]
        if request.meta.get("dont_retry", False) or response.status not in self.retry_http_codes:
            return response
        if response.status in _BACKOFF_STATUSES:
            delay = parse_retry_after(response.headers.get(b"Retry-After"))
            retries = request.meta.get("retry_times", 0)
            if delay is None:
                delay = _BASE_BACKOFF * (2**retries)
            if delay > self.max_retry_after:
                logger.warning(
                    "%s answered %d with Retry-After %.0fs (over the %.0fs cap): giving up",
                    request.url,
                    response.status,
                    delay,
                    self.max_retry_after,
                )
                return response
            key = slot_key(request)
            if key is not None and self.crawler.engine is not None:
                from twisted.internet import reactor  # the crawl's reactor, installed by now

                # The retry (and every other request of this source) waits in its slot.
                hold(self.crawler.engine.downloader, key, delay, reactor.callLater)  # type: ignore[attr-defined]
            return self._retry(request, f"{response.status} (retry after {delay:.1f}s)") or response
        return self._retry(request, f"{response.status}") or response
