"""Per-source download slots and the waits placed on them.

Every request of a source carries ``meta["download_slot"] = source_slot(source_id)``, so
Scrapy's downloader keeps one queue, one concurrency limit and one delay per source. A wait a
site asks for (robots.txt Crawl-delay, Retry-After) is applied to that slot: its requests queue
in the downloader, where the downloader-aware scheduler queue sees them as busy and hands out
other sources' requests instead. Nothing sleeps inside a middleware, where a waiting request
would hold one of the crawl's global request slots (``CONCURRENT_REQUESTS``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from scrapy import Request
from scrapy.core.downloader import Downloader, Slot
from twisted.python.failure import Failure

SLOT_META = Downloader.DOWNLOAD_SLOT


def source_slot(source_id: str) -> str:
    return f"source:{source_id}"


def slot_key(request: Request) -> str | None:
    """The per-source slot of ``request`` (None for requests without a source)."""
    key = request.meta.get(SLOT_META)
    return key if isinstance(key, str) and key.startswith("source:") else None


def set_min_delay(downloader: Downloader, key: str, delay: float) -> None:
    """Make every request of slot ``key`` wait at least ``delay`` seconds after the previous
    one, without jitter; slots created later (after the downloader's idle-slot clean-up
    dropped this one) start with it too. AutoThrottle may raise the delay, never lower it
    below ``delay`` for long: this is called again before each request."""
    settings: dict[str, Any] = downloader.per_slot_settings.setdefault(key, {})
    settings["delay"] = max(float(settings.get("delay", 0.0)), delay)
    settings["jitter"] = 0.0
    slot = downloader.slots.get(key)
    if slot is not None and slot.delay < delay:
        slot.delay = delay
        slot.jitter = 0.0


def hold(downloader: Downloader, key: str, seconds: float, call_later: Callable[..., Any]) -> None:
    """Send nothing from slot ``key`` for ``seconds`` (a Retry-After), then let the slot go back
    to its own delay. ``call_later`` is the reactor's ``callLater``."""
    slot = downloader.slots.get(key)
    if slot is None or seconds <= 0:
        return
    now = time.monotonic()
    held = _HOLDS.get(id(slot))
    if held is not None and held[1] >= now + seconds:
        return  # already held at least as long
    own = held[0] if held is not None else (slot.delay, slot.jitter)
    # The slot's queue waits `delay` after `lastseen`; a queued request arms a timer for then.
    slot.delay, slot.jitter, slot.lastseen = seconds, 0.0, now
    _HOLDS[id(slot)] = (own, now + seconds)
    # Restore just before that timer fires, so the requests queued meanwhile leave at its
    # own pace, not one per `seconds`.
    call_later(max(0.0, seconds - _RESTORE_EARLY), _restore, slot, now + seconds)


_RESTORE_EARLY = 0.05
#: id(slot) -> ((its own delay, jitter), held until): ``Slot`` has __slots__.
_HOLDS: dict[int, tuple[tuple[float, float], float]] = {}


def _restore(slot: Slot, until: float) -> None:
    held = _HOLDS.get(id(slot))
    if held is None or held[1] != until:
        return  # a longer hold took over
    del _HOLDS[id(slot)]
    slot.delay, slot.jitter = held[0]


def drain(downloader: Downloader, key: str | None, error: Callable[[Request], Exception]) -> int:
    """Fail the requests waiting in slot ``key`` (every slot when None) with ``error(request)``,
    at once: a closing crawl does not wait out their delays. Returns how many."""
    drained = 0
    for name, slot in list(downloader.slots.items()):
        if key is not None and name != key:
            continue
        if slot.latercall is not None:
            slot.latercall.cancel()
            slot.latercall = None
        while slot.queue:
            request, deferred = slot.queue.popleft()
            deferred.errback(Failure(error(request)))
            drained += 1
    return drained
