"""The crawl's shared state, as a Scrapy extension: the sources, the run directory, the
seen-store (``crawlers.state.open_seen_store``: a SQLite file, or Postgres with
``state.backend: postgres``) and the crawl report
(:class:`crawlers.crawl_report.CrawlReport`).

Spider, pipelines and middlewares obtain the one instance of a crawl with
``CrawlState.from_crawler(crawler)`` (it is also listed in ``EXTENSIONS``, which builds it
the same way), never through the spider. On ``spider_opened`` it replays interrupted runs
into the seen-store and marks this run started; on ``spider_closed`` it writes
``<runs_dir>/<run_id>/crawl-report.json``, marks the run finished and closes the store.

Settings: ``WARWATCH_RUN_ID``, ``WARWATCH_SOURCES`` (a list of ``indexing.sources.Source``),
``WARWATCH_RUNS_DIR``, ``WARWATCH_STATE_DIR``, ``WARWATCH_FAILURE_RATIO_FLAG``, the
``WARWATCH_RETRY_*`` backoff (see ``crawlers.settings.from_warwatch``), ``WARWATCH_LOCKED_SOURCES``
(sources skipped because another crawl holds their lock, ``crawlers.locks``) and
``WARWATCH_DATA_DIR`` (its ``locks/`` tell which unfinished runs are still crawling; the
revisits read the stored captures there), ``WARWATCH_REVISIT_AFTER`` (seconds; a source's own
``revisit_after`` wins), ``WARWATCH_REVISIT_SHARE``, ``WARWATCH_CONFIRM_DELAY_SECONDS``.
"""

from __future__ import annotations

import logging
import time
import weakref
from datetime import timedelta
from pathlib import Path
from typing import Self

from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

from crawlers.crawl_report import CrawlReport
from crawlers.limits import DEFAULTS
from crawlers.locks import LiveRuns
from crawlers.replay import replay_unfinished_runs
from crawlers.state import RetryPolicy, open_seen_store
from indexing.settings import get_settings
from indexing.sources import Source
from indexing.storage import Storage, open_storage

logger = logging.getLogger(__name__)


_INSTANCES: weakref.WeakKeyDictionary[Crawler, CrawlState] = weakref.WeakKeyDictionary()


class CrawlState:
    def __init__(self, crawler: Crawler) -> None:
        settings = crawler.settings
        run_id = settings.get("WARWATCH_RUN_ID")
        if not run_id:
            raise NotConfigured("WARWATCH_RUN_ID is not set")
        self.run_id: str = run_id
        self.sources: list[Source] = list(settings.getlist("WARWATCH_SOURCES"))
        self.sources_by_id: dict[str, Source] = {s.id: s for s in self.sources}
        self.runs_dir = Path(settings["WARWATCH_RUNS_DIR"])
        self.run_dir = self.runs_dir / run_id
        self.report = CrawlReport(
            run_id, [s.id for s in self.sources], settings.getfloat("WARWATCH_FAILURE_RATIO_FLAG", DEFAULTS.failure_ratio_flag)
        )
        self.report.locked = list(settings.getlist("WARWATCH_LOCKED_SOURCES"))
        data_dir = settings.get("WARWATCH_DATA_DIR")
        self.locks_dir = Path(data_dir) / "locks" if data_dir else None
        retry = RetryPolicy(
            base=timedelta(
                minutes=settings.getfloat("WARWATCH_RETRY_BACKOFF_MINUTES", DEFAULTS.retry_backoff_minutes)
            ),
            cap=timedelta(
                hours=settings.getfloat("WARWATCH_RETRY_BACKOFF_MAX_HOURS", DEFAULTS.retry_backoff_max_hours)
            ),
            max_attempts=settings.getint("WARWATCH_RETRY_MAX_ATTEMPTS", DEFAULTS.retry_max_attempts),
        )
        warwatch = get_settings()
        # the backend (state.backend) and its DSN come from warwatch's settings, never through
        # Scrapy's (the DSN is a secret)
        self.store = open_seen_store(Path(settings["WARWATCH_STATE_DIR"]), warwatch.state, retry=retry)
        #: which unfinished runs are still crawling (their run locks: crawlers.locks)
        self.live_runs = LiveRuns(self.locks_dir, dsn=warwatch.state.postgres_dsn,
                                  connect_timeout=warwatch.state.connect_timeout)
        self.data_dir = Path(data_dir) if data_dir else None
        #: where the WARC files are read from and (storage.backend s3) uploaded to
        self.storage: Storage | None = open_storage(warwatch.storage, self.data_dir) if self.data_dir is not None else None
        # revisits (issue #19): each source's intervals (its own or changes.revisit_after)
        default = [timedelta(seconds=float(s)) for s in settings.getlist("WARWATCH_REVISIT_AFTER", [])]
        self.revisit_after = {s.id: s.revisit_intervals(default) for s in self.sources}
        self.revisit_share = settings.getfloat("WARWATCH_REVISIT_SHARE", 0.0)
        self.confirm_delay = settings.getfloat("WARWATCH_CONFIRM_DELAY_SECONDS", 0.0)
        self.store.schedule = self._schedule
        #: canonical URLs of articles stored in this run (the spider and redirects consult it)
        self.claimed: set[str] = set()
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    def _schedule(self, source_id: str) -> list[timedelta]:
        return self.revisit_after.get(source_id, [])

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """The crawl's one instance (built on first use)."""
        state = _INSTANCES.get(crawler)
        if state is None:
            state = _INSTANCES[crawler] = cls(crawler)
        return state  # type: ignore[return-value]

    @property
    def report_path(self) -> Path:
        return self.run_dir / "crawl-report.json"

    def spider_opened(self, spider: Spider) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        replay_unfinished_runs(self.store, self.runs_dir, self.run_id, is_live=self.live_runs)
        self.store.run_started(self.run_id)

    def spider_closed(self, spider: Spider, reason: str) -> None:
        report = self.report
        report.finished_at = time.time()
        report.finish_reason = reason
        report.write(self.report_path)
        self.store.run_finished(self.run_id)
        self.store.close()
        self.live_runs.close()
        logger.info("crawl %s %s: %s", self.run_id, reason, report.totals())
