"""The last stages of a batch: alerts, and the merged report in ``data/reports/<batch>.json``."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from indexing.fileio import read_json
from indexing.settings import get_settings
from warwatch.pipeline.common import run_dir, write_json

log = logging.getLogger(__name__)


def alerts(run_id: str) -> dict[str, Any]:
    """Alert every watch once per new story among the documents this batch indexed
    (``runs/<run_id>/alerts-report.json``); undelivered alerts stay queued for the next run."""
    from indexing.alerts import evaluate

    run_dir(run_id)
    return evaluate(run_id).as_dict()


def report(run_id: str) -> dict[str, Any]:
    """Merge the stage reports of a batch into data/reports/<run_id>.json and return it."""
    settings = get_settings()
    rdir = run_dir(run_id)
    merged: dict[str, Any] = {
        "run_id": run_id,
        "finished_at": datetime.now(UTC).isoformat(),
        **{stage: read_json(rdir / f"{stage}-report.json") for stage in ("crawl", "clean", "enrich", "index", "alerts")},
    }
    merged["problems"] = problems(merged)
    settings.reports_dir.mkdir(parents=True, exist_ok=True)
    write_json(settings.reports_dir / f"{run_id}.json", merged)
    record_health(run_id)
    return merged


def record_health(run_id: str) -> bool:
    """The batch's per-source figures into ``{prefix}runs`` (idempotent: keyed by batch and
    source). A batch without a crawl report has none; an engine that refuses is logged here and
    caught up by the maintenance DAG (``record_pending_runs``), never a reason to fail the batch."""
    from indexing import health
    from indexing.engine import EngineError

    try:
        health.record_run(run_id)
    except health.RunNotFound:
        return False
    except EngineError as exc:
        log.warning("health figures of %s not recorded (%s): the maintenance DAG catches up", run_id, exc)
        return False
    return True


def problems(merged: dict[str, Any]) -> list[str]:
    """Human-readable reasons this batch should not count as a success."""
    out: list[str] = []
    crawl_sources = (merged.get("crawl") or {}).get("sources") or {}
    for sid, counts in crawl_sources.items():
        for flag in counts.get("flags") or []:
            out.append(f"source {sid}: {flag}")
    idx = merged.get("index") or {}
    if idx.get("failed"):
        out.append(f"{idx['failed']} documents rejected by the search engine (see dead-letter file)")
    alerts_report = merged.get("alerts") or {}
    out.extend(f"alerts: {p}" for p in alerts_report.get("problems") or [])
    for failure in alerts_report.get("failures") or []:
        out.append(f"alert {failure.get('alert_id')} of watch {failure.get('watch')} not delivered to "
                   f"{failure.get('channel')} (queued for the next run): {failure.get('error')}")
    return out
