"""Retries that back off as the server asks: 429/503 with ``Retry-After`` (seconds or an HTTP
date) wait that long (capped at WARWATCH_MAX_RETRY_AFTER) before the retry; without it the
wait grows exponentially. A Retry-After beyond the cap gives up at once (the failure is
reported as http_429/http_503 instead of stalling the crawl)."""

from __future__ import annotations

import email.utils
import logging
import time
from datetime import UTC, datetime

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.http import Response
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet import reactor, task

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
        self.max_retry_after = crawler.settings.getfloat("WARWATCH_MAX_RETRY_AFTER", 120.0)
        self._blocked_until: dict[str, float] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RetryAfterMiddleware:
        return cls(crawler)

    async def process_request(self, request: Request) -> None:
        # Other requests to a host that asked us to wait, wait too.
        until = self._blocked_until.get(urlparse_cached(request).netloc)
        if until:
            wait = until - time.monotonic()
            if wait > 0:
                await maybe_deferred_to_future(task.deferLater(reactor, wait, lambda: None))

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
            netloc = urlparse_cached(request).netloc
            self._blocked_until[netloc] = max(self._blocked_until.get(netloc, 0.0), time.monotonic() + delay)
            # The retry (and every other request to this host) waits in process_request.
            return self._retry(request, f"{response.status} (retry after {delay:.1f}s)") or response
        return self._retry(request, f"{response.status}") or response
