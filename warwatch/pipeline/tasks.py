"""What each Airflow task does, one function per task (the DAG files stay thin).

A scheduled processing run leases its batches to an owner named after the DAG run, so the lease
passes from task to task (each task process is gone when the next starts) and expires if the run
dies. The lease's ``stage`` records the last stage done (``"enrich:done"``): a task only works on
batches whose previous stage this run completed (and skips a stage already done: a batch whose
alerts are pending is claimed at ``"index:done"``), and ``finish`` marks processed only the
batches that reached ``"alerts:done"`` with their alerts complete; the others go back for the
next run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from warwatch.pipeline import batches
from warwatch.pipeline.batches import LeaseLost
from warwatch.pipeline.clean import clean
from warwatch.pipeline.common import PipelineError, safe_id
from warwatch.pipeline.crawl import crawl
from warwatch.pipeline.discovery import full_discovery_due
from warwatch.pipeline.index import enrich, index
from warwatch.pipeline.report import alerts, report

log = logging.getLogger(__name__)

ORDER = ("claimed", "clean", "enrich", "index", "alerts")


def owner_of(dag_id: str, run_id: str) -> str:
    return f"airflow:{dag_id}:{run_id}"


# --------------------------------------------------------------------------- warwatch_crawl
def plan_crawl(selected: Iterable[str] | None = None, sources_path: Path | None = None) -> list[str]:
    """The source ids one crawl run covers: the selected ones (checked) or every configured one."""
    from indexing.settings import get_settings
    from indexing.sources import load_sources

    known = [s.id for s in load_sources(sources_path or get_settings().sources)]
    chosen = list(selected or [])
    unknown = sorted(set(chosen) - set(known))
    if unknown:
        raise PipelineError(f"unknown source id(s): {', '.join(unknown)} (known: {', '.join(known)})")
    return chosen or known


def crawl_source(source_id: str, airflow_run_id: str, try_number: int, *, force_full: bool = False,
                 sources_path: Path | None = None) -> dict[str, Any]:
    """Crawl one source into a new batch: feeds only, or full discovery when it is due (or forced).
    Each attempt gets its own batch, so a retry never writes into a batch already processed."""
    batch_id = safe_id(f"{safe_id(airflow_run_id, 80)}-{source_id}-t{try_number}")
    full = force_full or full_discovery_due(source_id)
    report_ = crawl(batch_id, sources_path, [source_id], owner=f"airflow-crawl:{batch_id}", full_discovery=full)
    counts = (report_.get("sources") or {}).get(source_id, {})
    return {"batch_id": batch_id, "source": source_id, "full_discovery": full,
            **{k: v for k, v in counts.items() if isinstance(v, int | float | str)}}


# --------------------------------------------------------------------------- warwatch_process
def claim_batches(owner: str, dry_run: bool = False) -> list[str]:
    """Lease every unprocessed batch nobody else holds to this run (dry run: only list them)."""
    if dry_run:
        left = batches.unprocessed()
        log.info("dry run: %d unprocessed batches: %s", len(left), left)
        return []
    leases = batches.claim(owner, bind_pid=False)
    for lease in leases:
        lease.close()  # the lease file stays: the stage tasks of this run take it on
    return [lease.batch_id for lease in leases]


def _done_level(stage: str) -> int:
    name, _, done = stage.partition(":")
    if name not in ORDER:
        return -1
    return ORDER.index(name) if done == "done" else ORDER.index(name) - 1


def run_stage(batch_id: str, owner: str, name: str, fn: Callable[[str], Any]) -> bool:
    """Run stage ``name`` of a batch this run leased, if its previous stage is done; False when it
    is not (an earlier stage failed: the batch goes back at ``finish``)."""
    lease_info = batches.read_lease(batch_id)
    if lease_info.get("owner") != owner:
        raise LeaseLost(f"batch {batch_id} is leased to {lease_info.get('owner')!r}, not this run")
    level = _done_level(str(lease_info.get("stage", "")))
    if level >= ORDER.index(name):
        log.info("batch %s: %s already done (%s)", batch_id, name, lease_info.get("stage"))
        return True
    if level < ORDER.index(name) - 1:
        log.warning("batch %s: %s skipped, its earlier stage did not finish (%s)", batch_id, name,
                    lease_info.get("stage"))
        return False
    lease = batches.acquire(batch_id, owner, stage=name, bind_pid=False)
    if lease is None:
        raise LeaseLost(f"batch {batch_id} is locked by another process")
    try:
        fn(batch_id)
        batches.renew(lease, f"{name}:done", bind_pid=False)
    finally:
        lease.close()
    return True


def clean_batch(batch_id: str, owner: str) -> str:
    run_stage(batch_id, owner, "clean", clean)
    return batch_id


def enrich_batch(batch_id: str, owner: str) -> str:
    run_stage(batch_id, owner, "enrich", enrich)
    return batch_id


def index_batches(batch_ids: Iterable[str], owner: str) -> dict[str, bool]:
    """Index the run's batches one after the other (the index lock serialises runs anyway)."""
    return {bid: run_stage(bid, owner, "index", index) for bid in batch_ids}


def alert_batches(batch_ids: Iterable[str], owner: str) -> dict[str, bool]:
    return {bid: run_stage(bid, owner, "alerts", alerts) for bid in batch_ids}


def finish_batches(batch_ids: Iterable[str], owner: str) -> dict[str, Any]:
    """Report every batch; mark processed those whose alerts ran; give all leases back. Raises
    when a batch could not be finished (it is left for the next run)."""
    done: list[str] = []
    left: list[str] = []
    problems: dict[str, list[str]] = {}
    for bid in batch_ids:
        info = batches.read_lease(bid)
        merged = report(bid)
        if merged["problems"]:
            problems[bid] = merged["problems"]
        if info.get("owner") == owner and info.get("stage") == "alerts:done" and not batches.alerts_pending(bid):
            batches.mark_processed(bid, {"owner": owner, "problems": merged["problems"]})
            done.append(bid)
        else:
            left.append(bid)
        lease = batches.acquire(bid, owner, stage="finish", bind_pid=False)
        if lease is not None:
            batches.release(lease)
    summary = {"processed": done, "left": left, "problems": problems}
    if left:
        raise PipelineError(f"{len(left)} batch(es) not finished, left for the next run: {', '.join(left)}")
    return summary


# --------------------------------------------------------------------------- warwatch_backfill
def backfill(action: str, sources: list[str], since: datetime | None, until: datetime | None,
             dry_run: bool, owner: str) -> dict[str, Any]:
    """Reprocess the archive (a date range, chosen sources; no network) or migrate the index."""
    from warwatch.pipeline.cycle import latest_manifests, reprocess

    if action == "migrate":
        from indexing.engine import connect
        from indexing.index.setup import current_index, migrate
        from indexing.settings import get_settings

        settings = get_settings()
        engine = connect(settings)
        if dry_run:
            return {"action": action, "dry_run": True, "current_index": current_index(engine, settings.index_prefix)}
        return {"action": action,
                "alias_points_to": migrate(engine, settings.index_prefix, partition=settings.pipeline.index_partition)}
    if action != "reprocess":
        raise PipelineError(f"unknown backfill action {action!r}")
    if dry_run:
        n = sum(1 for _ in latest_manifests(since, sources, until))
        return {"action": action, "dry_run": True, "captures": n}
    result = reprocess(since=since, source=sources, until=until, owner=owner)
    if not result.ok:
        raise PipelineError(f"reprocess {result.run_id}: " + "; ".join(result.report.get("problems") or []))
    return {"action": action, "batch_id": result.run_id, "index": result.report.get("index", {})}


def day_bounds(since: str | None, until: str | None) -> tuple[datetime | None, datetime | None]:
    """Form dates (YYYY-MM-DD, UTC) as a closed range: ``until`` includes its whole day."""
    from datetime import UTC

    from indexing.dates import end_of_day

    def day(value: str | None) -> datetime | None:
        if not value:
            return None
        try:
            return datetime.fromisoformat(value).replace(tzinfo=UTC)
        except ValueError as exc:
            raise PipelineError(f"not a date (YYYY-MM-DD): {value!r}") from exc

    start, end = day(since), day(until)
    if end is not None:
        end = end_of_day(end)
    if start and end and start > end:
        raise PipelineError(f"since {since} is after until {until}")
    return start, end
