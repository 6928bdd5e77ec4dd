"""Mark an article seen, only after the archive pipeline flushed its WARC record and manifest
line: a kill -9 between the two is repaired at the next start from the manifest.

Marks are committed in batches (``BaseSeenStore.batch_size`` articles or ``batch_interval``
seconds; a timer commits a quiet batch): the manifest, replayed into the seen-store at
start-up, is the source of truth, so a kill -9 loses nothing that is not replayed.
"""

from __future__ import annotations

import logging
from typing import Any, Self

from scrapy.crawler import Crawler
from twisted.internet import task

from crawlers.extensions.crawl_state import CrawlState
from crawlers.state import Capture
from indexing.dates import parse_date

logger = logging.getLogger(__name__)


class SeenStorePipeline:
    def __init__(self, state: CrawlState) -> None:
        self.state = state
        self.store = state.store
        self._timer: task.LoopingCall | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(CrawlState.from_crawler(crawler))

    def open_spider(self) -> None:
        store = self.store
        if store.batch_interval > 0:
            self._timer = task.LoopingCall(self._tick)
            self._timer.start(store.batch_interval, now=False)

    def _tick(self) -> None:
        try:
            self.store.flush_if_due()
        except self.store.errors:
            # The marks stay in the open batch (the next write retries the commit) and in the
            # manifest, which the next start replays.
            logger.exception("seen-store batch commit failed")

    def close_spider(self) -> None:
        if self._timer is not None and self._timer.running:
            self._timer.stop()
        self.store.flush()

    def process_item(self, item: dict[str, Any]) -> dict[str, Any]:
        if item.get("warc_type") == "revisit" or item.get("takedown"):
            # not a new version: the revisit is counted done, a takedown remembered as reported
            self.store.revisited(item["url"], item["fetched_at"], takedown=item.get("takedown"))
            if not item.get("takedown"):
                self.state.report[item["source"]].unchanged += 1
            item.pop("body", None)
            item.pop("headers", None)
            return item
        self.store.mark_stored(
            item["url"],
            item["source"],
            item["fingerprint"],
            item["fetched_at"],
            parse_date(item.get("published_hint")),
            aliases=item.get("aliases", ()),
            final_url=item["final_url"],
            discovered_via=item.get("discovered_via"),
            # The archive pipeline flushed the manifest line: replayed at start-up if lost.
            durable="warc_offset" not in item,
            capture=_capture(item),
        )
        if item.get("revisit_of"):
            self.store.revisited(item["revisit_of"], item["fetched_at"])
        stats = self.state.report[item["source"]]
        setattr(stats, item["change"], getattr(stats, item["change"]) + 1)
        # The body is in the WARC now; do not keep it alive in signals and logs.
        item.pop("body", None)
        item.pop("headers", None)
        return item


def _capture(item: dict[str, Any]) -> Capture:
    """The article response's validators (its next revisit's conditional GET) and its capture."""
    headers = {k.lower(): v for k, v in item.get("headers") or ()}
    return Capture(
        headers.get("etag"), headers.get("last-modified"), item.get("warc_file"), item.get("warc_offset")
    )
