"""Store each article response: a WARC record, then its manifest line (both flushed; fsynced
before the seen-store commits, see ``open_spider``).

The manifest line is the hand-off to cleaning (``indexing.archive.iter_manifest`` /
``read_record``); ``warc_file`` is relative to the data dir, and is the file's storage key.
With ``storage.backend: s3`` the WARC files of a run are written into ``warc/<run_id>/`` and
uploaded whole as each is closed (rotation, end of crawl) to ``{prefix}warc/<run_id>/<file>``;
a failed upload leaves the file there, counted in the crawl report, and the next crawl retries it.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Self

from scrapy.crawler import Crawler

from crawlers.extensions.crawl_state import CrawlState
from crawlers.limits import DEFAULTS
from indexing.archive import ArchiveWriter
from indexing.dates import iso
from indexing.storage import S3Storage, Uploads

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
#: keys a revisit's manifest line adds (only where present: other lines stay as they were)
REVISIT_KEYS = ("revisit", "warc_type", "takedown", "takedown_reason", "first_seen", "confirmed_at")


class ArchivePipeline:
    def __init__(self, state: CrawlState, data_dir: Path, warc_dir: Path, max_bytes: int,
                 uploads: Uploads | None = None) -> None:
        self.state = state
        self.data_dir = data_dir
        self.warc_dir = warc_dir
        self.max_bytes = max_bytes
        self.uploads = uploads  # None: the WARC files stay in warc_dir (storage.backend local)
        self.archive: ArchiveWriter | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        settings = crawler.settings
        state = CrawlState.from_crawler(crawler)
        data_dir = Path(settings["WARWATCH_DATA_DIR"])
        storage = state.storage
        uploads = Uploads(storage, data_dir) if isinstance(storage, S3Storage) else None
        return cls(
            state,
            data_dir,
            Path(settings["WARWATCH_WARC_DIR"]),
            settings.getint("WARWATCH_WARC_MAX_BYTES", DEFAULTS.warc_max_bytes),
            uploads,
        )

    def open_spider(self) -> None:
        run_id = self.state.run_id
        warc_dir = self.warc_dir
        if self.uploads is not None:
            warc_dir = self.warc_dir / run_id  # the spool: warc/<run_id>/<file> is the object's key
            live = self.state.live_runs
            self.uploads.retry(self.warc_dir, skip=lambda rid: rid == run_id or live(rid))
            self.state.report.storage = self.uploads.counts
        self.archive = ArchiveWriter.open(
            warc_dir,
            f"warwatch-{run_id}",
            self.state.run_dir / "manifest.jsonl",
            max_bytes=self.max_bytes,
            data_dir=self.data_dir,
            on_closed=self.uploads,
        )
        # Durability (issue 9): the seen-store fsyncs the captures before it commits a seen-mark,
        # so after a power cut no URL is "seen" without its WARC record and manifest line.
        self.state.store.before_commit = self.archive.sync

    def close_spider(self) -> None:
        if self.archive is not None:
            self.archive.close()

    def process_item(self, item: dict[str, Any]) -> dict[str, Any]:
        assert self.archive is not None
        entry = {k: item.get(k) for k in MANIFEST_KEYS}
        entry.update({k: item[k] for k in REVISIT_KEYS if item.get(k) is not None})
        entry["fetched_at"] = iso(item["fetched_at"])
        response: dict[str, Any] = {"url": item["final_url"], "status": item["status"], "headers": item["headers"],
                                    "fetched_at": item["fetched_at"]}
        if item.get("warc_type") == "revisit":
            line = self.archive.write_revisit(entry, **response, refers_to_uri=item["refers_to_uri"],
                                              refers_to_date=item.get("refers_to_date"), payload=item.get("body"))
        else:
            source_uri = {"WARC-Source-URI": item["url"]} if item["url"] != item["final_url"] else None
            line = self.archive.write(entry, **response, body=item["body"], extra_warc_headers=source_uri,
                                      rendered=item.get("rendered"))
        item["warc_file"], item["warc_offset"] = line["warc_file"], line["warc_offset"]
        return item
