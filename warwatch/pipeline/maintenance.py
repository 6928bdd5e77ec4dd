"""Daily upkeep (``warwatch_maintenance``): retention of raw captures, index health, stuck batches,
per-source freshness."""

from __future__ import annotations

import contextlib
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

#: what a processed batch holds that ``warwatch reprocess`` makes again from its manifest and
#: captures (the full text, once per batch), and the crawler's log: deleted after
#: ``pipeline.batch_files_retention_days``. Kept for good: the manifest (the evidence: what was
#: fetched, where its capture is), batch.json, processed.json and the stage reports (a few KB:
#: freshness and the health figures read them).
BATCH_FILES = ("cleaned.jsonl", "documents.jsonl", "indexed-ids.txt", "crawl.log")
#: under ``runs_dir``: one empty file per batch whose files were pruned (never looked at again)
PRUNED_DIR = ".pruned"


def referenced_warcs(batch_ids: list[str]) -> set[Path]:
    """WARC files the manifests of ``batch_ids`` point into."""
    from indexing.archive import iter_manifest
    from warwatch.pipeline.common import batch_files

    data_dir = get_settings().data_dir
    files = batch_files()  # a batch crawled on another host: its manifest is in the object store
    out: set[Path] = set()
    for bid in batch_ids:
        manifest = files.fetch(bid, "manifest.jsonl")[0]
        if manifest.exists():
            out.update((data_dir / e["warc_file"]).resolve() for e in iter_manifest(manifest) if e.get("warc_file"))
    return out


def retention(now: Callable[[], float] = time.time, dry_run: bool = False) -> dict[str, Any]:
    """Delete WARC files older than ``pipeline.raw_retention_days`` unless a batch that is not
    processed yet (or is being crawled) still needs them; then the derived files of processed
    batches, merged reports and dead letters older than ``pipeline.batch_files_retention_days``
    (``batch_files``, ``dead_letters`` in the result)."""
    result = _warc_retention(now, dry_run)
    result["batch_files"] = prune_batch_files(now, dry_run)
    result["dead_letters"] = prune_dead_letters(now, dry_run)
    result["index_months"] = prune_index_months(now, dry_run)
    log.info("retention: %s", result)
    return result


def _warc_retention(now: Callable[[], float], dry_run: bool) -> dict[str, Any]:
    days = get_settings().pipeline.raw_retention_days
    warc_dir = get_settings().warc_dir
    result: dict[str, Any] = {"retention_days": days, "deleted": 0, "bytes": 0, "kept_unprocessed": 0,
                              "kept_unchecked": 0, "evidence": {"records": 0, "documents": 0, "captures": 0},
                              "dry_run": dry_run}
    if days is not None and get_settings().storage.backend == "s3":
        return _store_retention(now() - days * 86400, dry_run, result)
    if days is None or not warc_dir.is_dir():
        return result
    cutoff = now() - days * 86400
    protected = referenced_warcs(batches.unprocessed())
    evidence = _Evidence()
    for path in sorted(warc_dir.glob("*.warc*")):
        if path.name.endswith(".offsets.json"):
            continue
        try:
            stat = path.stat()
        except FileNotFoundError:
            continue
        if stat.st_mtime >= cutoff:
            continue
        if path.resolve() in protected:
            result["kept_unprocessed"] += 1
            continue
        if not dry_run and not evidence.keep(path, result["evidence"]):
            result["kept_unchecked"] += 1
            continue
        if not dry_run:
            path.unlink(missing_ok=True)
        result["deleted"] += 1
        result["bytes"] += stat.st_size
    return result


def _store_retention(cutoff: float, dry_run: bool, result: dict[str, Any]) -> dict[str, Any]:
    """Retention in the object store (``storage.backend: s3``): the objects listed under
    ``warc/`` older than ``cutoff`` (not the evidence copies), each fetched to its spool path for
    the evidence check, the evidence copies uploaded, then the object deleted."""
    from indexing.storage import download
    from warwatch.pipeline.common import capture_storage
    from warwatch.pipeline.evidence import EVIDENCE_DIR

    data_dir, storage = get_settings().data_dir, capture_storage()
    protected = referenced_warcs(batches.unprocessed())
    evidence = _Evidence()
    for obj in list(storage.list("warc/")):
        local = data_dir / obj.key
        if obj.key.startswith(f"warc/{EVIDENCE_DIR}/") or obj.modified.timestamp() >= cutoff:
            continue
        if local.resolve() in protected:
            result["kept_unprocessed"] += 1
            continue
        if not dry_run:
            fetched = not local.exists() and download(storage, obj.key, local)
            kept = evidence.keep(local, result["evidence"])
            for copy in (data_dir / "warc" / EVIDENCE_DIR).glob(local.name + "*"):
                storage.put_file(copy, copy.relative_to(data_dir).as_posix())
            if fetched:
                local.unlink(missing_ok=True)
            if not kept:
                result["kept_unchecked"] += 1
                continue
            storage.delete(obj.key)
        result["deleted"] += 1
        result["bytes"] += obj.size
    return result


class _Evidence:
    """The captures change records and removed articles point at, copied out of a WARC file
    before it goes (:mod:`warwatch.pipeline.evidence`); the engine is asked once it is needed."""

    def __init__(self) -> None:
        self.engine: Any = None
        self.failed: str | None = None

    def keep(self, path: Path, counts: dict[str, int]) -> bool:
        """True when ``path`` may be deleted: whatever it holds as evidence is copied."""
        from indexing.engine import EngineError, connect
        from indexing.index.setup import articles_alias, changes_index
        from warwatch.pipeline.evidence import keep_evidence

        if self.failed is not None:
            return False
        settings = get_settings()
        try:
            self.engine = self.engine or connect(settings)
            moved = keep_evidence(self.engine, path, settings.data_dir, changes=changes_index(settings.index_prefix),
                                  articles=articles_alias(settings.index_prefix))
        except (EngineError, OSError, RuntimeError) as exc:
            # Never delete what may be evidence unchecked: kept, and tried again next time.
            self.failed = str(exc)
            log.warning("raw captures kept: cannot keep their evidence (%s)", exc)
            return False
        for key, value in moved.items():
            counts[key] += value
        return True


def _recorded(rdir: Path) -> bool:
    """The batch's health figures are in ``{prefix}runs`` from its files as they are now (the
    figures read cleaned.jsonl: it must not go before they are recorded)."""
    from indexing.health.check import INPUT_FILES, RECORDED_MARKER

    try:
        stamp = (rdir / RECORDED_MARKER).stat().st_mtime
    except FileNotFoundError:
        return False
    for name in INPUT_FILES:
        with contextlib.suppress(FileNotFoundError):
            if (rdir / name).stat().st_mtime > stamp:
                return False
    return True


def _delete(paths: list[Path], dry_run: bool) -> tuple[int, int]:
    """(files, bytes) of ``paths`` that exist, deleted unless ``dry_run``."""
    files = size = 0
    for path in paths:
        try:
            size += path.stat().st_size
        except FileNotFoundError:
            continue
        files += 1
        if not dry_run:
            path.unlink(missing_ok=True)
    return files, size


def prune_batch_files(now: Callable[[], float] = time.time, dry_run: bool = False) -> dict[str, Any]:
    """Delete :data:`BATCH_FILES` and the merged report (``reports/<id>.json``, made again by
    ``pipeline.report``) of batches processed more than ``batch_files_retention_days`` ago whose
    health figures are recorded. A batch not processed (leased, crawling, failed, waiting) is never
    touched. Looks only at processed batches not pruned yet (``runs/.done`` minus ``runs/.pruned``)."""
    settings = get_settings()
    days = settings.pipeline.batch_files_retention_days
    out: dict[str, Any] = {"retention_days": days, "batches": 0, "files": 0, "bytes": 0, "kept_unrecorded": 0}
    if days is None:
        return out
    cutoff = now() - days * 86400
    runs = settings.runs_dir
    batches.unprocessed()  # gives batches processed before the .done markers theirs
    todo = set(batches.list_names(runs / batches.DONE_DIR)) - set(batches.list_names(runs / PRUNED_DIR))
    for bid in sorted(todo):
        rdir = runs / bid
        try:
            if (rdir / batches.PROCESSED_FILE).stat().st_mtime >= cutoff:
                continue
        except FileNotFoundError:
            continue  # a marker without processed.json (handed back for processing): not done
        if not _recorded(rdir):
            out["kept_unrecorded"] += 1
            continue
        files, size = _delete([rdir / n for n in BATCH_FILES] + [settings.reports_dir / f"{bid}.json"], dry_run)
        out["batches"] += 1
        out["files"] += files
        out["bytes"] += size
        if not dry_run:
            (runs / PRUNED_DIR).mkdir(exist_ok=True)
            (runs / PRUNED_DIR / bid).touch()
    out["stored"] = prune_stored_batch_files(cutoff, dry_run)
    return out


def prune_stored_batch_files(cutoff: float, dry_run: bool = False) -> dict[str, int]:
    """:data:`BATCH_FILES` in the object store (``storage.backend: s3``) of batches whose
    ``processed.json`` was put there before ``cutoff`` and whose health figures were recorded
    after their inputs (``runs-recorded.json``, newer than each of them), listed by prefix; the
    rest of each batch (manifest, reports) stays. Nothing to do with the local backend."""
    from collections import defaultdict

    from indexing.health.check import INPUT_FILES, RECORDED_MARKER
    from warwatch.pipeline.common import batch_files

    out = {"batches": 0, "files": 0, "bytes": 0, "kept_unrecorded": 0}
    files = batch_files()
    found: dict[str, dict[str, Any]] = defaultdict(dict)
    for obj in files.list_stored({*BATCH_FILES, *INPUT_FILES, batches.PROCESSED_FILE, RECORDED_MARKER}):
        found[obj.batch_id][obj.name] = obj.stored
    for bid, objs in sorted(found.items()):
        done, recorded = objs.get(batches.PROCESSED_FILE), objs.get(RECORDED_MARKER)
        old = [objs[n] for n in BATCH_FILES if n in objs]
        if done is None or done.modified.timestamp() >= cutoff or not old:
            continue
        if recorded is None or any(objs[n].modified > recorded.modified for n in INPUT_FILES if n in objs):
            out["kept_unrecorded"] += 1
            continue
        if not dry_run:
            files.delete(bid, *(n for n in BATCH_FILES if n in objs))
        out["batches"] += 1
        out["files"] += len(old)
        out["bytes"] += sum(o.size for o in old)
    return out


def prune_dead_letters(now: Callable[[], float] = time.time, dry_run: bool = False) -> dict[str, Any]:
    """Delete dead-letter files (``dead-letter/YYYY-MM-DD.jsonl``: documents the engine refused,
    with the reason) older than ``batch_files_retention_days``."""
    from indexing.index.bulk import dead_letter_dir

    days = get_settings().pipeline.batch_files_retention_days
    out: dict[str, Any] = {"retention_days": days, "files": 0, "bytes": 0}
    folder = dead_letter_dir(get_settings().data_dir)
    if days is None or not folder.is_dir():
        return out
    cutoff = now() - days * 86400
    old = []
    for path in sorted(folder.glob("*.jsonl")):
        with contextlib.suppress(FileNotFoundError):
            if path.stat().st_mtime < cutoff:
                old.append(path)
    out["files"], out["bytes"] = _delete(old, dry_run)
    return out


def prune_index_months(now: Callable[[], float] = time.time, dry_run: bool = False) -> dict[str, Any]:
    """With monthly articles indices: drop the months older than ``pipeline.index_retention_months``
    (whole indices) and their documents' stored versions. Nothing to do otherwise."""
    from indexing.engine import connect
    from indexing.index.partitions import PARTITION_MONTHLY, drop_old_months

    settings = get_settings()
    keep = settings.pipeline.index_retention_months
    if settings.pipeline.index_partition != PARTITION_MONTHLY or keep is None:
        return {"retention_months": keep, "dropped": []}
    engine = connect(settings)
    try:
        return drop_old_months(engine, settings.articles_alias, settings.index_name("article-versions"), keep,
                               now=datetime.fromtimestamp(now(), UTC), dry_run=dry_run)
    finally:
        engine.close()


def index_health() -> dict[str, Any]:
    """Cluster status, the articles alias and what it points to, document counts."""
    from indexing.engine import connect

    settings = get_settings()
    engine = connect(settings)
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
    settings = get_settings()
    recorded = health.record_pending_runs(settings=settings)
    report = health.check_health(settings=settings)
    return {"recorded": len(recorded), "alerts_pending_overdue": late, **report.as_dict()}
