"""Scrapy's downloader, with its per-slot concurrency enforced.

Under the asyncio reactor Scrapy 2.19 starts each download of a slot as a task
(``_schedule_coro``), and the download joins ``slot.transferring`` only when that task first
runs. ``Downloader._process_queue`` pops requests while ``slot.free_transfer_slots() > 0``,
which does not change inside its loop: a slot sends everything queued at once, whatever
``CONCURRENT_REQUESTS_PER_DOMAIN`` says (measured: 8 parallel requests to a site configured for
1). Here a download counts against its slot from the moment it leaves the queue.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from scrapy import Request
from scrapy.core.downloader import Downloader, Slot
from scrapy.http import Response


class SlotDownloader(Downloader):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: id(slot) -> downloads that left its queue but have not joined slot.transferring yet
        self._starting: dict[int, int] = {}

    def _process_queue(self, slot: Slot) -> None:
        free = slot.free_transfer_slots() - self._starting.get(id(slot), 0)
        if len(slot.queue) <= free:
            visible = len(slot.queue)
            super()._process_queue(slot)
            self._count_started(slot, visible - len(slot.queue))
            return
        # Show the parent only as many queued requests as the slot may start now.
        held: deque[Any] = deque()
        while len(slot.queue) > max(free, 0):
            held.appendleft(slot.queue.pop())
        visible = len(slot.queue)
        try:
            super()._process_queue(slot)
        finally:
            self._count_started(slot, visible - len(slot.queue))
            slot.queue.extend(held)

    def _count_started(self, slot: Slot, started: int) -> None:
        if started > 0:
            self._starting[id(slot)] = self._starting.get(id(slot), 0) + started

    async def _download(self, slot: Slot, request: Request) -> Response:
        left = self._starting.get(id(slot), 0) - 1
        if left > 0:
            self._starting[id(slot)] = left
        else:
            self._starting.pop(id(slot), None)
        return await super()._download(slot, request)
