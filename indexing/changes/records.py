"""Change records: what the ``{prefix}changes`` index holds, one per change event of an article.

An *edit* record comes from two stored versions of one article and the changes
:func:`indexing.changes.diff.compare` found between them; a *takedown* record from the manifest
entry the crawler wrote for a confirmed takedown and the stored article. Both carry the two
captures (WARC file and offset, fetch time) they compare, so the evidence can be found again.

Ids are deterministic, so running anything twice never stores an event twice: an edit is
``sha256(doc_id, old content, new content, old version)``; a takedown ``sha256(doc_id, kind,
first_seen)`` (the crawler's first sight of it: a second confirmation of the same takedown is the
same event).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from indexing.changes.diff import TAKEDOWN_KINDS, Change

#: the document fields a change is looked for in (``compare`` reads them; ``modified`` is not
#: one: a page's "updated at" stamp alone is no change)
COMPARED_FIELDS: tuple[str, ...] = ("title", "lead", "body", "authors", "published", "images", "language")
#: where a capture lies in the WARC archive
CAPTURE_FIELDS: tuple[str, ...] = ("warc_file", "warc_offset", "fetched_at")
#: article fields copied into every record (what a reader and a watch need to place it)
_ARTICLE_FIELDS: tuple[str, ...] = ("url", "canonical_url", "source", "language", "title", "story_id", "topics",
                                    "entities")


class TakedownEntryError(ValueError):
    """A takedown manifest entry without what a record needs (its URL or a known kind)."""


def content_key(doc: Mapping[str, Any]) -> str:
    """A hash of what :func:`compare` compares (image captions, not image URLs: those carry
    cache busters)."""
    parts: dict[str, Any] = {f: doc.get(f) or None for f in COMPARED_FIELDS if f != "images"}
    parts["captions"] = [str(i.get("caption") or "") for i in doc.get("images") or [] if isinstance(i, Mapping)]
    return hashlib.sha256(json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()


def _id(*parts: Any) -> str:
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8")).hexdigest()[:32]


def edit_id(doc_id: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    return _id("edit", doc_id, content_key(old), content_key(new), int(old.get("version") or 1))


def takedown_id(doc_id: str, kind: str, first_seen: str) -> str:
    return _id("takedown", doc_id, kind, first_seen)


def capture_of(doc: Mapping[str, Any]) -> dict[str, Any] | None:
    """``{warc_file, warc_offset, fetched_at}`` of a document or manifest entry (None: not archived)."""
    if not doc.get("warc_file"):
        return None
    offset = doc.get("warc_offset")
    return {"warc_file": str(doc["warc_file"]), "warc_offset": int(offset) if offset is not None else None,
            "fetched_at": doc.get("fetched_at")}


def _article_part(doc: Mapping[str, Any], doc_id: str) -> dict[str, Any]:
    out: dict[str, Any] = {"doc_id": doc_id}
    for f in _ARTICLE_FIELDS:
        value = doc.get(f)
        out[f] = list(value) if isinstance(value, (list, tuple)) else value
    return out


def _numbers(changes: Sequence[Change]) -> list[dict[str, Any]]:
    return [{"before": c.before, "after": c.after, "before_value": c.before_value, "after_value": c.after_value,
             "context": c.context} for c in changes if c.kind == "numbers"]


def edit_record(old: Mapping[str, Any], new: Mapping[str, Any], changes: Sequence[Change], *,
                now: datetime, run_id: str | None = None) -> dict[str, Any]:
    """The record of one edit: ``old`` and ``new`` are the stored and the incoming document of
    one article (``new`` has its ``id``), ``changes`` what ``compare(old, new)`` returned."""
    doc_id = str(new.get("id") or old.get("id") or old.get("doc_id"))
    numbers = _numbers(changes)
    old_version = int(old.get("version") or 1)
    record = {
        "id": edit_id(doc_id, old, new),
        **_article_part(new, doc_id),
        "event": "edited",
        "kinds": list(dict.fromkeys(c.kind for c in changes)),
        "changes": [c.to_dict() for c in changes],
        "numbers": numbers,
        "before": numbers[0]["before"] if numbers else None,
        "after": numbers[0]["after"] if numbers else None,
        # when the crawler saw the new version (so a rerun writes the same record), else now
        "detected_at": str(new.get("fetched_at") or now.isoformat()),
        "version_before": old_version,
        "version_after": int(new.get("version") or old_version + 1),
        "capture_before": capture_of(old),
        "capture_after": capture_of(new),
        "run_id": run_id or new.get("run_id"),
    }
    if old.get("title") != new.get("title"):
        record["title_before"] = old.get("title")
    return record


def takedown_record(entry: Mapping[str, Any], stored: Mapping[str, Any] | None, *, doc_id: str,
                    now: datetime, run_id: str | None = None) -> dict[str, Any]:
    """The record of a confirmed takedown: ``entry`` is the crawler's manifest line (``takedown``,
    ``status``, ``final_url``, ``first_seen``, ``confirmed_at``, the confirming capture), ``stored``
    the article as the index holds it (None: the index does not know it; the record is still made)."""
    kind = str(entry.get("takedown") or "")
    if kind not in TAKEDOWN_KINDS:
        raise TakedownEntryError(f"unknown takedown kind {kind!r} (one of {', '.join(TAKEDOWN_KINDS)})")
    first_seen = str(entry.get("first_seen") or entry.get("confirmed_at") or entry.get("fetched_at") or "")
    if not first_seen:
        raise TakedownEntryError("takedown entry without first_seen, confirmed_at or fetched_at")
    article = dict(stored or {})
    article.setdefault("url", entry.get("url"))
    article.setdefault("canonical_url", entry.get("url"))
    article.setdefault("source", entry.get("source"))
    status = entry.get("status")
    change = {"kind": kind, "status": int(status) if status is not None else None,
              "final_url": entry.get("final_url") or None}
    return {
        "id": takedown_id(doc_id, kind, first_seen),
        **_article_part(article, doc_id),
        "event": "removed",
        "kinds": [kind],
        "changes": [{k: v for k, v in change.items() if v is not None}],
        "numbers": [],
        "before": None,
        "after": None,
        "detected_at": str(entry.get("confirmed_at") or now.isoformat()),
        "first_seen": first_seen,
        "status": change["status"],
        "final_url": change["final_url"],
        "version_before": int(article["version"]) if article.get("version") else None,
        "version_after": None,
        "capture_before": capture_of(article),
        "capture_after": capture_of({**entry, "fetched_at": entry.get("fetched_at") or entry.get("confirmed_at")}),
        "run_id": run_id,
        "known_article": stored is not None,
    }


def removed_document(stored: Mapping[str, Any], record: Mapping[str, Any]) -> dict[str, Any] | None:
    """The stored article marked removed by a takedown record (None: it already is, by this
    kind: nothing to write). The article stays in the index, searchable."""
    kind = record["kinds"][0]
    if stored.get("removed") and stored.get("removal") == kind:
        return None
    doc = {k: v for k, v in stored.items() if not k.startswith("_")}
    doc.update({"removed": True, "removal": kind, "removed_at": record["detected_at"],
                "removal_change_id": record["id"]})
    return doc


def describe(record: Mapping[str, Any], *, limit: int = 3) -> str:
    """One line for a person: "numbers: 10,000 → 3,000; headline changed" / "removed (404, first
    seen ...)"."""
    kinds = list(record.get("kinds") or [])
    if kinds and kinds[0] in TAKEDOWN_KINDS:
        bits = [str(x) for x in (record.get("status"), record.get("final_url")) if x]
        bits.append(f"first seen {record.get('first_seen')}")
        return f"{kinds[0].replace('_', ' ')} ({', '.join(bits)})"
    parts: list[str] = []
    for change in record.get("changes") or []:
        kind = change.get("kind")
        if kind == "numbers":
            parts.append(f"number changed {change.get('before')} → {change.get('after')}")
        elif kind in ("headline", "byline", "date", "quote"):
            parts.append(f"{kind} changed: “{change.get('before') or ''}” → “{change.get('after') or ''}”")
        elif kind in ("text_added", "text_removed", "reworded"):
            n = len(change.get("sentences") or [])
            parts.append(f"{kind.replace('_', ' ')} ({n} sentence{'s' if n != 1 else ''})")
        else:
            parts.append(str(kind).replace("_", " "))
    shown = parts[:limit]
    if len(parts) > limit:
        shown.append(f"{len(parts) - limit} more")
    return "; ".join(shown) or "changed"
