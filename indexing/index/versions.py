"""Article versions: a changed article replaces the current document, the previous one is kept.

When a document arrives whose content (title, lead, body, byline, publication date, image
captions) differs from the one in the index, :func:`indexing.changes.diff.compare` says whether
that is a change a reader would see. If it is, the old document goes to
``{prefix}article-versions`` as ``{doc_id}-v{old version}-{old content key}`` with the list of
what changed, the new one gets ``version = old + 1`` and a change record is made for
``{prefix}changes`` (``indexing/changes/records.py``). If only furniture or normalisation differs,
the document is updated without a new version and without a record. ``modified`` (the page's
"updated at" stamp) alone is never a change. Ids come from the content, so retrying a failed
bulk never stores a version or a record twice.

A document that comes back after a takedown marked it removed is written without the mark
(``restored_at`` says when it came back).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from indexing.changes.diff import compare
from indexing.changes.records import content_key, edit_record
from indexing.dates import parse_iso
from indexing.engine import Engine
from indexing.index.setup import articles_alias, versions_index

log = logging.getLogger(__name__)

#: Fields whose change may make a new version (``compare`` decides; enrichment changes and
#: ``modified`` only update the document).
CONTENT_FIELDS: tuple[str, ...] = ("title", "lead", "body", "published", "authors", "images")
#: Fields copied into a version record.
VERSION_FIELDS: tuple[str, ...] = ("url", "canonical_url", "source", "language", "title", "lead", "body",
                                   "authors", "images", "content_hash", "published", "modified", "fetched_at",
                                   "version", "warc_file", "warc_offset")
#: Fields that differ on every write and must not count as a change. The capture (WARC file and
#: offset, run) stays the one the content was first seen in, so an unchanged revisit writes nothing.
VOLATILE_FIELDS: frozenset[str] = frozenset({"indexed_at", "fetched_at", "version", "warc_file", "warc_offset",
                                             "run_id", "removed", "removal", "removed_at", "removal_change_id",
                                             "restored_at"})
#: What a takedown puts on a document; a document seen again without them is back.
REMOVAL_FIELDS: tuple[str, ...] = ("removed", "removal", "removed_at", "removal_change_id")


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
    changes: list[dict[str, Any]] = field(default_factory=list)        # change records (with "id")
    unchanged: int = 0
    created: int = 0
    updated: int = 0
    #: content differed, but ``compare`` found no change (furniture, normalisation)
    furniture: int = 0
    restored: int = 0
    #: captures older than the stored one (an old batch run again): not written
    stale: int = 0


def _older(doc: Mapping[str, Any], old: Mapping[str, Any]) -> bool:
    """``doc`` comes from a capture older than the stored document's: an earlier batch run
    again must not turn the article back (nor record that as a change)."""
    new_at, old_at = parse_iso(doc.get("fetched_at")), parse_iso(old.get("fetched_at"))
    return new_at is not None and old_at is not None and new_at < old_at


def _keep_capture(old: Mapping[str, Any], doc: dict[str, Any]) -> None:
    """Same content: the document keeps pointing at the capture the content was first seen in
    (and keeps its marks: removed, restored)."""
    for f in VOLATILE_FIELDS - {"indexed_at", "fetched_at", "version"}:
        if old.get(f) is not None:
            doc[f] = old[f]
        else:
            doc.pop(f, None)


def _restore(old: Mapping[str, Any], doc: dict[str, Any], now: datetime) -> bool:
    """A removed article fetched again as an article after the takedown: the mark goes,
    ``restored_at`` says when. A capture older than the takedown (a reprocess of the archive)
    leaves the mark alone."""
    if not old.get("removed"):
        return False
    fetched, removed_at = parse_iso(doc.get("fetched_at")), parse_iso(old.get("removed_at"))
    if fetched is None or (removed_at is not None and fetched <= removed_at):
        for f in REMOVAL_FIELDS:
            doc[f] = old.get(f)
        return False
    for f in REMOVAL_FIELDS:
        doc.pop(f, None)
    doc["restored_at"] = now.isoformat()
    return True


def _version(old: Mapping[str, Any], doc: dict[str, Any], fields: list[str], record: Mapping[str, Any],
             now: datetime) -> tuple[str, dict[str, Any]]:
    old_version = int(old.get("version") or 1)
    out = {k: old.get(k) for k in VERSION_FIELDS if old.get(k) is not None}
    out.update({"doc_id": doc["id"], "version": old_version, "changes": fields, "kinds": record["kinds"],
                "change_id": record["id"], "replaced_at": now.isoformat()})
    return f"{doc['id']}-v{old_version}-{content_key(old)[:16]}", out


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
        if _older(doc, old):
            out.stale += 1
            continue
        old_version = int(old.get("version") or 1)
        if not doc.get("published") and old.get("published"):
            # A revisit has no feed or sitemap date to fall back on: a date the page never
            # showed must not look like one it dropped.
            doc["published"] = old["published"]
        fields = changed_fields(old, doc)
        changes = compare(old, doc) if fields else []
        out.furniture += bool(fields) and not changes
        if not changes:
            doc["version"] = old_version
            if not fields:
                _keep_capture(old, doc)
            restored = _restore(old, doc, now)
            out.restored += restored
            if not restored and same_document(old, doc):
                out.unchanged += 1
                continue
            out.updated += 1
            out.documents.append(doc)
            continue
        doc["version"] = old_version + 1
        out.restored += _restore(old, doc, now)
        record = edit_record(old, doc, changes, now=now)
        out.changes.append(record)
        out.versions.append(_version(old, doc, fields, record, now))
        out.updated += 1
        out.documents.append(doc)
    return out


def get_versions(doc_id: str, *, engine: Engine, prefix: str,
                 include_current: bool = True) -> list[dict[str, Any]]:
    """Every stored version of ``doc_id``, oldest first; the current document last (when asked).

    Each earlier version carries ``changes``: the fields that differ in the version after it.
    """
    index = versions_index(prefix)
    out: list[dict[str, Any]] = []
    if engine.index_exists(index):
        resp = engine.search(index, {"query": {"term": {"doc_id": doc_id}},
                                     "sort": [{"version": "asc"}], "size": 1000})
        out = [h["_source"] for h in resp["hits"]["hits"]]
    if include_current:
        current = engine.get(articles_alias(prefix), doc_id)
        if current is not None:
            current = {k: v for k, v in current.items() if not k.startswith("_")}
            current["doc_id"] = doc_id
            current["current"] = True
            out.append(current)
    return out
