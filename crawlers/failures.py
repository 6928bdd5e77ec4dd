"""Failure reasons as the run report counts them (one name per kind of bad input)."""

from __future__ import annotations

from typing import Any

from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
    IgnoreRequest,
    ResponseDataLossError,
)
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet import error as twisted_error
from twisted.python.failure import Failure

from crawlers.downloadermiddlewares.known_redirect import KnownRedirectTarget
from crawlers.downloadermiddlewares.private_network import PrivateAddressRefused, ProxyRefused
from crawlers.downloadermiddlewares.scope import OffsiteRefused
from crawlers.downloadermiddlewares.time_budget import BudgetExhausted

ROBOTS_DENIED = "robots_denied"
DUPLICATE = "duplicate"
#: The request was not made: its source's (or the crawl's) time budget ran out.
BUDGET_EXHAUSTED = "budget_exhausted"
#: A 401/403/429/503 answer that is a bot challenge page (Cloudflare, DataDome, PerimeterX...).
CHALLENGE = "challenge"
#: Reasons that will not change on a retry in the next run: the URL is given up. 401 and 403
#: are not among them: sites answer them to a request rate they dislike, so like a 5xx or a
#: timeout they are tried again in later runs, with backoff and a limited number of tries
#: (``crawlers.policies.RetryPolicy``); a source that keeps answering them is reported
#: ``blocked`` (crawl report flags, ``indexing.health``).
PERMANENT = {
    "http_404",
    "http_410",
    "http_400",
    "http_451",
    ROBOTS_DENIED,
    "private_address",
    "offsite_redirect",
    DUPLICATE,
    "non_html",
    "too_large",
    "gzip_bomb",
    "redirect_loop",
}


#: Marks of bot-challenge pages, searched in the first bytes of a refusal's body.
_CHALLENGE_MARKS = (
    b"/cdn-cgi/challenge-platform/",
    b"_cf_chl_opt",
    b"captcha-delivery.com",
    b"px-captcha",
    b"<title>just a moment...</title>",
    b"attention required! | cloudflare",
)
_CHALLENGE_STATUSES = {401, 403, 429, 503}


def is_challenge(status: int, headers: dict[bytes, bytes] | Any, body: bytes) -> bool:
    """A refusal that is a bot challenge (a page to solve in a browser), not an error."""
    if status not in _CHALLENGE_STATUSES:
        return False
    mitigated = headers.get(b"cf-mitigated") if headers is not None else None
    if mitigated and mitigated.lower().startswith(b"challenge"):
        return True
    head = body[:65536].lower()
    return any(mark in head for mark in _CHALLENGE_MARKS)


def failure_reason(failure: Failure) -> str:
    exc = failure.value
    if isinstance(exc, HttpError):
        response = exc.response
        if is_challenge(response.status, response.headers, response.body):
            return CHALLENGE
        return f"http_{response.status}"
    if isinstance(exc, BudgetExhausted):
        return BUDGET_EXHAUSTED
    if isinstance(exc, KnownRedirectTarget):
        return DUPLICATE
    if isinstance(exc, ProxyRefused):
        return "proxy_refused"
    if isinstance(exc, PrivateAddressRefused):
        return "private_address"
    if isinstance(exc, OffsiteRefused):
        return "offsite_redirect"
    if isinstance(exc, IgnoreRequest):
        msg = str(exc).lower()
        if "robots.txt" in msg:
            return ROBOTS_DENIED
        if "redirection" in msg:
            return "redirect_loop"
        if "decompression" in msg or "download_maxsize" in msg:
            return "gzip_bomb"
        return "ignored"
    if isinstance(exc, DownloadTimeoutError | twisted_error.TimeoutError):
        return "timeout"
    if isinstance(exc, DownloadCancelledError):
        return "too_large"
    if isinstance(exc, CannotResolveHostError | twisted_error.DNSLookupError):
        return "dns"
    if isinstance(exc, DownloadConnectionRefusedError | twisted_error.ConnectionRefusedError):
        return "connection_refused"
    if isinstance(exc, ResponseDataLossError):
        return "data_loss"
    if isinstance(exc, DownloadFailedError | twisted_error.ConnectionLost | twisted_error.ConnectionDone):
        return "connection_failed"
    return type(exc).__name__.lower()
