"""Article versions: a changed article replaces the current document, the previous one is kept.

When a document arrives whose content (title, lead, body, dates) differs from the one in the
index, the old document goes to ``{prefix}article-versions`` as ``{doc_id}-{old content hash}``
with the list of what changed; the new one gets ``version = old + 1``. The version record's id
comes from the old content, so retrying a failed bulk never stores a version twice.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from indexing.engine import Engine, connect
from indexing.index.partitions import get_document
from indexing.index.setup import articles_alias, versions_index

log = logging.getLogger(__name__)

#: Fields whose change makes a new version (enrichment changes only update the document).
CONTENT_FIELDS: tuple[str, ...] = ("title", "lead", "body", "published", "modified")
#: Fields copied into a version record.
VERSION_FIELDS: tuple[str, ...] = ("url", "canonical_url", "source", "language", "title", "lead", "body",
                                   "content_hash", "published", "modified", "fetched_at", "first_seen", "version")
#: Fields that differ on every write and must not count as a change.
VOLATILE_FIELDS: frozenset[str] = frozenset({"indexed_at", "fetched_at", "version"})


def changed_fields(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """The content fields that differ between two documents (empty: same content)."""
    return [f for f in CONTENT_FIELDS if (old.get(f) or None) != (new.get(f) or None)]


def same_document(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """True when writing ``new`` would change nothing but timestamps."""
    keys = (set(old) | set(new)) - VOLATILE_FIELDS - {"_id", "_index"}
    return all(old.get(k) == new.get(k) for k in keys)


@dataclass
class Plan:
    """What to write for one chunk of documents."""

    documents: list[dict[str, Any]] = field(default_factory=list)       # to (re)index
    versions: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (id, record)
    unchanged: int = 0
    created: int = 0
    updated: int = 0


def plan(existing: Mapping[str, Mapping[str, Any]], docs: list[dict[str, Any]],
         now: datetime | None = None) -> Plan:
    """Compare incoming ``docs`` with the ``existing`` ones (by id) and decide what to write."""
    now = now or datetime.now(UTC)
    out = Plan()
    for doc in docs:
        old = existing.get(doc["id"])
        if old is None:
            doc.setdefault("version", 1)
            out.created += 1
            out.documents.append(doc)
            continue
        old_version = int(old.get("version") or 1)
        changes = changed_fields(old, doc)
        if not changes:
            doc["version"] = old_version
            if same_document(old, doc):
                out.unchanged += 1
                continue
            out.updated += 1
            out.documents.append(doc)
            continue
        doc["version"] = old_version + 1
        record = {k: old.get(k) for k in VERSION_FIELDS if old.get(k) is not None}
        if doc.get("first_seen"):  # the month the document is filed under (retention drops it whole)
            record["first_seen"] = doc["first_seen"]
        record.update({"doc_id": doc["id"], "version": old_version, "changes": changes,
                       "replaced_at": now.isoformat()})
        old_hash = str(old.get("content_hash") or old_version)
        out.versions.append((f"{doc['id']}-{old_hash[:16]}", record))
        out.updated += 1
        out.documents.append(doc)
    return out


def get_versions(doc_id: str, *, engine: Engine | None = None, prefix: str | None = None,
                 include_current: bool = True) -> list[dict[str, Any]]:
    """Every stored version of ``doc_id``, oldest first; the current document last (when asked).

    Each earlier version carries ``changes``: the fields that differ in the version after it.
    """
    engine = engine or connect()
    index = versions_index(prefix)
    out: list[dict[str, Any]] = []
    if engine.index_exists(index):
        resp = engine.search(index, {"query": {"term": {"doc_id": doc_id}},
                                     "sort": [{"version": "asc"}], "size": 1000})
        out = [h["_source"] for h in resp["hits"]["hits"]]
    if include_current:
        # an ids query: the alias may span month indices (partitions.py), where GET by id fails
        current = get_document(engine, articles_alias(prefix), doc_id)
        if current is not None:
            current = {k: v for k, v in current.items() if not k.startswith("_")}
            current["doc_id"] = doc_id
            current["current"] = True
            out.append(current)
    return out
