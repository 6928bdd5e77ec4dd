"""Per-source figures of one run, read from the files its stages left in ``runs/<run_id>/``.

* ``crawl-report.json`` (the crawler): found, fetched, new, failures by reason, crawl duration;
* ``manifest.jsonl`` / ``cleaned.jsonl`` (archive and cleaning): extraction failures per source
  (responses archived for a source that did not give an article) and the freshness lag of new
  articles (``fetched_at - published``: the page's date, else the feed's or news sitemap's);
* ``clean-report.json`` / ``enrich-report.json`` / ``index-report.json``: the stages' durations
  (per run or batch, not per source).

A stage that did not run (yet) leaves its figures out; nothing here needs the network.
"""

from __future__ import annotations

import json
import logging
import statistics
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from indexing.fileio import read_json

log = logging.getLogger(__name__)

#: A publication date this far past the fetch is wrong (time zones and clock skew stay below it).
FUTURE_TOLERANCE = timedelta(days=1)

#: Failure reasons that are the site refusing us rather than failing: 401/403 answers and bot
#: challenge pages (article fetches and feeds/sitemaps alike); counted as ``blocked``.
BLOCK_REASONS = frozenset({"http_401", "http_403", "challenge"})

#: crawl-report keys copied as they are (``discovered`` becomes ``found``)
_CRAWL_COUNTS = ("fetched", "new", "updated", "unchanged", "duplicates", "skipped_known",
                 "not_modified", "robots_denied", "bytes",
                 # revisits of stored articles (issue #19)
                 "revisits_due", "revisits_done", "revisits_overdue", "revisits_not_modified",
                 "revisits_changed", "takedowns_suspected", "takedowns_confirmed")


def _render_counts(render: Any) -> dict[str, int]:
    """The crawl report's ``render`` counts as run-document fields (``rendered``, ``render_failed``,
    ``render_unavailable``, ``render_capped``)."""
    got = render if isinstance(render, dict) else {}
    return {("rendered" if k == "rendered" else f"render_{k}"): int(got.get(k) or 0)
            for k in ("rendered", "failed", "unavailable", "capped")}


class RunNotFound(FileNotFoundError):
    """The run has no directory or no crawl report: there is nothing to record."""


@dataclass
class _SourceFiles:
    """What the manifest and the cleaned articles say about one source."""

    archived: int = 0
    extracted: int = 0
    lags: list[float] = field(default_factory=list)
    undated: int = 0


def parse_time(value: Any) -> datetime | None:
    """An aware datetime from an ISO string (``Z`` accepted), or None."""
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _records(path: Path) -> Iterator[dict[str, Any]]:
    """The objects of a JSONL file; unreadable lines (a killed writer) are counted in the log."""
    if not path.exists():
        return
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            try:
                rec = json.loads(line) if line.strip() else None
            except json.JSONDecodeError:
                log.warning("%s:%d: unreadable line skipped", path, lineno)
                continue
            if isinstance(rec, dict):
                yield rec


def freshness_lag(article: dict[str, Any], crawl: dict[str, Any]) -> float | None:
    """Seconds from publication to fetch, or None when the article has no plausible date."""
    fetched = parse_time(crawl.get("fetched_at"))
    if fetched is None:
        return None
    for candidate in (article.get("published"), crawl.get("published_hint")):
        published = parse_time(candidate)
        if published is not None and published <= fetched + FUTURE_TOLERANCE:
            return max(0.0, (fetched - published).total_seconds())
    return None


def _from_files(rdir: Path) -> dict[str, _SourceFiles]:
    per: dict[str, _SourceFiles] = defaultdict(_SourceFiles)
    for entry in _records(rdir / "manifest.jsonl"):
        if entry.get("warc_type") == "revisit" or entry.get("takedown"):
            continue  # no article to extract (an unchanged revisit, a takedown): not a failure
        per[str(entry.get("source"))].archived += 1
    for rec in _records(rdir / "cleaned.jsonl"):
        crawl, article = rec.get("crawl") or {}, rec.get("article") or {}
        stats = per[str(crawl.get("source"))]
        stats.extracted += 1
        if crawl.get("change", "new") != "new":
            continue  # a re-fetch of an older article says nothing about how fast we are
        lag = freshness_lag(article, crawl)
        if lag is None:
            stats.undated += 1
        else:
            stats.lags.append(lag)
    return per


def source_document(run_id: str, source: str, counts: dict[str, Any], files: _SourceFiles,
                    run: dict[str, Any]) -> dict[str, Any]:
    """The ``{prefix}runs`` document of one source in one run."""
    failures = {str(k): int(v) for k, v in (counts.get("failed") or {}).items()}
    discovery = {f"discovery:{k}": int(v) for k, v in (counts.get("discovery_failed") or {}).items()}
    failed, discovery_failed = sum(failures.values()), sum(discovery.values())
    attempts = int(counts.get("fetched") or 0) + failed + discovery_failed
    blocked = sum(n for reason, n in {**failures, **discovery}.items() if reason.rsplit(":", 1)[-1] in BLOCK_REASONS)
    lags = files.lags
    doc: dict[str, Any] = {
        "run_id": run_id,
        "source": source,
        **run,
        "found": int(counts.get("discovered") or 0),
        **{k: int(counts.get(k) or 0) for k in _CRAWL_COUNTS},
        **_render_counts(counts.get("render")),
        "failed": failed,
        "discovery_failed": discovery_failed,
        "failures": {**failures, **discovery},
        "failure_reasons": sorted({*failures, *discovery}),
        "attempts": attempts,
        "error_ratio": round((failed + discovery_failed) / attempts, 4) if attempts else None,
        "blocked": blocked,
        "blocked_ratio": round(blocked / attempts, 4) if attempts else None,
        "archived": files.archived,
        "extracted": files.extracted,
        "extraction_failed": max(0, files.archived - files.extracted),
        "crawl_seconds": float(counts.get("duration") or 0.0),
        "freshness_samples": len(lags),
        "freshness_undated": files.undated,
        "freshness_lag_median_seconds": round(statistics.median(lags), 1) if lags else None,
        "freshness_lag_max_seconds": round(max(lags), 1) if lags else None,
        "flags": list(counts.get("flags") or []),
    }
    return doc


def run_figures(run_id: str, runs_dir: Path, *, now: datetime | None = None) -> list[dict[str, Any]]:
    """One document per source of the run (in ``runs_dir``, sorted by source). Raises :class:`RunNotFound` when
    the run has no crawl report (it did not crawl, or is still crawling)."""
    if not run_id or "/" in run_id or "\\" in run_id or run_id.startswith("."):
        raise RunNotFound(f"bad run id {run_id!r}")
    rdir = Path(runs_dir) / run_id
    crawl = read_json(rdir / "crawl-report.json")
    if not crawl:
        raise RunNotFound(f"run {run_id}: no crawl report in {rdir}")
    now = now or datetime.now(UTC)
    clean, enrich, index = (read_json(rdir / f"{stage}-report.json") for stage in ("clean", "enrich", "index"))
    run = {
        "started_at": crawl.get("started_at"),
        # a killed crawl has no finish time: the time of recording stands in for it
        "finished_at": crawl.get("finished_at") or now.isoformat(),
        "recorded_at": now.isoformat(),
        "finish_reason": crawl.get("finish_reason"),
        "clean_seconds": clean.get("seconds"),
        "enrich_seconds": enrich.get("seconds"),
        "index_seconds": index.get("seconds"),
    }
    per_source = _from_files(rdir)
    sources: dict[str, Any] = crawl.get("sources") or {}
    unknown = sorted(s for s in per_source if s not in sources)
    if unknown:
        log.warning("run %s: archived responses of sources missing from the crawl report: %s", run_id, unknown)
    return [source_document(run_id, sid, counts or {}, per_source.get(sid, _SourceFiles()), run)
            for sid, counts in sorted(sources.items())]
