"""Mark an article seen, only after the archive pipeline flushed its WARC record and manifest
line: a kill -9 between the two is repaired at the next start from the manifest."""

from __future__ import annotations

from typing import Any, Self

from scrapy.crawler import Crawler

from crawlers.dates import parse_date


class SeenStorePipeline:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    def process_item(self, item: dict[str, Any]) -> dict[str, Any]:
        spider = self.crawler.spider
        spider.store.mark_stored(  # type: ignore[union-attr]
            item["url"],
            item["source"],
            item["fingerprint"],
            item["fetched_at"],
            parse_date(item.get("published_hint")),
            aliases=item.get("aliases", ()),
            final_url=item["final_url"],
            discovered_via=item.get("discovered_via"),
        )
        stats = spider.report[item["source"]]  # type: ignore[union-attr]
        setattr(stats, item["change"], getattr(stats, item["change"]) + 1)
        # The body is in the WARC now; do not keep it alive in signals and logs.
        item.pop("body", None)
        item.pop("headers", None)
        return item
