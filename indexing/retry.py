"""The one retry schedule: exponential backoff (``initial``, doubled per retry, capped), and a
call retried on it. Bulk indexing (``index/bulk.py``) and alert delivery (``alerts/channels.py``,
which health alerts use too) retry through here; the sleep is injected, so tests count delays
instead of waiting them."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


def backoff_delay(retry: int, initial: float, cap: float | None = None) -> float:
    """The wait before retry number ``retry`` (0 for the first): ``initial * 2**retry``, at most ``cap``."""
    delay = initial * 2.0 ** retry
    return delay if cap is None else min(cap, delay)


def total_backoff(retries: int, initial: float, cap: float | None = None) -> float:
    """Every wait of ``retries`` retries added up (what a caller's deadline must allow for)."""
    return sum(backoff_delay(i, initial, cap) for i in range(max(0, retries)))


def retry_call(fn: Callable[[], T], *, attempts: int, initial: float, cap: float | None = None,
               retryable: Callable[[Exception], bool], sleep: Callable[[float], None],
               on_retry: Callable[[Exception, int, float], None] | None = None,
               on_give_up: Callable[[Exception, int], Exception | None] | None = None) -> tuple[T, int]:
    """``fn()`` tried up to ``attempts`` times (at least once); between tries the backoff of
    :func:`backoff_delay` is slept. Returns ``(result, attempts used)``. An exception that is not
    ``retryable``, or the last one, is raised: as it is, or as what ``on_give_up(exc, attempts)``
    returns (raised from it). ``on_retry(exc, attempt, delay)`` is told of each retry."""
    attempt = 0
    while True:
        attempt += 1
        try:
            return fn(), attempt
        except Exception as exc:
            if not retryable(exc) or attempt >= attempts:
                replacement = on_give_up(exc, attempt) if on_give_up is not None else None
                if replacement is not None:
                    raise replacement from exc
                raise
            delay = backoff_delay(attempt - 1, initial, cap)
            if on_retry is not None:
                on_retry(exc, attempt, delay)
            sleep(delay)
