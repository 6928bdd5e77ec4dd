"""Writes ``<data_dir>/runs/<RUN_ID>/crawl-report.json`` when the crawl closes and, when
WARWATCH_PROGRESS names a file (or ``-`` for stdout), JSON progress lines while it runs:

    {"event": "start", "run_id": ..., "sources": [...]}
    {"event": "progress", "source": ..., "discovered": n, "fetched": n, "stored": n, "failed": n}
    {"event": "done", "run_id": ..., "report": "<path>", "totals": {...}}
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import IO, Any, Self

from scrapy import Spider, signals
from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

PROGRESS_INTERVAL = 1.0


class RunReportExtension:
    def __init__(self, crawler: Crawler, progress_target: str | None) -> None:
        self.crawler = crawler
        self.progress_target = progress_target
        self._out: IO[str] | None = None
        self._last: dict[str, float] = {}
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(self.item_scraped, signal=signals.item_scraped)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler, crawler.settings.get("WARWATCH_PROGRESS"))

    def _emit(self, event: dict[str, Any]) -> None:
        if self._out is None:
            return
        self._out.write(json.dumps(event, ensure_ascii=False) + "\n")
        self._out.flush()

    def spider_opened(self, spider: Spider) -> None:
        if self.progress_target == "-":
            self._out = sys.stdout
        elif self.progress_target:
            self._out = open(self.progress_target, "a", encoding="utf-8")  # noqa: SIM115
        self._emit(
            {
                "event": "start",
                "run_id": getattr(spider, "run_id", None),
                "sources": [s.id for s in getattr(spider, "sources", [])],
            }
        )

    def item_scraped(self, item: Any, spider: Spider) -> None:
        source = item.get("source") if isinstance(item, dict) else None
        if source is None:
            return
        now = time.monotonic()
        if now - self._last.get(source, 0.0) < PROGRESS_INTERVAL:
            return
        self._last[source] = now
        self._emit_source(spider, source)

    def _emit_source(self, spider: Spider, source: str) -> None:
        stats = spider.report[source]  # type: ignore[attr-defined]
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
        report = spider.report  # type: ignore[attr-defined]
        report.finished_at = time.time()
        report.finish_reason = reason
        path = spider.run_dir / "crawl-report.json"  # type: ignore[attr-defined]
        report.write(path)
        for source in report.sources:
            self._emit_source(spider, source)
        self._emit({"event": "done", "run_id": report.run_id, "report": str(path), "totals": report.totals()})
        if self._out is not None and self._out is not sys.stdout:
            self._out.close()
        store = spider.store  # type: ignore[attr-defined]
        store.run_finished(report.run_id)
        store.close()
        logger.info("crawl %s %s: %s", report.run_id, reason, report.totals())
