"""Daily upkeep (``warwatch_maintenance``): retention of raw captures, index health, stuck batches,
per-source freshness."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from indexing.fileio import read_json
from indexing.settings import get_settings
from warwatch.pipeline import batches

log = logging.getLogger(__name__)


def referenced_warcs(batch_ids: list[str]) -> set[Path]:
    """WARC files the manifests of ``batch_ids`` point into."""
    from indexing.archive import iter_manifest

    data_dir = get_settings().data_dir
    out: set[Path] = set()
    for bid in batch_ids:
        manifest = get_settings().runs_dir / bid / "manifest.jsonl"
        if manifest.exists():
            out.update((data_dir / e["warc_file"]).resolve() for e in iter_manifest(manifest) if e.get("warc_file"))
    return out


def retention(now: Callable[[], float] = time.time, dry_run: bool = False) -> dict[str, Any]:
    """Delete WARC files older than ``pipeline.raw_retention_days`` unless a batch that is not
    processed yet (or is being crawled) still needs them."""
    days = get_settings().pipeline.raw_retention_days
    warc_dir = get_settings().warc_dir
    result: dict[str, Any] = {"retention_days": days, "deleted": 0, "bytes": 0, "kept_unprocessed": 0, "dry_run": dry_run}
    if days is None or not warc_dir.is_dir():
        return result
    cutoff = now() - days * 86400
    protected = referenced_warcs(batches.unprocessed())
    for path in sorted(warc_dir.glob("*.warc*")):
        try:
            stat = path.stat()
        except FileNotFoundError:
            continue
        if stat.st_mtime >= cutoff:
            continue
        if path.resolve() in protected:
            result["kept_unprocessed"] += 1
            continue
        if not dry_run:
            path.unlink(missing_ok=True)
        result["deleted"] += 1
        result["bytes"] += stat.st_size
    log.info("retention: %s", result)
    return result


def index_health() -> dict[str, Any]:
    """Cluster status, the articles alias and what it points to, document counts."""
    from indexing.engine import connect

    settings = get_settings()
    engine = connect()
    health = engine.health()
    alias = settings.articles_alias
    targets = sorted(engine.get_alias(alias)) if engine.index_exists(alias) else []
    out = {
        "status": health.get("status"), "nodes": health.get("number_of_nodes"),
        "unassigned_shards": health.get("unassigned_shards"), "alias": alias, "alias_targets": targets,
        "articles": engine.count(alias) if targets else 0,
    }
    if out["status"] == "red" or not targets:
        raise RuntimeError(f"index unhealthy: {out}")
    return out


def recover_stuck() -> dict[str, Any]:
    """Free the batches whose lease expired with nobody working on them; name the hung ones."""
    found = batches.recover_stuck()
    return {**found, "unprocessed": len(batches.unprocessed())}


def freshness(now: datetime | None = None) -> dict[str, dict[str, Any]]:
    """Per source: when it was last crawled, and when it last brought new articles (from the
    batches' crawl reports)."""
    now = now or datetime.now(UTC)
    out: dict[str, dict[str, Any]] = {}
    for bid in batches.all_batches():
        rdir = get_settings().runs_dir / bid
        meta = batches.read_meta(bid)
        report = read_json(rdir / "crawl-report.json")
        for sid, counts in (report.get("sources") or {}).items():
            entry = out.setdefault(sid, {"last_crawl": None, "last_new": None, "batches": 0})
            entry["batches"] += 1
            started = meta.get("started") or bid
            entry["last_crawl"] = max(filter(None, [entry["last_crawl"], started]))
            if int(counts.get("fetched") or 0) > 0:
                entry["last_new"] = max(filter(None, [entry["last_new"], started]))
    return out


def pipeline_health() -> dict[str, Any]:
    """Record the figures of every batch not yet in ``{prefix}runs``, evaluate the health rules
    and deliver health alerts for new episodes (through the topic watches' channels)."""
    from indexing import health
    from warwatch.pipeline.report import overdue_alerts

    late = overdue_alerts()  # first: it needs no engine, and an engine outage is what it reports
    recorded = health.record_pending_runs()
    report = health.check_health()
    return {"recorded": len(recorded), "alerts_pending_overdue": late, **report.as_dict()}
