"""Chunked bulk indexing that loses nothing.

* Documents come from any iterable and go out in chunks of ``bulk_chunk_size``.
* A chunk whose request fails as a whole (connection refused, timeout, 429, 5xx) is retried
  with exponential backoff; after ``bulk_max_retries`` :class:`EngineUnavailable` is raised and
  the caller keeps the documents pending (pending.py).
* Items the engine answers with 429/5xx are retried the same way; items it rejects (mapping
  errors, ...) go to ``data_dir/dead-letter/YYYY-MM-DD.jsonl`` with the reason and are counted.
* ``_id`` is the document's ``id`` (``indexing.urls.doc_id(canonical_url)``), so re-runs overwrite.
  Before writing, the current documents of the chunk are fetched: unchanged ones are skipped,
  changed ones have their previous content stored as a version (versions.py).
"""

from __future__ import annotations

import functools
import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from indexing.engine import RETRYABLE_STATUSES, Engine, EngineError, EngineUnavailable
from indexing.fileio import append_lines_durable
from indexing.index import versions
from indexing.index.setup import articles_alias, changes_index, versions_index
from indexing.retry import backoff_delay, retry_call
from indexing.settings import Settings

log = logging.getLogger(__name__)

ProgressCallback = Callable[[str, int, int | None], None]
MAX_BACKOFF = 60.0
T = TypeVar("T")


@dataclass
class BulkStats:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    retried: int = 0
    versions: int = 0
    #: change records written to {prefix}changes (indexing/changes/records.py)
    changes: int = 0
    #: records the engine refused (dead-lettered like documents)
    changes_failed: int = 0
    #: content differed, but only furniture: updated without a version or a record
    furniture: int = 0
    #: removed articles seen again as articles
    restored: int = 0
    #: documents from a capture older than the stored one (an earlier batch run again): not written
    stale: int = 0

    @property
    def indexed(self) -> int:
        return self.created + self.updated

    def add(self, other: BulkStats) -> None:
        for k, v in asdict(other).items():
            setattr(self, k, getattr(self, k) + v)

    def as_dict(self) -> dict[str, int]:
        return {**asdict(self), "indexed": self.indexed}


def dead_letter_dir(data_dir: Path) -> Path:
    return data_dir / "dead-letter"


def write_dead_letters(records: list[dict[str, Any]], directory: Path) -> Path | None:
    """Append rejected documents with their reasons to today's dead-letter file in ``directory``."""
    if not records:
        return None
    path = directory / f"{datetime.now(UTC):%Y-%m-%d}.jsonl"
    # Durable before the caller moves on (a pending offset past these documents, say).
    append_lines_durable(path, (json.dumps(rec, ensure_ascii=False, default=str) for rec in records))
    log.warning("%d documents rejected by the search engine, written to %s", len(records), path)
    return path


def _dead(doc: Any, reason: str, *, status: int | None = None, index: str | None = None) -> dict[str, Any]:
    return {
        "at": datetime.now(UTC).isoformat(),
        "id": doc.get("id") if isinstance(doc, Mapping) else None,
        "index": index,
        "status": status,
        "reason": reason,
        "document": doc,
    }


def _chunks(docs: Iterable[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for doc in docs:
        chunk.append(doc)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _ndjson(ops: list[tuple[dict[str, Any], dict[str, Any]]]) -> str:
    dumps = json.dumps
    return "".join(f"{dumps(a)}\n{dumps(s, ensure_ascii=False, default=str)}\n" for a, s in ops)


def _error_reason(error: Any) -> str:
    if isinstance(error, Mapping):
        reason = f"{error.get('type')}: {error.get('reason')}"
        cause = error.get("caused_by")
        if isinstance(cause, Mapping):
            reason += f" (caused by {cause.get('type')}: {cause.get('reason')})"
        return reason
    return str(error)


class BulkWriter:
    """Sends index operations with retries; collects item failures for the dead-letter file."""

    def __init__(self, engine: Engine, *, max_retries: int, initial_backoff: float,
                 refresh: bool = False, sleep: Callable[[float], None] = time.sleep) -> None:
        self.engine = engine
        self.max_retries = max_retries
        self.initial_backoff = initial_backoff
        self.refresh = refresh
        self.sleep = sleep

    def _backoff(self, attempt: int) -> float:
        return backoff_delay(attempt, self.initial_backoff, MAX_BACKOFF)

    def retrying(self, what: str, fn: Callable[[], T]) -> T:
        """``fn()`` with the same retries and backoff as the bulk requests."""
        def retryable(exc: Exception) -> bool:
            return isinstance(exc, EngineError) and exc.retryable

        def on_retry(exc: Exception, attempt: int, delay: float) -> None:
            log.warning("%s failed (%s); retry %d/%d in %.1fs", what, exc, attempt, self.max_retries, delay)

        def give_up(exc: Exception, attempts: int) -> Exception | None:
            if not retryable(exc):
                return None
            return EngineUnavailable(f"{what} failed after {attempts} attempts: {exc}",
                                     status=getattr(exc, "status", None))

        return retry_call(fn, attempts=self.max_retries + 1, initial=self.initial_backoff, cap=MAX_BACKOFF,
                          retryable=retryable, sleep=self.sleep, on_retry=on_retry, on_give_up=give_up)[0]

    def send(self, ops: list[tuple[dict[str, Any], dict[str, Any]]], stats: BulkStats) -> list[dict[str, Any]]:
        """Write ``ops`` (action, source pairs); return the dead-letter records of rejected items."""
        dead: list[dict[str, Any]] = []
        attempt = 0
        while ops:
            try:
                resp = self.engine.bulk(_ndjson(ops), refresh="wait_for" if self.refresh else None)
            except EngineError as exc:
                if not exc.retryable:
                    # The whole request was refused (e.g. 400 on malformed NDJSON): every item is
                    # dead-lettered rather than retried forever.
                    dead.extend(_dead(s, str(exc), status=exc.status, index=a["index"]["_index"]) for a, s in ops)
                    return dead
                if attempt >= self.max_retries:
                    raise EngineUnavailable(f"bulk failed after {attempt + 1} attempts: {exc}",
                                            status=exc.status) from exc
                delay = self._backoff(attempt)
                log.warning("bulk of %d operations failed (%s); retry %d/%d in %.1fs",
                            len(ops), exc, attempt + 1, self.max_retries, delay)
                stats.retried += len(ops)
                attempt += 1
                self.sleep(delay)
                continue
            if not resp.get("errors"):
                return dead
            retry: list[tuple[dict[str, Any], dict[str, Any]]] = []
            for (action, source), item in zip(ops, resp.get("items", []), strict=False):
                result = next(iter(item.values()))
                status = int(result.get("status", 0))
                if status < 300:
                    continue
                if status in RETRYABLE_STATUSES or status >= 500:
                    retry.append((action, source))
                else:
                    dead.append(_dead(source, _error_reason(result.get("error")), status=status,
                                      index=action["index"]["_index"]))
            if not retry:
                return dead
            if attempt >= self.max_retries:
                raise EngineUnavailable(f"{len(retry)} bulk items still refused after {attempt + 1} attempts",
                                        status=429)
            delay = self._backoff(attempt)
            log.warning("%d bulk items refused as busy; retry %d/%d in %.1fs",
                        len(retry), attempt + 1, self.max_retries, delay)
            stats.retried += len(retry)
            attempt += 1
            self.sleep(delay)
            ops = retry
        return dead


def _split_valid(chunk: list[Any]) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """The chunk's documents by id (a later copy of the same id wins) and dead letters for the
    ones without an id."""
    dead: list[dict[str, Any]] = []
    valid: dict[str, dict[str, Any]] = {}
    for doc in chunk:
        if not isinstance(doc, Mapping) or not doc.get("id"):
            dead.append(_dead(doc, "document without an id"))
            continue
        valid[str(doc["id"])] = dict(doc)
    return valid, dead


def _operations(plan: versions.Plan, index: str, vindex: str, stamp: str,
                cindex: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Bulk operations for a plan: the previous versions and the change records first, then the
    documents (a document is never ahead of the record of how it changed)."""
    ops: list[tuple[dict[str, Any], dict[str, Any]]] = [
        ({"index": {"_index": vindex, "_id": vid}}, record) for vid, record in plan.versions
    ]
    ops.extend(({"index": {"_index": cindex, "_id": rec["id"]}}, rec) for rec in plan.changes)
    for doc in plan.documents:
        doc["indexed_at"] = stamp
        ops.append(({"index": {"_index": index, "_id": doc["id"]}}, doc))
    return ops


def _count(stats: BulkStats, plan: versions.Plan, existing: Mapping[str, Any], dead: list[dict[str, Any]],
           index: str, vindex: str, cindex: str) -> list[dict[str, Any]]:
    """Add a written chunk to ``stats``: a rejected article is not created/updated after all,
    nor is its previous version stored. Returns the change records written."""
    rejected = {d["id"] for d in dead if d.get("index") == index}
    stats.created += plan.created - sum(1 for d in plan.documents if d["id"] in rejected and d["id"] not in existing)
    stats.updated += plan.updated - sum(1 for d in plan.documents if d["id"] in rejected and d["id"] in existing)
    stats.unchanged += plan.unchanged
    stats.furniture += plan.furniture
    stats.restored += plan.restored
    stats.stale += plan.stale
    stats.versions += sum(1 for _, rec in plan.versions if rec["doc_id"] not in rejected)
    stats.failed += sum(1 for d in dead if d.get("index") not in (vindex, cindex))
    refused = {d["id"] for d in dead if d.get("index") == cindex}
    stats.changes_failed += len(refused)
    written = [r for r in plan.changes if r["id"] not in refused]
    stats.changes += len(written)
    return written


@dataclass
class _ChunkIndexer:
    """Writes one chunk at a time: validate, fetch the current documents, plan versions, send."""

    engine: Engine
    writer: BulkWriter
    index: str
    vindex: str
    track_versions: bool
    dead_letters: Path
    cindex: str = ""
    on_changes: Callable[[list[dict[str, Any]]], None] | None = None

    def __call__(self, chunk: list[Any], stats: BulkStats) -> None:
        valid, dead = _split_valid(chunk)
        now = datetime.now(UTC)
        existing: dict[str, dict[str, Any]] = {}
        if self.track_versions and valid:
            existing = self.writer.retrying("fetching current documents",
                                            functools.partial(self.engine.mget, self.index, list(valid)))
        plan = versions.plan(existing, list(valid.values()), now=now)
        ops = _operations(plan, self.index, self.vindex, now.isoformat(), self.cindex)
        if ops:
            dead.extend(self.writer.send(ops, stats))
        written = _count(stats, plan, existing, dead, self.index, self.vindex, self.cindex)
        write_dead_letters(dead, self.dead_letters)
        if written and self.on_changes is not None:
            self.on_changes(written)


def index_documents(
    engine: Engine,
    docs: Iterable[Mapping[str, Any]],
    *,
    settings: Settings,
    index: str | None = None,
    chunk_size: int | None = None,
    max_retries: int | None = None,
    initial_backoff: float | None = None,
    track_versions: bool = True,
    refresh: bool = False,
    progress: ProgressCallback | None = None,
    total: int | None = None,
    on_changes: Callable[[list[dict[str, Any]]], None] | None = None,
) -> dict[str, int]:
    """Index ``docs`` (dicts from ``article_to_document``) through the articles alias.

    ``settings`` gives the index prefix, the dead-letter directory (under ``data_dir``) and the
    bulk defaults (``bulk_chunk_size``, ``bulk_max_retries``, ``bulk_initial_backoff``).

    Returns counts: ``created``, ``updated``, ``unchanged``, ``failed`` (dead-lettered),
    ``retried`` (items sent again), ``versions`` (previous versions stored), ``indexed``,
    ``changes`` (change records written to ``{prefix}changes``; ``on_changes`` gets them),
    ``furniture`` (content differed by furniture only), ``restored``.
    Raises :class:`EngineUnavailable` when the engine stays unreachable; documents of chunks
    already sent are in the index, the rest are not (the caller keeps them pending).
    """
    index = index or articles_alias(settings.index_prefix)
    writer = BulkWriter(
        engine,
        max_retries=settings.bulk_max_retries if max_retries is None else max_retries,
        initial_backoff=settings.bulk_initial_backoff if initial_backoff is None else initial_backoff,
        refresh=refresh,
    )
    write_chunk = _ChunkIndexer(engine, writer, index, versions_index(settings.index_prefix), track_versions,
                               dead_letter_dir(settings.data_dir), changes_index(settings.index_prefix), on_changes)
    if total is None and isinstance(docs, (list, tuple)):
        total = len(docs)
    stats = BulkStats()
    done = 0
    for chunk in _chunks(docs, chunk_size or settings.bulk_chunk_size):
        write_chunk(chunk, stats)
        done += len(chunk)
        if progress:
            progress("index", done, total)
    log.info("bulk indexing into %s: %s", index, stats.as_dict())
    return stats.as_dict()
