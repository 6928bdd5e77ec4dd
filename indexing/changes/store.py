"""The ``{prefix}changes`` index: write change records (bulk, idempotent by id) and read them back.

Reads are bounded: one page of at most :data:`MAX_PAGE` records, newest first, with a
``search_after`` cursor for the next page; :func:`iter_changes` walks pages up to a limit.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from indexing.changes.records import TakedownEntryError, removed_document, takedown_record
from indexing.engine import Engine
from indexing.index.bulk import BulkStats, BulkWriter, write_dead_letters
from indexing.urls import canonicalize_url, doc_id

log = logging.getLogger(__name__)

#: the most records one request returns
MAX_PAGE = 1000


def write_records(writer: BulkWriter, index: str, records: Iterable[Mapping[str, Any]]) -> tuple[int, list[dict[str, Any]]]:
    """Index ``records`` under their ids (a rerun overwrites, never duplicates). Returns how many
    were sent and the dead-letter records of those the engine refused."""
    ops = [({"index": {"_index": index, "_id": str(r["id"])}}, dict(r)) for r in records]
    if not ops:
        return 0, []
    dead = writer.send(ops, BulkStats())
    return len(ops), dead


@dataclass(frozen=True)
class ChangeQuery:
    """What to list: every filter optional; ``size`` capped at :data:`MAX_PAGE`."""

    since: datetime | None = None
    until: datetime | None = None
    source: str | None = None
    kind: str | None = None
    doc_ids: tuple[str, ...] = ()
    run_id: str | None = None
    size: int = 100
    search_after: tuple[Any, ...] | None = None
    oldest_first: bool = False

    def body(self) -> dict[str, Any]:
        filters: list[dict[str, Any]] = []
        if self.since or self.until:
            bounds = {k: v.isoformat() for k, v in (("gte", self.since), ("lte", self.until)) if v is not None}
            filters.append({"range": {"detected_at": bounds}})
        for name, value in (("source", self.source), ("kinds", self.kind), ("run_id", self.run_id)):
            if value:
                filters.append({"term": {name: value}})
        if self.doc_ids:
            filters.append({"terms": {"doc_id": list(self.doc_ids)}})
        order = "asc" if self.oldest_first else "desc"
        body: dict[str, Any] = {
            "query": {"bool": {"filter": filters}},
            "sort": [{"detected_at": {"order": order}}, {"id": {"order": order}}],
            "size": max(0, min(int(self.size), MAX_PAGE)),
            "track_total_hits": True,
        }
        if self.search_after is not None:
            body["search_after"] = list(self.search_after)
        return body


@dataclass
class ChangePage:
    records: list[dict[str, Any]] = field(default_factory=list)
    total: int = 0
    #: pass as ``search_after`` for the next page (None: this was the last)
    next: tuple[Any, ...] | None = None


def find_changes(engine: Engine, index: str, query: ChangeQuery) -> ChangePage:
    """One page of change records (an index that does not exist yet has none)."""
    if not engine.index_exists(index):
        return ChangePage()
    resp = engine.search(index, query.body())
    hits = resp.get("hits", {}).get("hits", [])
    total = resp.get("hits", {}).get("total", 0)
    page = ChangePage([h["_source"] for h in hits], int(total.get("value", 0) if isinstance(total, Mapping) else total))
    if hits and len(hits) == query.body()["size"]:
        page.next = tuple(hits[-1].get("sort") or ())
    return page


def iter_changes(engine: Engine, index: str, query: ChangeQuery, *, limit: int) -> Iterator[dict[str, Any]]:
    """Records of ``query`` across pages, at most ``limit`` of them."""
    left = limit
    cursor = query.search_after
    while left > 0:
        q = ChangeQuery(**{**query.__dict__, "size": min(MAX_PAGE, left), "search_after": cursor})
        page = find_changes(engine, index, q)
        yield from page.records
        left -= len(page.records)
        if page.next is None or not page.records:
            return
        cursor = page.next


def article_changes(engine: Engine, index: str, doc_ids: Iterable[str], *, limit: int = MAX_PAGE) -> list[dict[str, Any]]:
    """The change records of one article (its ids: the document id and aliases), oldest first."""
    ids = tuple(dict.fromkeys(doc_ids))
    if not ids:
        return []
    return list(iter_changes(engine, index, ChangeQuery(doc_ids=ids, oldest_first=True), limit=limit))


# --------------------------------------------------------------------------- takedowns
#: takedown entries looked up in one request
TAKEDOWN_CHUNK = 500


def takedown_doc_id(entry: Mapping[str, Any]) -> str | None:
    """The document id of a takedown entry's article (its ``url`` is the stored key URL)."""
    url = entry.get("url")
    if not isinstance(url, str) or not url:
        return None
    try:
        return doc_id(canonicalize_url(url))
    except ValueError:
        return None


def apply_takedowns(writer: BulkWriter, entries: Iterable[Mapping[str, Any]], *, articles: str, changes: str,
                    now: datetime, run_id: str | None,
                    dead_letters: Path) -> tuple[Counter[str], list[dict[str, Any]]]:
    """Record each confirmed takedown in ``changes`` and mark its article removed in ``articles``
    (the article stays searchable). Idempotent: the record id comes from the article, the kind and
    the first sighting; an article already marked with this kind is not written again. Returns the
    counts (``takedowns:recorded``, ``takedowns:<kind>``, ``takedowns:bad_entry``,
    ``takedowns:unknown_article``, ``takedowns:failed``) and the records written; refused writes go
    to the dead-letter directory ``dead_letters``."""
    counts: Counter[str] = Counter()
    written: list[dict[str, Any]] = []
    chunk: list[Mapping[str, Any]] = []
    for entry in entries:
        chunk.append(entry)
        if len(chunk) >= TAKEDOWN_CHUNK:
            written.extend(_takedown_chunk(writer, chunk, (articles, changes, dead_letters), now, run_id, counts))
            chunk = []
    if chunk:
        written.extend(_takedown_chunk(writer, chunk, (articles, changes, dead_letters), now, run_id, counts))
    return counts, written


def _takedown_chunk(writer: BulkWriter, chunk: list[Mapping[str, Any]], where: tuple[str, str, Path],
                    now: datetime, run_id: str | None, counts: Counter[str]) -> list[dict[str, Any]]:
    articles, changes, dead_letters = where
    ids = {i: takedown_doc_id(e) for i, e in enumerate(chunk)}
    stored = writer.retrying("fetching removed articles",
                             lambda: writer.engine.mget(articles, [d for d in ids.values() if d]))
    records: list[dict[str, Any]] = []
    ops: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for i, entry in enumerate(chunk):
        did = ids[i]
        try:
            if did is None:
                raise TakedownEntryError(f"takedown entry without a usable url: {entry.get('url')!r}")
            record = takedown_record(entry, stored.get(did), doc_id=did, now=now, run_id=run_id)
        except TakedownEntryError as exc:
            log.warning("takedown not recorded: %s", exc)
            counts["takedowns:bad_entry"] += 1
            continue
        records.append(record)
        ops.append(({"index": {"_index": changes, "_id": record["id"]}}, record))
        if did not in stored:
            counts["takedowns:unknown_article"] += 1
            continue
        marked = removed_document(stored[did], record)
        if marked is not None:
            stored[did] = marked  # a second entry for the article in this chunk sees the mark
            ops.append(({"index": {"_index": articles, "_id": did}}, marked))
    dead = writer.send(ops, BulkStats()) if ops else []
    write_dead_letters(dead, dead_letters)
    refused = {d.get("id") for d in dead}
    out = [r for r in records if r["id"] not in refused and r["doc_id"] not in refused]
    counts["takedowns:failed"] += len(records) - len(out)
    counts["takedowns:recorded"] += len(out)
    for r in out:
        counts[f"takedowns:{r['kinds'][0]}"] += 1
    return out


# --------------------------------------------------------------------------- looking an article up
_DOC_ID = re.compile(r"[0-9a-f]{32}")


def find_article_id(engine: Engine, articles: str, versions: str, key: str) -> str | None:
    """The document id of an article named by its URL (canonicalised; the fetched URL or the
    canonical one), or its document id. None when neither the index nor its versions know it."""
    key = key.strip()
    candidates: list[str] = []
    if _DOC_ID.fullmatch(key):
        candidates.append(key)
    urls: list[str] = []
    if key.startswith(("http://", "https://")):
        urls.append(key)
        try:
            urls.append(canonicalize_url(key))
            candidates.append(doc_id(urls[-1]))
        except ValueError:
            pass
    for cand in candidates:
        if engine.get(articles, cand) is not None:
            return cand
    if not urls:
        return None
    query = {"query": {"bool": {"should": [{"terms": {"url": urls}}, {"terms": {"canonical_url": urls}}]}},
             "size": 1, "_source": ["id", "doc_id"]}
    for index in (articles, versions):
        if not engine.index_exists(index):
            continue
        hits = engine.search(index, query).get("hits", {}).get("hits", [])
        if hits:
            src = hits[0].get("_source") or {}
            return str(src.get("doc_id") or src.get("id") or hits[0]["_id"])
    return candidates[-1] if candidates and engine.index_exists(versions) and engine.count(
        versions, {"query": {"term": {"doc_id": candidates[-1]}}}) else None
