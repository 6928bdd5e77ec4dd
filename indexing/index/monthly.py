"""``warwatch es migrate`` into month indices (partitions.py): every document behind the alias is
copied into ``{alias}-v{N}-{YYYY.MM}`` of its first-seen month, what was written meanwhile is
copied again, and the alias moves from the old indices to the month indices in one atomic call.

The copy is client-side (pages sorted by ``id`` with ``search_after``, bulk by explicit index):
the month comes from the same rule the bulk path uses, and it needs neither the reindex module
nor scripting (the Elasticsearch integ-test-zip has neither). Idempotent: documents keep their
``_id``, an alias already on month indices of the version is left as it is.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from indexing.embeddings.vectors import carry_vector_fields, search_with_vectors
from indexing.engine import Engine, EngineError
from indexing.index import partitions, templates

log = logging.getLogger(__name__)

PAGE = 500
#: the copy stops after this many pages (10 million documents at PAGE=500): a bound on the loop
MAX_PAGES = 20_000


class MonthlyMigrationError(EngineError):
    """The copy into month indices failed; the alias was not moved."""


def _copy_page(engine: Engine, alias: str, version: int, hits: list[dict[str, Any]],
               months: dict[str, str], sources: str) -> None:
    ops: list[dict[str, Any]] = []
    for hit in hits:
        doc = dict(hit.get("_source") or {})
        doc["first_seen"] = partitions.first_seen(doc, None)
        month = partitions.month_of(doc["first_seen"])
        if month not in months:
            months[month] = partitions.ensure_month(engine, alias, version, month, join=False)
            carry_vector_fields(engine, sources, months[month], templates.VECTOR_FIELDS)
        ops += [{"index": {"_index": months[month], "_id": hit["_id"]}}, doc]
    resp = engine.bulk(ops)
    if resp.get("errors"):
        bad = [next(iter(i.values())) for i in resp.get("items", []) if next(iter(i.values())).get("status", 0) >= 300]
        if bad:
            raise MonthlyMigrationError(f"copy into month indices failed for {len(bad)} documents "
                                        f"(first: {bad[0].get('error')}); alias not moved")


def copy_into_months(engine: Engine, sources: list[str], alias: str, version: int,
                     query: dict[str, Any] | None = None, months: dict[str, str] | None = None) -> dict[str, str]:
    """Copy the documents of ``sources`` (matching ``query``) into the month indices; returns
    ``{month: index}`` of the month indices written."""
    months = {} if months is None else months
    body: dict[str, Any] = {"query": query or {"match_all": {}}, "size": PAGE, "sort": [{"id": "asc"}],
                            "track_total_hits": False}
    after: list[Any] | None = None
    for _ in range(MAX_PAGES):
        page = {**body, **({"search_after": after} if after else {})}
        hits = search_with_vectors(engine, ",".join(sources), page, ["*"])["hits"]["hits"]
        if not hits:
            return months
        _copy_page(engine, alias, version, hits, months, ",".join(sources))
        after = hits[-1]["sort"]
    raise MonthlyMigrationError(f"more than {MAX_PAGES * PAGE} documents to copy; alias not moved")


def migrate_to_months(engine: Engine, alias: str, version: int, *, delete_old: bool = False,
                      now: datetime | None = None) -> list[str]:
    """Move the alias onto month indices of mapping ``version``; returns the indices behind it."""
    behind = sorted(engine.get_alias(alias))
    old = [i for i in behind if (partitions.parse_partition(alias, i) or (None,))[0] != version]
    if not old:
        if not behind:
            return [partitions.ensure_month(engine, alias, version, partitions.month_of(now))]
        log.info("%s already on month indices of v%d", alias, version)
        return behind
    started = (now or datetime.now(UTC)) - timedelta(seconds=5)
    sources = ",".join(old)
    engine.refresh(sources)
    months = copy_into_months(engine, old, alias, version)
    engine.refresh(sources)
    months = copy_into_months(engine, old, alias, version,
                              query={"range": {"indexed_at": {"gte": started.isoformat()}}}, months=months)
    targets = sorted({*months.values(), *(i for i in behind if i not in old)})
    if not targets:  # nothing to copy: an empty old index
        targets = [partitions.ensure_month(engine, alias, version, partitions.month_of(now))]
    engine.refresh(",".join(targets))
    old_count, new_count = engine.count(sources), engine.count(",".join(targets))
    if new_count < old_count:
        raise MonthlyMigrationError(f"copy incomplete: {old_count} documents in {sources}, {new_count} in the "
                                    "month indices; alias not moved")
    engine.update_aliases([*({"remove": {"index": i, "alias": alias}} for i in old),
                           *({"add": {"index": i, "alias": alias}} for i in targets)])
    log.info("alias %s moved from %s to %d month indices (%d documents)", alias, old, len(targets), new_count)
    if delete_old:
        for index in old:
            engine.delete_index(index)
    return targets
