"""Monthly articles indices behind the articles alias (``pipeline.index_partition: monthly``).

``{prefix}articles`` is then an alias over ``{prefix}articles-v{N}-{YYYY.MM}``, one index per
month of the documents' **first-seen** time (``first_seen``: the ``fetched_at`` of the first
write, kept on every later write), so a document never changes month: updates and new versions
overwrite it in the index it is in. Search spans every month through the alias; retention drops
whole months (:func:`drop_old_months`).

A multi-index alias has no write index and ``GET alias/_doc/id`` / ``_mget`` refuse it, so writes
name the month index explicitly and lookups by id are ``ids`` queries over the alias
(:func:`find_documents`), which see what the last refresh (1 s) made searchable.

Everything here takes the prefix (and the engine) as arguments; nothing reads settings.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from indexing.dates import parse_date
from indexing.engine import Engine, EngineError

log = logging.getLogger(__name__)

#: ``pipeline.index_partition`` values
PARTITION_NONE = "none"
PARTITION_MONTHLY = "monthly"
#: ids per lookup request (bounds one search's size)
ID_CHUNK = 500
_MONTH_RE = re.compile(r"-v(\d+)-(\d{4})\.(\d{2})$")


def month_of(value: Any, default: datetime | None = None) -> str:
    """``YYYY.MM`` of a date (ISO text or datetime), UTC; ``default`` (now) when unreadable."""
    dt = value if isinstance(value, datetime) else parse_date(value) if value else None
    dt = dt or default or datetime.now(UTC)
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC)
    return f"{dt.year:04d}.{dt.month:02d}"


def partition_name(alias: str, version: int, month: str) -> str:
    return f"{alias}-v{version}-{month}"


def parse_partition(alias: str, index: str) -> tuple[int, str] | None:
    """``(version, "YYYY.MM")`` of a month index of ``alias``; None for any other index."""
    if not index.startswith(alias + "-v"):
        return None
    m = _MONTH_RE.search(index)
    if m is None or index != partition_name(alias, int(m.group(1)), f"{m.group(2)}.{m.group(3)}"):
        return None
    return int(m.group(1)), f"{m.group(2)}.{m.group(3)}"


def months_behind(engine: Engine, alias: str) -> dict[str, str]:
    """``{index: month}`` of the month indices behind the alias."""
    out: dict[str, str] = {}
    for index in engine.get_alias(alias):
        parsed = parse_partition(alias, index)
        if parsed is not None:
            out[index] = parsed[1]
    return out


def ensure_month(engine: Engine, alias: str, version: int, month: str, *, join: bool = True) -> str:
    """The month's index, created (from the templates) and behind the alias (unless ``join`` is
    false: a migration adds it when it moves the alias); idempotent."""
    name = partition_name(alias, version, month)
    if engine.create_index(name, {"aliases": {alias: {}}} if join else None):
        log.info("created %s%s", name, f" behind {alias}" if join else "")
    elif join and name not in engine.get_alias(alias):  # exists (an interrupted create, a migration)
        engine.update_aliases([{"add": {"index": name, "alias": alias}}])
    return name


def first_seen(doc: Mapping[str, Any], existing: Mapping[str, Any] | None) -> str:
    """When the document was first seen: the stored document's (its ``first_seen``, else its
    ``fetched_at``), else this write's ``fetched_at``, else now."""
    for source in (existing or {}, doc):
        for key in ("first_seen", "fetched_at"):
            value = source.get(key)
            if value:
                return str(value)
    return datetime.now(UTC).isoformat()


def find_documents(engine: Engine, alias: str, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """``{id: _source + {"_index": index}}`` of the ids that exist in any index behind the alias
    (an ``ids`` query: works on a multi-index alias, where ``mget`` does not)."""
    wanted = list(dict.fromkeys(ids))
    out: dict[str, dict[str, Any]] = {}
    for start in range(0, len(wanted), ID_CHUNK):
        chunk = wanted[start:start + ID_CHUNK]
        resp = engine.search(alias, {"query": {"ids": {"values": chunk}}, "size": len(chunk),
                                     "seq_no_primary_term": False, "track_total_hits": False})
        for hit in resp.get("hits", {}).get("hits", []):
            out[hit["_id"]] = {**(hit.get("_source") or {}), "_index": hit["_index"]}
    return out


def get_document(engine: Engine, alias: str, doc_id: str) -> dict[str, Any] | None:
    """One document by id behind the alias, whatever its month: ``_source`` with ``_id``/``_index``."""
    found = find_documents(engine, alias, [doc_id]).get(doc_id)
    return {"_id": doc_id, **found} if found is not None else None


def retention_cutoff(keep: int, now: datetime) -> str:
    """The oldest month (``YYYY.MM``) kept when the ``keep`` newest calendar months counted back
    from ``now`` are kept (the current month is one of them)."""
    if keep < 1:
        raise ValueError("index_retention_months must be at least 1")
    total = now.year * 12 + (now.month - 1) - (keep - 1)
    return f"{total // 12:04d}.{total % 12 + 1:02d}"


def drop_old_months(engine: Engine, alias: str, versions: str, keep: int | None, *,
                    now: datetime | None = None, dry_run: bool = False) -> dict[str, Any]:
    """Delete the month indices older than the ``keep`` newest months (None: keep all) and the
    stored versions of documents first seen before the oldest kept month. Whole indices: no
    per-document deletes of articles."""
    out: dict[str, Any] = {"retention_months": keep, "dropped": [], "versions_deleted": 0, "dry_run": dry_run}
    if keep is None:
        return out
    cutoff = retention_cutoff(keep, now or datetime.now(UTC))
    old = sorted(index for index, month in months_behind(engine, alias).items() if month < cutoff)
    out["dropped"] = old
    if dry_run or not old:
        return out
    for index in old:
        engine.delete_index(index)
        log.info("retention: dropped %s", index)
    if engine.index_exists(versions):
        start = cutoff.replace(".", "-") + "-01T00:00:00+00:00"
        try:
            out["versions_deleted"] = engine.delete_by_query(versions, {"range": {"first_seen": {"lt": start}}})
        except EngineError as exc:  # e.g. an engine without the reindex module (delete-by-query)
            log.warning("retention: cannot delete the old months' versions from %s: %s", versions, exc)
            out["versions_error"] = str(exc)
    return out
