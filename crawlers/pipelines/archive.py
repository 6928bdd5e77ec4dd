"""Store each article response: a WARC record, then its manifest line (both flushed).

The manifest line is the hand-off to cleaning (``indexing.archive.iter_manifest`` /
``read_record``); ``warc_file`` is relative to the data dir.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Self

from scrapy.crawler import Crawler

from crawlers.extensions.crawl_state import CrawlState
from indexing.archive import ManifestWriter, WarcWriter

logger = logging.getLogger(__name__)

MANIFEST_KEYS = (
    "url",
    "final_url",
    "requested_url",
    "status",
    "fetched_at",
    "warc_file",
    "warc_offset",
    "source",
    "fingerprint",
    "content_type",
    "discovered_via",
    "published_hint",
    "change",
    "aliases",
)


class ArchivePipeline:
    def __init__(self, state: CrawlState, data_dir: Path, warc_dir: Path, max_bytes: int) -> None:
        self.state = state
        self.data_dir = data_dir
        self.warc_dir = warc_dir
        self.max_bytes = max_bytes
        self.warc: WarcWriter | None = None
        self.manifest: ManifestWriter | None = None
        self._rel: dict[Path, str] = {}  # WARC file -> its manifest name (resolved once per file)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        settings = crawler.settings
        return cls(
            CrawlState.from_crawler(crawler),
            Path(settings["WARWATCH_DATA_DIR"]),
            Path(settings["WARWATCH_WARC_DIR"]),
            settings.getint("WARWATCH_WARC_MAX_BYTES", 100 * 1024 * 1024),
        )

    def open_spider(self) -> None:
        run_id = self.state.run_id
        self.warc = WarcWriter(self.warc_dir, f"warwatch-{run_id}", max_bytes=self.max_bytes).__enter__()
        self.manifest = ManifestWriter(self.state.run_dir / "manifest.jsonl")

    def close_spider(self) -> None:
        if self.warc is not None:
            self.warc.close()
        if self.manifest is not None:
            self.manifest.close()

    def process_item(self, item: dict[str, Any]) -> dict[str, Any]:
        assert self.warc is not None and self.manifest is not None
        path, offset = self.warc.write_response(
            item["final_url"],
            item["status"],
            item["headers"],
            item["body"],
            item["fetched_at"],
            extra_warc_headers={"WARC-Source-URI": item["url"]} if item["url"] != item["final_url"] else None,
        )
        item["warc_file"] = self._relative(path)
        item["warc_offset"] = offset
        entry = {k: item.get(k) for k in MANIFEST_KEYS}
        entry["fetched_at"] = item["fetched_at"].strftime("%Y-%m-%dT%H:%M:%SZ")
        self.manifest.append(entry)
        return item

    def _relative(self, path: Path) -> str:
        rel = self._rel.get(path)
        if rel is None:
            try:
                rel = str(path.resolve().relative_to(self.data_dir.resolve()))
            except ValueError:
                rel = str(path)
            self._rel[path] = rel
        return rel
