"""The crawl report: per-source counters of one crawl run and the ``crawl-report.json`` they
become (written by the ``CrawlState`` extension when the crawl closes)."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from crawlers.limits import DEFAULTS
from indexing.dates import iso
from indexing.fileio import atomic_write_json

#: Failure reasons that mean "the site refuses us", reported as the flag "blocked".
_BLOCK_REASONS = {"http_401", "http_403", "http_429", "http_451", "challenge"}
#: A source needs this many article attempts before "mostly_failed" can be judged.
_MIN_ATTEMPTS_FOR_FLAG = 3


#: the revisit figures of a source (also in ``indexing.health.figures``)
REVISIT_COUNTS = (
    "revisits_due", "revisits_done", "revisits_overdue", "revisits_not_modified", "revisits_changed",
    "takedowns_suspected", "takedowns_confirmed",
)


@dataclass
class SourceStats:
    source: str
    discovered: int = 0  # distinct article URLs discovered (in scope, allowed)
    skipped_known: int = 0  # already stored and not due for a recrawl: not fetched
    skipped_old: int = 0  # older than crawl.max_age_days: not fetched
    skipped_failed: int = 0  # failed permanently (or too often) in earlier runs: not retried
    skipped_backoff: int = 0  # failed transiently in earlier runs, next try not due yet
    fetched: int = 0  # article responses received (HTML, 2xx)
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicates: int = 0  # responses that turned out to be another URL of a stored article
    robots_denied: int = 0
    not_modified: int = 0  # feeds/sitemaps answered 304
    bytes: int = 0
    failed: Counter[str] = field(default_factory=Counter)  # article failures by reason
    discovery_failed: Counter[str] = field(default_factory=Counter)  # feeds/sitemaps/sections
    discovered_via: Counter[str] = field(default_factory=Counter)
    #: what a discovery bound cut, by bound (sitemap_depth, sitemap_children, sitemap_urls,
    #: section_links, robots_sitemaps, articles): entries not followed
    capped: Counter[str] = field(default_factory=Counter)
    out_of_scope: int = 0  # child/robots sitemaps off the source's host: not fetched
    #: pages that needed JavaScript (crawlers/downloadermiddlewares/render.py): rendered, failed,
    #: unavailable (no browser), capped (crawl.render_max_pages)
    render: Counter[str] = field(default_factory=Counter)
    budget_exhausted: bool = False  # the source's (or the crawl's) time budget ran out
    # revisits of stored articles (issue #19, crawlers/revisits.py)
    revisits_due: int = 0  # due at the source's start (whether or not the budget let them go)
    revisits_done: int = 0  # revisits answered and handled (not modified, changed, takedown)
    revisits_overdue: int = 0  # due beyond the revisit budget, or late by more than the next interval
    revisits_not_modified: int = 0  # 304, or the same bytes: a WARC revisit record
    revisits_changed: int = 0  # a different page: a full capture (the index stage compares)
    takedowns_suspected: int = 0  # a first check looked like a takedown
    takedowns_confirmed: int = 0  # a second check agreed: reported in the manifest
    started: float | None = None
    finished: float | None = None

    def touch(self) -> None:
        now = time.monotonic()
        if self.started is None:
            self.started = now
        self.finished = now

    def flags(self, failure_ratio: float) -> list[str]:
        flags = []
        stored = self.new + self.updated + self.unchanged
        failures = sum(self.failed.values())
        if self.discovered == 0:
            flags.append("no_articles")
        if self.budget_exhausted:
            flags.append("budget_exhausted")
        attempts = stored + failures + self.duplicates
        if attempts >= _MIN_ATTEMPTS_FOR_FLAG and failures / attempts > failure_ratio:
            flags.append("mostly_failed")
        elif self.discovery_failed and self.discovered == 0:
            flags.append("mostly_failed")
        blocked = sum(n for r, n in (self.failed + self.discovery_failed).items() if r in _BLOCK_REASONS)
        if (
            blocked
            and blocked * 2 >= failures + sum(self.discovery_failed.values())
            and "mostly_failed" in flags
        ):
            flags.append("blocked")
        return flags

    def as_dict(self, failure_ratio: float) -> dict[str, Any]:
        duration = (
            (self.finished - self.started) if self.started is not None and self.finished is not None else 0.0
        )
        return {
            "discovered": self.discovered,
            "skipped_known": self.skipped_known,
            "skipped_old": self.skipped_old,
            "skipped_failed": self.skipped_failed,
            "skipped_backoff": self.skipped_backoff,
            "fetched": self.fetched,
            "new": self.new,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "duplicates": self.duplicates,
            "failed": dict(sorted(self.failed.items())),
            "failed_total": sum(self.failed.values()),
            "discovery_failed": dict(sorted(self.discovery_failed.items())),
            "robots_denied": self.robots_denied,
            "not_modified": self.not_modified,
            "discovered_via": dict(sorted(self.discovered_via.items())),
            "capped": {k: n for k, n in sorted(self.capped.items()) if n},
            "out_of_scope": self.out_of_scope,
            "render": {k: n for k, n in sorted(self.render.items()) if n},
            **{k: getattr(self, k) for k in REVISIT_COUNTS},
            "bytes": self.bytes,
            "duration": round(duration, 3),
            "flags": self.flags(failure_ratio),
        }


class CrawlReport:
    def __init__(self, run_id: str, source_ids: list[str], failure_ratio: float = DEFAULTS.failure_ratio_flag) -> None:
        self.run_id = run_id
        self.failure_ratio = failure_ratio
        self.sources: dict[str, SourceStats] = {s: SourceStats(s) for s in source_ids}
        self.started_at = time.time()
        self.finished_at: float | None = None
        self.finish_reason: str | None = None
        #: sources not crawled: another crawl process held their lock (``crawlers.locks``)
        self.locked: list[str] = []
        #: WARC uploads to the object store (``storage.backend: s3``): uploaded, upload_failed
        #: (the file stays in the local spool), retried (a file an earlier run left); None: local
        self.storage: dict[str, int] | None = None

    def __getitem__(self, source_id: str) -> SourceStats:
        if source_id not in self.sources:
            self.sources[source_id] = SourceStats(source_id)
        return self.sources[source_id]

    def totals(self) -> dict[str, int]:
        keys = ("discovered", "fetched", "new", "updated", "unchanged", "robots_denied", "bytes")
        out = {k: sum(getattr(s, k) for s in self.sources.values()) for k in keys}
        out["failed"] = sum(sum(s.failed.values()) for s in self.sources.values())
        out["locked"] = len(self.locked)
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at) if self.finished_at else None,
            "finish_reason": self.finish_reason,
            "duration": round((self.finished_at or time.time()) - self.started_at, 3),
            "totals": self.totals(),
            "locked": sorted(self.locked),
            **({"storage": dict(self.storage)} if self.storage is not None else {}),
            "sources": {sid: s.as_dict(self.failure_ratio) for sid, s in self.sources.items()},
        }

    def write(self, path: Path) -> None:
        """Write atomically (tmp file + rename): readers never see half a report."""
        atomic_write_json(path, self.as_dict())


def _iso(ts: float) -> str | None:
    return iso(datetime.fromtimestamp(ts, UTC))
