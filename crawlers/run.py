"""Run one crawl of all (or the named) sources in this process, then exit.

    warwatch-crawl --run-id RUN_ID [--sources PATH] [--source ID ...] [--progress FILE|-]
                   [--time-budget SECONDS] [--source-time-budget SECONDS]

Writes ``<data_dir>/runs/<RUN_ID>/manifest.jsonl`` and ``crawl-report.json``; WARC files go to
``<data_dir>/warc/``. Logs go to stderr; stdout stays quiet unless ``--progress -``.
The time budgets default to ``crawl.time_budget_seconds`` / ``crawl.source_time_budget_seconds``
(0 on the command line: no budget); a crawl that uses its budget up stops cleanly, keeps what
it fetched and exits 0 with ``finish_reason: budget_exhausted`` in its report.
One crawl per source at a time (``crawlers.locks``): a source another crawl process is crawling
right now is skipped and listed under ``locked`` in the report (counted in ``totals.locked``).
Exit status: 0 when the crawl ran (per-source failures are in the report), 2 for bad
configuration or arguments, 1 when the crawl itself could not run (or a crawl of the same run
id is still running in another process).
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from crawlers.locks import CrawlLocks
from indexing.runid import RUN_ID_CHARS, is_run_id

if TYPE_CHECKING:
    from indexing.settings import Settings
    from indexing.sources import Source

logger = logging.getLogger("crawlers.run")

def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m crawlers.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--run-id", required=True, help="id of this run ([A-Za-z0-9._-]+)")
    parser.add_argument("--sources", type=Path, default=None, help="sources file (default: settings)")
    parser.add_argument("--source", action="append", default=[], metavar="ID", help="crawl only this source")
    parser.add_argument("--progress", default=None, metavar="FILE|-", help="write JSON progress lines here")
    parser.add_argument(
        "--time-budget", type=float, default=None, metavar="SECONDS", help="budget of the whole crawl"
    )
    parser.add_argument(
        "--source-time-budget", type=float, default=None, metavar="SECONDS", help="budget of each source"
    )
    parser.add_argument("--log-level", default=os.environ.get("WARWATCH_CRAWL_LOG_LEVEL", "INFO"))
    return parser.parse_args(argv)


def _budget(value: float | None, default: float | None) -> float | None:
    if value is None:
        return default
    return value if value > 0 else None


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    if not is_run_id(args.run_id):
        print(
            f"error: invalid --run-id {args.run_id!r} (allowed: {RUN_ID_CHARS})", file=sys.stderr
        )
        return 2

    # cwd-independent: the project is found by module name, not through scrapy.cfg.
    os.environ["SCRAPY_SETTINGS_MODULE"] = "crawlers.settings"
    from indexing.errors import ConfigError
    from indexing.settings import get_settings
    from indexing.sources import load_sources

    try:
        settings = get_settings()
        sources = load_sources(args.sources or settings.sources)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.source:
        known = {s.id for s in sources}
        unknown = [s for s in args.source if s not in known]
        if unknown:
            print(f"error: unknown source id(s): {', '.join(unknown)}", file=sys.stderr)
            return 2
        sources = [s for s in sources if s.id in set(args.source)]

    locks = CrawlLocks(settings.data_dir / "locks", dsn=settings.state.postgres_dsn,
                       connect_timeout=settings.state.connect_timeout)
    try:
        return _crawl(args, settings, sources, locks)
    except ConfigError as exc:  # the state database is unreachable (its DSN redacted)
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        locks.release()


def _crawl(args: argparse.Namespace, settings: Settings, sources: list[Source], locks: CrawlLocks) -> int:
    if not locks.hold_run(args.run_id):
        print(f"error: run {args.run_id} is being crawled by another process", file=sys.stderr)
        return 1
    held, locked = locks.hold_sources(s.id for s in sources)
    sources = [s for s in sources if s.id in set(held)]

    from scrapy.crawler import CrawlerProcess
    from scrapy.utils.project import get_project_settings

    from crawlers.settings import from_warwatch
    from crawlers.spiders.news import NewsSpider

    scrapy_settings = get_project_settings()
    # warwatch's settings enter Scrapy's once, here; components read crawler.settings.
    scrapy_settings.setdict(from_warwatch(settings), priority="project")
    scrapy_settings.setdict(
        {
            "WARWATCH_RUN_ID": args.run_id,
            "WARWATCH_SOURCES": sources,
            "WARWATCH_LOCKED_SOURCES": locked,
            "WARWATCH_PROGRESS": args.progress,
            "WARWATCH_TIME_BUDGET_SECONDS": _budget(args.time_budget, settings.crawl.time_budget_seconds),
            "WARWATCH_SOURCE_TIME_BUDGET_SECONDS": _budget(
                args.source_time_budget, settings.crawl.source_time_budget_seconds
            ),
            "LOG_LEVEL": args.log_level.upper(),
            "LOG_STDOUT": False,
        },
        priority="cmdline",
    )
    run_dir = settings.runs_dir / args.run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    try:
        process = CrawlerProcess(scrapy_settings, install_root_handler=True)
        process.crawl(NewsSpider)
        # Modules, settings and classes live as long as the process: keep them out of the
        # cyclic collector so its full passes during the crawl only walk crawl objects.
        gc.collect()
        gc.freeze()
        process.start()
    except Exception:  # the crawl machinery itself failed: report it loudly
        logger.exception("crawl %s could not run", args.run_id)
        return 1
    if not (run_dir / "crawl-report.json").exists():
        logger.error("crawl %s ended without a report", args.run_id)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
