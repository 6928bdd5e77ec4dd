"""Evidence kept through raw-capture retention (issue #19): before an old WARC file is deleted,
the captures that change records compare (``capture_before``/``capture_after``) and the last
capture of removed or edited articles are copied, byte for byte, into
``warc/evidence/<file name>``, and the records and documents are pointed there.

Idempotent: a file's copy is written once, with its offset map (``<name>.offsets.json``, written
after the copy, so its presence says the copy is whole); a rerun after a crash reuses it, and a
record or document already pointing at the copy is left alone. When the engine cannot be asked,
nothing is deleted (the caller keeps the file).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from indexing.fileio import atomic_write_bytes, atomic_write_text

log = logging.getLogger(__name__)

EVIDENCE_DIR = "evidence"
#: pointers into one file read per request
PAGE = 1000


def _pointers(engine: Any, index: str, query: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(id, _source) of every document of ``index`` matching ``query``, paged by id."""
    if not engine.index_exists(index):
        return
    after: list[Any] | None = None
    while True:
        body: dict[str, Any] = {"query": query, "size": PAGE, "sort": [{"id": "asc"}]}
        if after is not None:
            body["search_after"] = after
        hits = engine.search(index, body).get("hits", {}).get("hits", [])
        for h in hits:
            yield h["_id"], h["_source"]
        if len(hits) < PAGE:
            return
        after = hits[-1]["sort"]


def _record_bytes(path: Path, offset: int) -> bytes:
    """The raw bytes of the WARC record at ``offset`` (its gzip member, as archived)."""
    from warcio.archiveiterator import ArchiveIterator

    with path.open("rb") as fh:
        fh.seek(offset)
        it = ArchiveIterator(fh)
        record = next(it)
        it.read_to_end(record)
        length = it.get_record_length()
        fh.seek(offset)
        return fh.read(length)


def _copy(path: Path, offsets: set[int], target: Path) -> dict[int, int]:
    """The records at ``offsets`` of ``path`` copied into ``target``; {old offset: new offset}.
    A copy made before is reused when it holds every offset asked for."""
    map_path = target.with_name(target.name + ".offsets.json")
    if map_path.exists() and target.exists():
        known = {int(k): int(v) for k, v in json.loads(map_path.read_text(encoding="utf-8")).items()}
        if offsets <= set(known):
            return known
        offsets = offsets | set(known)
    data, mapping = bytearray(), {}
    for offset in sorted(offsets):
        mapping[offset] = len(data)
        data += _record_bytes(path, offset)
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(target, bytes(data))
    atomic_write_text(map_path, json.dumps({str(k): v for k, v in mapping.items()}))
    return mapping


def keep_evidence(engine: Any, path: Path, data_dir: Path, *, changes: str, articles: str) -> dict[str, int]:
    """Copy what change records and removed or edited articles need from ``path`` (a WARC file
    about to be deleted) into the evidence directory and repoint them. Returns counts
    (``records``, ``documents``: pointers moved; ``captures``: records copied)."""
    from indexing.index.bulk import BulkStats, BulkWriter

    rel = str(path.relative_to(data_dir))
    target = path.parent / EVIDENCE_DIR / path.name
    target_rel = str(target.relative_to(data_dir))
    records = [(i, s) for i, s in _pointers(engine, changes, {"bool": {"should": [
        {"term": {"capture_before.warc_file": rel}}, {"term": {"capture_after.warc_file": rel}}]}})]
    docs = [(i, s) for i, s in _pointers(engine, articles, {"bool": {"filter": [{"term": {"warc_file": rel}}], "should": [
        {"term": {"removed": True}}, {"range": {"version": {"gt": 1}}}], "minimum_should_match": 1}})]
    offsets = {int(s[side]["warc_offset"]) for _, s in records for side in ("capture_before", "capture_after")
               if (s.get(side) or {}).get("warc_file") == rel}
    offsets |= {int(s["warc_offset"]) for _, s in docs if s.get("warc_offset") is not None}
    if not offsets:
        return {"records": 0, "documents": 0, "captures": 0}
    mapping = _copy(path, offsets, target)
    ops: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for rid, src in records:
        for side in ("capture_before", "capture_after"):
            cap = src.get(side) or {}
            if cap.get("warc_file") == rel:
                src[side] = {**cap, "warc_file": target_rel, "warc_offset": mapping[int(cap["warc_offset"])]}
        ops.append(({"index": {"_index": changes, "_id": rid}}, src))
    for did, src in docs:
        src.update({"warc_file": target_rel, "warc_offset": mapping[int(src["warc_offset"])]})
        ops.append(({"index": {"_index": articles, "_id": did}}, src))
    dead = BulkWriter(engine, max_retries=3, initial_backoff=1.0, refresh=True).send(ops, BulkStats())
    if dead:
        raise RuntimeError(f"{len(dead)} evidence pointers into {rel} not moved: {dead[0].get('reason')}")
    return {"records": len(records), "documents": len(docs), "captures": len(mapping)}
