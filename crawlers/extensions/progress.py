"""JSON progress lines of a running crawl, when WARWATCH_PROGRESS names a file (or ``-`` for
stdout); the report itself is written by :class:`crawlers.extensions.crawl_state.CrawlState`.

    {"event": "start", "run_id": ..., "sources": [...]}
    {"event": "progress", "source": ..., "discovered": n, "fetched": n, "stored": n, "failed": n}
    {"event": "done", "run_id": ..., "report": "<path>", "totals": {...}}
"""

from __future__ import annotations

import json
import sys
import time
from typing import IO, Any, Self

from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

from crawlers.extensions.crawl_state import CrawlState

PROGRESS_INTERVAL = 1.0


class ProgressExtension:
    def __init__(self, crawler: Crawler, target: str, state: CrawlState) -> None:
        self.target = target
        self.state = state
        self._out: IO[str] | None = None
        self._last: dict[str, float] = {}
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(self.item_scraped, signal=signals.item_scraped)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        target = crawler.settings.get("WARWATCH_PROGRESS")
        if not target:
            raise NotConfigured
        return cls(crawler, target, CrawlState.from_crawler(crawler))

    def _emit(self, event: dict[str, Any]) -> None:
        if self._out is None:
            return
        self._out.write(json.dumps(event, ensure_ascii=False) + "\n")
        self._out.flush()

    def spider_opened(self, spider: Spider) -> None:
        if self.target == "-":
            self._out = sys.stdout
        else:
            self._out = open(self.target, "a", encoding="utf-8")  # noqa: SIM115
        self._emit({"event": "start", "run_id": self.state.run_id, "sources": list(self.state.sources_by_id)})

    def item_scraped(self, item: Any, spider: Spider) -> None:
        source = item.get("source") if isinstance(item, dict) else None
        if source is None:
            return
        now = time.monotonic()
        if now - self._last.get(source, 0.0) < PROGRESS_INTERVAL:
            return
        self._last[source] = now
        self._emit_source(source)

    def _emit_source(self, source: str) -> None:
        stats = self.state.report[source]
        self._emit(
            {
                "event": "progress",
                "source": source,
                "discovered": stats.discovered,
                "fetched": stats.fetched,
                "stored": stats.new + stats.updated + stats.unchanged,
                "failed": sum(stats.failed.values()),
            }
        )

    def spider_closed(self, spider: Spider, reason: str) -> None:
        report = self.state.report
        for source in report.sources:
            self._emit_source(source)
        self._emit(
            {
                "event": "done",
                "run_id": report.run_id,
                "report": str(self.state.report_path),
                "totals": report.totals(),
            }
        )
        if self._out is not None and self._out is not sys.stdout:
            self._out.close()
