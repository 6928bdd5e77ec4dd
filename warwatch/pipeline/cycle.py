"""Whole runs: process every unprocessed batch, one crawl-and-process cycle (``warwatch run``), and
reprocessing from the archive (``warwatch reprocess``, ``warwatch_backfill``).

``warwatch run`` = crawl one new batch, then process *every* unprocessed batch, its own and any an
earlier run left (interrupted, killed, failed). Each batch is leased while it is processed and
marked processed only after its alerts ran completely (an engine outage at alert time leaves
its alerts pending, evaluated again by a later run), so a kill at any moment leaves it for the next run;
every stage is idempotent, so doing part of it twice changes nothing.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from indexing.embeddings.stage import embed_new_articles
from indexing.settings import get_settings
from warwatch.pipeline import batches
from warwatch.pipeline.clean import clean
from warwatch.pipeline.common import (
    CrawlError,
    IndexingError,
    PipelineError,
    ProgressCallback,
    batch_files,
    new_run_id,
    parse_dt,
    run_dir,
    write_json,
)
from warwatch.pipeline.crawl import crawl, process_owner
from warwatch.pipeline.index import enrich, index
from warwatch.pipeline.report import alerts, report
from warwatch.pipeline.warm import WarmStart

log = logging.getLogger(__name__)

#: The stages of one batch after its crawl, in order (``warwatch_process`` runs the same).
STAGES: tuple[tuple[str, Callable[..., Any]], ...] = (
    ("clean", clean), ("enrich", enrich), ("index", index), ("alerts", lambda rid, progress=None: alerts(rid)),
)


@dataclass
class CycleResult:
    run_id: str
    report: dict[str, Any]
    #: reports of the other batches this run processed (left by earlier runs)
    others: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.report.get("problems") and not any(o.get("problems") for o in self.others)


def process_batch(lease: batches.Lease, progress: ProgressCallback | None = None,
                  bind_pid: bool = True, warm: WarmStart | None = None) -> dict[str, Any]:
    """clean -> enrich -> index -> alerts -> report for one leased batch, then mark it processed.
    The report is written even when a stage fails (and the batch stays unprocessed). A batch
    whose alerts are pending has only its alerts evaluated again; it is marked processed once
    they are complete. ``warm``: what a run got ready ahead (:mod:`warwatch.pipeline.warm`)."""
    rid = lease.batch_id
    stages = STAGES[-1:] if batches.alerts_pending(rid) else STAGES
    try:
        for name, stage in stages:
            batches.renew(lease, name, bind_pid=bind_pid)
            with warm.stage(name, rid) if warm is not None else contextlib.nullcontext():
                stage(rid, progress=progress)
    finally:
        merged = report(rid)
    if not batches.alerts_pending(rid):
        batches.mark_processed(rid, {"owner": lease.owner, "problems": merged["problems"]})
    return merged


def process_pending(progress: ProgressCallback | None = None, owner: str | None = None,
                    warm: WarmStart | None = None) -> list[dict[str, Any]]:
    """Process every unprocessed batch nobody else is working on, oldest first; their reports.

    A batch whose stage fails is released (the next run retries it); an unreachable engine stops
    the loop (every later batch would fail the same way) and is raised after the leases are back.
    """
    owner = owner or process_owner()
    leases = batches.claim(owner)
    reports: list[dict[str, Any]] = []
    failure: PipelineError | None = None
    try:
        for lease in leases:
            if failure is not None:
                break
            try:
                reports.append(process_batch(lease, progress, warm=warm))
            except IndexingError as exc:
                failure = exc
            except PipelineError as exc:
                log.error("batch %s: %s (left for the next run)", lease.batch_id, exc)
                reports.append({"run_id": lease.batch_id, "problems": [str(exc)]})
    finally:
        for lease in leases:
            batches.release(lease)
    if failure is not None:
        raise failure
    return reports


def run_cycle(
    sources_path: Path | None = None,
    run_id: str | None = None,
    progress: ProgressCallback | None = None,
    on_crawl_line: Callable[[str], None] | None = None,
) -> CycleResult:
    """crawl -> clean -> enrich -> index -> alerts for every configured source, then for every
    batch an earlier run left unprocessed. A failed crawl still has what it fetched processed,
    then raises."""
    from indexing.alerts import configured_watches
    from indexing.sources import load_sources

    run_id = run_id or new_run_id()
    settings = get_settings()
    # a broken watches or sources file fails the cycle before anything is fetched or set up (the
    # warm start below creates the engine's indices)
    configured_watches(settings)
    load_sources(Path(sources_path or settings.sources))
    crawl_error: CrawlError | None = None
    # while the crawl runs: the engine's indices, the model, an extraction worker; then each
    # cleaned batch's vectors while it is indexed (warwatch/pipeline/warm.py)
    with WarmStart(settings) as warm:
        try:
            with warm.follow(run_id):
                crawl(run_id, sources_path, on_line=on_crawl_line)
        except CrawlError as exc:
            crawl_error = exc
        reports = process_pending(progress, warm=warm)
        # vectors for hybrid search, once keyword search and alerts are done
        waited = time.monotonic()
        ahead = warm.vectors()
        waited = time.monotonic() - waited
        embedded = embed_new_articles(settings, precomputed=ahead)
        embedded.seconds += waited  # the stage's time includes waiting for the vectors computed ahead
    if crawl_error is not None:
        raise crawl_error
    own = next((r for r in reports if r.get("run_id") == run_id), None)
    if own is None:  # taken by a concurrent run (it processes it): report what we know
        own = {"run_id": run_id, "problems": [f"batch {run_id} is being processed by another run"]}
    else:  # the run's embedding stage (every batch's articles) in its own batch's merged report
        own["embed"] = embedded.to_dict()
        write_json(get_settings().reports_dir / f"{run_id}.json", own)
    return CycleResult(run_id, own, [r for r in reports if r is not own])


# --------------------------------------------------------------------------- reprocess
def latest_manifests(since: datetime | None = None, source: str | list[str] | None = None,
                     until: datetime | None = None) -> Iterator[dict[str, Any]]:
    """The newest archived entry per URL across all batches (for reprocessing without the network)."""
    from indexing.archive import iter_manifest

    wanted = {source} if isinstance(source, str) else set(source or [])
    newest: dict[str, dict[str, Any]] = {}
    for manifest in _manifests():
        for entry in iter_manifest(manifest):
            if wanted and entry.get("source") not in wanted:
                continue
            fetched = parse_dt(entry.get("fetched_at"))
            if fetched and ((since and fetched < since) or (until and fetched > until)):
                continue
            prev = newest.get(entry["url"])
            if prev is None or str(entry.get("fetched_at")) >= str(prev.get("fetched_at")):
                newest[entry["url"]] = entry
    yield from newest.values()


def _manifests() -> list[Path]:
    """Every batch's manifest: those under ``data/runs``, and with the batch files in the object
    store every manifest listed there too (fetched: a host's data directory has only its own)."""
    runs = get_settings().runs_dir
    local = {p.parent.name for p in runs.glob("*/manifest.jsonl")} if runs.exists() else set()
    files = batch_files()
    stored = {obj.batch_id for obj in files.list_stored(["manifest.jsonl"])}
    return [path for bid in sorted(local | stored) if (path := files.fetch(bid, "manifest.jsonl")[0]).exists()]


def reprocess(
    since: datetime | None = None, source: str | list[str] | None = None,
    progress: ProgressCallback | None = None, until: datetime | None = None, owner: str | None = None,
) -> CycleResult:
    """Re-run cleaning, enrichment, indexing (and alerts, once per story) from the archive,
    without touching the network: a new batch of the newest capture of each URL."""
    run_id = "reprocess-" + new_run_id()
    lease = batches.acquire(run_id, owner or process_owner(), stage="reprocess", create=True)
    if lease is None:
        raise PipelineError(f"batch {run_id} is taken")
    try:
        rdir = run_dir(run_id)
        entries = list(latest_manifests(since, source, until))
        with (rdir / "manifest.jsonl").open("w", encoding="utf-8") as fh:
            for entry in entries:
                fh.write(json.dumps(entry, ensure_ascii=False) + "\n")
        batch_files().publish(run_id, "manifest.jsonl")  # a host that takes the batch over reads it
        merged = process_batch(lease, progress)
    finally:
        batches.release(lease)
    return CycleResult(run_id, merged)
