"""Enrich and index a batch, as named steps:

1. :func:`enrich` -- ``cleaned.jsonl`` -> ``documents.jsonl``: publication date resolved, topics and
   entities added, search documents built, each assigned to its story (cross-outlet duplicates);
2. :func:`index` -- ``documents.jsonl`` into the pending queue, then the whole queue (documents an
   earlier run could not index first) flushed into the engine under the data directory's index
   lock, then a refresh so the batch is searchable at once.

Both are idempotent: document ids come from the canonical URL and story assignment is keyed by
document id, so re-running a step (a retry, a batch taken over after a kill) changes nothing that
was right.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from indexing.dates import clamp
from indexing.fileio import atomic_write_text, atomic_writer
from indexing.settings import get_settings
from warwatch.pipeline.batches import data_lock
from warwatch.pipeline.common import (
    IndexingError,
    ProgressCallback,
    StageCounts,
    batch_files,
    jsonl_lines,
    parse_dt,
    run_dir,
    write_json,
)

log = logging.getLogger(__name__)

#: How far past the fetch time a publication date may lie (time zones, clock skew) before it is wrong.


# --------------------------------------------------------------------------- enrich
def enrich(run_id: str, progress: ProgressCallback | None = None) -> StageCounts:
    """Turn the batch's cleaned articles into search documents with their story (documents.jsonl)."""
    from indexing.dedup import StoryIndex

    rdir = run_dir(run_id)
    files = batch_files()
    files.fetch(run_id, "cleaned.jsonl")
    result = StageCounts("enrich")
    started = time.monotonic()
    stories = StoryIndex.from_settings(get_settings())
    try:
        with atomic_writer(rdir / "documents.jsonl") as out:
            for doc in _documents(rdir / "cleaned.jsonl", stories, result, run_id):
                out.write(json.dumps(doc, ensure_ascii=False, default=str) + "\n")
                result.counts["documents"] += 1
        stories.save()
    finally:
        stories.close()
    result.seconds = time.monotonic() - started
    write_json(rdir / "enrich-report.json", result.as_dict())
    files.publish(run_id, "documents.jsonl", "enrich-report.json")
    return result


def _documents(cleaned: Path, stories: Any, result: StageCounts, run_id: str) -> Iterator[dict[str, Any]]:
    from indexing.enrich import enrich as enrich_article
    from indexing.index.documents import DocumentError, article_to_document

    ahead = _Ahead(result)
    for rec in jsonl_lines(cleaned):
        article, crawl_entry = rec["article"], rec["crawl"]
        article["published"] = resolve_published(article.get("published"), crawl_entry)
        fields = ahead.enrichment(rec.get("prepared"))
        try:
            doc = article_to_document(
                article,
                source=crawl_entry["source"],
                # CONTRACT: `url` is where it was fetched from (canonicalised); the id comes
                # from the canonical URL.
                url=crawl_entry.get("final_url") or crawl_entry["url"],
                fetched_at=crawl_entry.get("fetched_at"),
                enrichment={**article, **fields} if fields is not None else enrich_article(article),
            )
        except DocumentError as exc:
            log.warning("not indexed: %s", exc)
            result.counts["failed:no_usable_url"] += 1
            continue
        story = stories.assign(doc.get("_id") or doc["id"], article.get("body") or "",
                               parse_dt(article.get("published")), found=ahead.fingerprint(rec.get("prepared")))
        doc["story_id"] = story.story_id
        doc["duplicate_of"] = story.duplicate_of
        doc.update(_capture(crawl_entry, run_id))
        yield doc


class _Ahead:
    """The parts of a cleaned record's ``prepared`` (:mod:`indexing.enrich.prepared`: computed by
    the extraction worker) that carry the stamps this stage computes, counted as used."""

    def __init__(self, result: StageCounts) -> None:
        from indexing.enrich.prepared import enrichment_stamp, fingerprint_stamp

        self.result = result
        dedup = get_settings().dedup
        self.num_perm = dedup.minhash_permutations
        try:
            self.stamps: dict[str, str | None] = {"enrichment": enrichment_stamp(),
                                                  "fingerprint": fingerprint_stamp(dedup)}
        except OSError:  # a config file missing: enrichment meets it and reports it
            self.stamps = {"enrichment": None, "fingerprint": None}

    def _part(self, prepared: Any, part: str) -> dict[str, Any] | None:
        from indexing.enrich.prepared import usable

        stamp = self.stamps[part]
        return usable(prepared, part, stamp) if stamp is not None else None

    def enrichment(self, prepared: Any) -> dict[str, Any] | None:
        found = self._part(prepared, "enrichment")
        if found is None or not isinstance(found.get("fields"), dict):
            return None
        self.result.counts["enrichment_ahead"] += 1
        return dict(found["fields"])

    def fingerprint(self, prepared: Any) -> Any:
        from indexing.enrich.prepared import signature_of
        from indexing.fingerprint import Fingerprint

        found = self._part(prepared, "fingerprint")
        if found is None:
            return None
        try:
            signature = signature_of(found.get("signature"))
            if signature is not None and len(signature) != self.num_perm:
                raise ValueError("a signature of another length")
            ready = Fingerprint(str(found["body_hash"]), int(found["words"]), signature)
        except (KeyError, TypeError, ValueError) as exc:  # a damaged line: computed again, counted
            log.warning("a fingerprint computed ahead is unusable (%s): computed again", exc)
            self.result.counts["fingerprint_ahead_unusable"] += 1
            return None
        self.result.counts["fingerprint_ahead"] += 1
        return ready


def _capture(crawl_entry: dict[str, Any], run_id: str) -> dict[str, Any]:
    """Where the document's capture lies (change records point at it) and the batch it came in."""
    out: dict[str, Any] = {"run_id": run_id}
    if crawl_entry.get("warc_file"):
        out["warc_file"] = crawl_entry["warc_file"]
        if crawl_entry.get("warc_offset") is not None:
            out["warc_offset"] = int(crawl_entry["warc_offset"])
    return out


def resolve_published(extracted: Any, crawl_entry: dict[str, Any]) -> str | None:
    """The page's own publication date unless it is missing or implausible (in the future, see
    ``indexing.dates``); then the date the feed or news sitemap gave (``published_hint``)."""
    fetched = parse_dt(crawl_entry.get("fetched_at")) or datetime.now(UTC)
    for candidate in (extracted, crawl_entry.get("published_hint")):
        dt = parse_dt(candidate)
        if dt is None:
            continue
        plausible = clamp(dt, now=fetched)
        if plausible is not None:
            return plausible.isoformat()
        log.info("publication date %s of %s is implausible: ignored", dt, crawl_entry.get("url"))
    return None


# --------------------------------------------------------------------------- index
def index(run_id: str, progress: ProgressCallback | None = None) -> StageCounts:
    """Index the batch's documents (and everything an earlier run left pending)."""
    rdir = run_dir(run_id)
    files = batch_files()
    documents, _ = files.fetch(run_id, "documents.jsonl", "takedowns.jsonl")
    if not documents.exists() and files.fetch(run_id, "cleaned.jsonl")[0].exists():
        enrich(run_id, progress)  # the step before, for callers that go clean -> index
    result = StageCounts("index")
    started = time.monotonic()
    with data_lock("index"):
        pending = _queue_documents(run_id, rdir)
        engine = _engine(pending, result)
        indexed_ids: list[str] = []
        try:
            stats = _flush(engine, pending, indexed_ids, progress, result)
        finally:
            # What this run put into the index (documents left pending by an earlier run
            # included): the alerts stage looks at exactly these.
            atomic_write_text(rdir / "indexed-ids.txt", "".join(f"{i}\n" for i in dict.fromkeys(indexed_ids)))
        _takedowns(engine, run_id, rdir, result)
        # A finished batch is searchable at once (the next scheduled refresh could be a second away).
        settings = get_settings()
        engine.refresh(settings.articles_alias)
        engine.refresh(_changes_index())
        if engine.index_exists(settings.index_name("article-versions")):  # `warwatch history` reads it
            engine.refresh(settings.index_name("article-versions"))
    result.counts.update({k: v for k, v in stats.items() if isinstance(v, int)})
    result.seconds = time.monotonic() - started
    write_json(rdir / "index-report.json", result.as_dict())
    files.publish(run_id, "indexed-ids.txt", "index-report.json")
    return result


def _queue_documents(run_id: str, rdir: Path) -> Any:
    """Step 1: the batch's documents into the on-disk pending queue (replacing an earlier copy)."""
    from indexing.index.pending import PendingQueue

    pending = PendingQueue.from_settings(get_settings())
    pending.add(run_id, jsonl_lines(rdir / "documents.jsonl"))
    return pending


def _engine(pending: Any, result: StageCounts) -> Any:
    """Step 2: the engine, its templates and alias in place -- or a loud error, documents kept."""
    from indexing.engine import EngineUnavailable, connect
    from indexing.index.setup import setup_indices

    try:
        settings = get_settings()
        engine = connect(settings)
        setup_indices(engine, settings.index_prefix, partition=settings.pipeline.index_partition)
    except EngineUnavailable as exc:
        result.counts["pending"] = pending.count()
        raise IndexingError(
            f"search engine unavailable ({exc}); {pending.count()} documents kept pending in "
            f"{pending.path} and indexed by the next run"
        ) from exc
    return engine


def _flush(engine: Any, pending: Any, indexed_ids: list[str], progress: ProgressCallback | None,
           result: StageCounts) -> dict[str, Any]:
    """Step 3: the whole pending queue, oldest first, in bulk; edits found on the way are recorded
    in ``{prefix}changes`` (counted ``changes:<kind>``)."""
    from indexing.engine import EngineUnavailable
    from indexing.index.bulk import index_documents

    settings = get_settings()

    def recorded(records: list[dict[str, Any]]) -> None:
        for record in records:
            for kind in record["kinds"]:
                result.counts[f"changes:{kind}"] += 1

    def index_batch(batch: list[dict[str, Any]]) -> Any:
        counts = index_documents(engine, batch, settings=settings, progress=progress, on_changes=recorded)
        indexed_ids.extend(str(d["id"]) for d in batch)
        return counts

    try:
        stats: dict[str, Any] = pending.flush(index_batch)
    except EngineUnavailable as exc:  # the node went away mid-run: what is left stays pending
        raise IndexingError(f"{exc}; the rest stays pending in {pending.path} for the next run") from exc
    return stats


def _changes_index() -> str:
    from indexing.index.setup import changes_index

    return changes_index(get_settings().index_prefix)


def _takedowns(engine: Any, run_id: str, rdir: Path, result: StageCounts) -> None:
    """Step 4: the batch's confirmed takedowns (``takedowns.jsonl``, from the clean stage) as
    change records, their articles marked removed (still searchable)."""
    from indexing.changes.store import apply_takedowns
    from indexing.engine import EngineUnavailable
    from indexing.index.bulk import BulkWriter, dead_letter_dir

    path = rdir / "takedowns.jsonl"
    if not path.exists():
        return
    settings = get_settings()
    writer = BulkWriter(engine, max_retries=settings.bulk_max_retries, initial_backoff=settings.bulk_initial_backoff)
    try:
        counts, _ = apply_takedowns(writer, jsonl_lines(path), articles=settings.articles_alias,
                                    changes=_changes_index(), now=datetime.now(UTC), run_id=run_id,
                                    dead_letters=dead_letter_dir(settings.data_dir))
    except EngineUnavailable as exc:  # the batch's takedowns.jsonl stays: a rerun records them
        raise IndexingError(f"{exc}; the batch's takedowns are recorded when it runs again") from exc
    result.counts.update(counts)
