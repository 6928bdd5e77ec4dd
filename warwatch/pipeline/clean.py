"""The clean stage: the article of every archived response of a batch, into ``cleaned.jsonl``.

Responses that are not articles are counted by reason, never silently dropped; a page whose
extraction takes too long is stopped (:mod:`warwatch.pipeline.extractor`), counted and listed.
Confirmed takedowns (manifest entries with a ``takedown`` key, written by the crawler's revisits)
are not extracted: they go to ``takedowns.jsonl`` for the index stage, which records them and
marks the article removed.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Iterator
from concurrent.futures import Future
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from indexing.batchfiles import BatchFiles
from indexing.fileio import atomic_writer
from indexing.settings import get_settings
from indexing.storage import Storage
from warwatch.pipeline.common import (
    BatchNotReady,
    ProgressCallback,
    StageCounts,
    batch_files,
    capture_storage,
    run_dir,
    write_json,
)
from warwatch.pipeline.extractor import (
    BoundedExtractor,
    ExtractionCrashed,
    ExtractionTimeout,
    ExtractorPool,
)

log = logging.getLogger(__name__)

HTML_TYPES = ("text/html", "application/xhtml+xml")
#: what the bounded worker runs (``module:function``; tests put a page that hangs in front of it):
#: the article, and what the enrich stage would compute of it alone (:mod:`indexing.enrich.prepared`)
EXTRACTOR = "warwatch.pipeline.clean:extract_prepared"
#: pages stopped by the time bound listed in the clean report (all are counted)
MAX_LISTED = 1000
#: a worker more only per this many pages of a batch: starting one costs ~1.3 CPU seconds
#: (interpreter, imports, warm-up), ~40 pages' extraction (benchmarks/README.md, clean_pool.py)
PAGES_PER_WORKER = 100
#: an extraction worker started ahead (``warwatch run`` starts one while it crawls): the next pool takes it
_ADOPT: ContextVar[BoundedExtractor | None] = ContextVar("adopt_extractor", default=None)
#: pages extracted ahead (while the crawl ran), by capture: the stage takes their outcomes as they are
_AHEAD: ContextVar[dict[tuple[str, int], Future[Any]] | None] = ContextVar("extracted_ahead", default=None)


@contextlib.contextmanager
def adopting(extractor: BoundedExtractor | None,
             ahead: dict[tuple[str, int], Future[Any]] | None = None) -> Iterator[None]:
    """Within this, the clean stage's pool takes ``extractor`` (started ahead) as one of its workers
    instead of starting a fresh one (an extractor it does not take is stopped on the way out), and
    the outcome of a page in ``ahead`` (:func:`capture_key` -> the finished future of the same
    bounded extraction, done earlier) instead of extracting it again."""
    token, ahead_token = _ADOPT.set(extractor), _AHEAD.set(ahead)
    try:
        yield
    finally:
        left = _ADOPT.get()
        _ADOPT.reset(token)
        _AHEAD.reset(ahead_token)
        if left is not None:
            left.close()


def capture_key(entry: dict[str, Any]) -> tuple[str, int] | None:
    """Which archived capture a manifest entry points at (None when it has none)."""
    try:
        return str(entry["warc_file"]), int(entry["warc_offset"])
    except (KeyError, TypeError, ValueError):
        return None


def clean(run_id: str, progress: ProgressCallback | None = None) -> StageCounts:
    """Extract the article of every archived response of the batch into cleaned.jsonl. A page
    whose extraction passes ``pipeline.clean_page_timeout_seconds`` is counted
    ``extraction_timeout`` and listed in the report (its capture stays in the archive for a
    reprocess); the batch goes on."""
    from indexing.archive import iter_manifest

    rdir = run_dir(run_id)
    files = batch_files()
    manifest = _manifest(files, run_id)
    result = StageCounts("clean")
    started = time.monotonic()
    entries = list(iter_manifest(manifest)) if manifest.exists() else []
    stopped: list[dict[str, Any]] = []  # pages the time bound stopped, for a reprocess
    takedowns = [e for e in entries if e.get("takedown")]
    entries = [e for e in entries if not e.get("takedown")]
    _write_takedowns(rdir, takedowns, result)
    with _extractor(len(entries)) as pool, atomic_writer(rdir / "cleaned.jsonl") as out:
        storage = capture_storage()  # one lookup per batch, not per record
        ahead = _AHEAD.get() or {}

        def job(entry: dict[str, Any]) -> Any:
            key = capture_key(entry)
            if key in ahead:  # only pages the stage would extract are extracted ahead
                result.counts["extracted_ahead"] += 1  # while the crawl ran (warwatch/pipeline/warm.py)
                return ahead.pop(key)
            return read_job(entry, result, storage)

        jobs = (job(entry) for entry in entries)
        for i, (entry, outcome) in enumerate(zip(entries, pool.imap(jobs), strict=True), 1):
            if progress:
                progress("clean", i, len(entries))
            result.counts["responses"] += 1
            article, prepared = _article(entry, outcome, result, stopped)
            if article is None:
                continue
            if article.status != "ok":
                if article.status_reason == "paywall" and article.body:
                    # Kept, but marked (access: paywall_teaser): never passed off as the article.
                    result.counts["paywall_teasers"] += 1
                else:
                    result.counts[f"not_article:{article.status_reason or 'unknown'}"] += 1
                    continue
            rec = {"article": article.to_dict(), "crawl": entry, **({"prepared": prepared} if prepared else {})}
            out.write(json.dumps(rec, ensure_ascii=False) + "\n")
            result.counts["articles"] += 1
    result.seconds = time.monotonic() - started
    write_json(rdir / "clean-report.json", {**result.as_dict(), "extraction_timeouts": stopped[:MAX_LISTED]})
    # the manifest too: a crawl killed before it published its output is processed from here
    files.publish(run_id, "manifest.jsonl", "takedowns.jsonl", "cleaned.jsonl", "clean-report.json")
    return result


def _manifest(files: BatchFiles, run_id: str) -> Path:
    """The batch's manifest, fetched from the object store where the batch files are there. No
    manifest is an empty batch only once its crawl said it finished (``batch.json``, published
    last); before that (the crawl still running, or killed or cut off from the store on its host,
    which publishes its files with its next crawl) the batch is :class:`BatchNotReady`."""
    from indexing.fileio import read_json

    manifest, meta_path = files.fetch(run_id, "manifest.jsonl", "batch.json")
    if files.remote and not manifest.exists():
        meta = read_json(meta_path)
        if not meta.get("finished"):
            raise BatchNotReady(f"batch {run_id}: the crawl on {meta.get('host') or 'its host'} has not put its "
                                "files into the object store yet: left for a later run")
    return manifest


def _write_takedowns(rdir: Any, takedowns: list[dict[str, Any]], result: StageCounts) -> None:
    """The batch's confirmed takedowns, for the index stage (written even when empty, so a rerun
    of a batch whose takedowns went away leaves none behind)."""
    with atomic_writer(rdir / "takedowns.jsonl") as out:
        for entry in takedowns:
            out.write(json.dumps(entry, ensure_ascii=False) + "\n")
            result.counts[f"takedowns:{entry['takedown']}"] += 1


class _InProcess:
    """Extraction in the stage's own process, page after page (``clean_page_timeout_seconds: None``),
    by the workers' function (the same cleaned lines)."""

    def imap(self, jobs: Iterator[tuple[bytes, str | None] | Future[Any] | None]) -> Iterator[Future[Any] | None]:
        for job in jobs:
            if job is None or isinstance(job, Future):
                yield job
                continue
            future: Future[Any] = Future()
            try:
                future.set_result(extract_prepared(job[0], url=job[1]))
            except Exception as exc:  # re-raised by _article, as the worker's would be
                future.set_exception(exc)
            yield future


def extract_prepared(html: str | bytes, url: str | None = None) -> tuple[Any, dict[str, Any] | None]:
    """The extraction workers' function: the page's article, and what the enrich stage would
    compute of it alone, with the settings' dedup parameters (:mod:`indexing.enrich.prepared`)."""
    from indexing.enrich.prepared import prepare_article
    from indexing.extraction import extract

    article = extract(html, url=url)
    return article, prepare_article(article, get_settings().dedup)


def _extractor(pages: int | None = None) -> Any:
    """The extraction pool: bounded per page (worker processes, ``pipeline.clean_workers`` of
    them, one per usable core by default, but one per ``PAGES_PER_WORKER`` pages of the batch at
    most), or in this process when the timeout setting is None."""
    from indexing.embeddings.parallel import usable_cores

    pipeline = get_settings().pipeline
    if pipeline.clean_page_timeout_seconds is None:
        return contextlib.nullcontext(_InProcess())
    workers = pipeline.clean_workers or usable_cores()
    if pages is not None:
        workers = max(1, min(workers, pages // PAGES_PER_WORKER))
    adopt = _ADOPT.get()
    _ADOPT.set(None)  # taken: the pool stops it with its own workers
    return ExtractorPool(workers, pipeline.clean_page_timeout_seconds, EXTRACTOR, adopt=adopt)


def read_job(entry: dict[str, Any], result: StageCounts, storage: Storage) -> tuple[bytes, str | None] | None:
    """What to extract of one manifest entry (its body and URL), or None when there is nothing
    (skipped or unreadable: counted by reason). Read in the stage's process, handed to a worker."""
    from indexing.archive import read_record

    reason = _skip_reason(entry)
    if reason:
        result.counts[f"skipped:{reason}"] += 1
        return None
    try:
        # a page rendered in a browser: its DOM, the conversion record beside the capture
        offset = entry.get("rendered_offset", entry["warc_offset"])
        record = read_record(entry["warc_file"], int(offset), storage=storage)
    except Exception as exc:  # a damaged archive must not stop the run: count it
        log.warning("cannot read WARC record for %s: %s", entry.get("url"), exc)
        result.counts["failed:warc_unreadable"] += 1
        return None
    return record.body, entry.get("final_url") or entry.get("url")


def _article(entry: dict[str, Any], outcome: Future[Any] | None, result: StageCounts,
             stopped: list[dict[str, Any]]) -> tuple[Any, dict[str, Any] | None]:
    """The extracted article of one manifest entry and what was prepared of it (None, None: no
    article, counted by reason). An extractor returns the article, or the article and what it
    prepared (:func:`extract_prepared`)."""
    if outcome is None:
        return None, None
    url = entry.get("final_url") or entry.get("url")
    try:
        found = outcome.result()
        return found if isinstance(found, tuple) else (found, None)
    except (ExtractionTimeout, ExtractionCrashed) as exc:
        kind = "extraction_timeout" if isinstance(exc, ExtractionTimeout) else "failed:extraction_crashed"
        log.warning("%s: %s (%s); kept in the archive for a reprocess", url, exc, kind)
        result.counts[kind] += 1
        stopped.append({"url": url, "reason": kind, "warc_file": entry["warc_file"],
                        "warc_offset": entry["warc_offset"]})
        return None, None


def _skip_reason(entry: dict[str, Any]) -> str | None:
    if entry.get("revisit") and entry.get("change") == "unchanged":
        return "unchanged_revisit"  # a WARC revisit record (304 or the same bytes): nothing new
    status = entry.get("status")
    if status is not None and not (200 <= int(status) < 300):
        return f"http_{status}"
    ctype = (entry.get("content_type") or "").split(";")[0].strip().lower()
    if ctype and ctype not in HTML_TYPES:
        return "not_html"
    if not entry.get("warc_file"):
        return "not_archived"
    return None
