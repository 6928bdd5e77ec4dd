"""The ``{prefix}changes`` index: write change records (bulk, idempotent by id) and read them back.

Reads are bounded: one page of at most :data:`MAX_PAGE` records, newest first, with a
``search_after`` cursor for the next page; :func:`iter_changes` walks pages up to a limit.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from indexing.engine import Engine
from indexing.index.bulk import BulkStats, BulkWriter

log = logging.getLogger(__name__)

#: the most records one request returns
MAX_PAGE = 1000
#: newest first; the id breaks ties so paging never skips or repeats a record
SORT: list[dict[str, Any]] = [{"detected_at": {"order": "desc"}}, {"id": {"order": "desc"}}]


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
