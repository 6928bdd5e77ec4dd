"""Raw-capture retention keeps the evidence of edits and takedowns (issue #19): the captures
change records point at and the last capture of a removed article are copied out of an old WARC
file before it is deleted, and the pointers follow; twice changes nothing; no engine, no delete."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from indexing.archive import WarcWriter, read_record
from indexing.engine import Engine, connect
from indexing.index.setup import articles_alias, changes_index, setup_indices
from indexing.settings import get_settings, reset_settings
from warwatch.pipeline.maintenance import retention

NOW = datetime(2026, 12, 7, tzinfo=UTC).timestamp()
OLD = NOW - 60 * 86400


def _warc(data_dir: Path, prefix: str, bodies: list[bytes]) -> tuple[Path, list[int]]:
    with WarcWriter(data_dir / "warc", prefix) as writer:
        offsets = [writer.write_response(f"https://n.example/{i}", 200, {"Content-Type": "text/html"}, body,
                                         datetime(2026, 10, 1, tzinfo=UTC))[1] for i, body in enumerate(bodies)]
    path = next((data_dir / "warc").glob(f"{prefix}-*.warc.gz"))
    return path, offsets


def _put(engine: Engine, index: str, did: str, doc: dict, refresh: bool = False) -> None:
    engine.bulk([{"index": {"_index": index, "_id": did}}, doc], refresh=refresh)


def test_old_captures_that_are_evidence_are_copied_and_repointed(index_prefix: str, data_dir: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    old, (o_edit, o_other, o_gone) = _warc(data_dir, "old", [b"<p>6000 soldiers</p>", b"<p>weather</p>",
                                                              b"<p>last capture</p>"])
    new, (o_new,) = _warc(data_dir, "new", [b"<p>3000 soldiers</p>"])
    os.utime(old, (OLD, OLD))
    rel_old, rel_new = str(old.relative_to(data_dir)), str(new.relative_to(data_dir))
    prefix = get_settings().index_prefix
    engine = connect(get_settings())
    setup_indices(engine, prefix)
    cap = {"warc_file": rel_old, "warc_offset": o_edit, "fetched_at": "2026-10-01T00:00:00+00:00"}
    _put(engine, changes_index(prefix), "c1", {"id": "c1", "doc_id": "a1", "kinds": ["numbers"],
                                                  "detected_at": "2026-10-02T00:00:00+00:00", "capture_before": cap,
                                                  "capture_after": {**cap, "warc_file": rel_new, "warc_offset": o_new}},
                          refresh=True)
    articles = articles_alias(prefix)
    _put(engine, articles, "a1", {"id": "a1", "title": "edited", "version": 2, "warc_file": rel_new,
                                           "warc_offset": o_new})
    _put(engine, articles, "a2", {"id": "a2", "title": "weather", "version": 1, "warc_file": rel_old,
                                           "warc_offset": o_other})
    _put(engine, articles, "a3", {"id": "a3", "title": "gone", "version": 1, "removed": True,
                                           "removal": "removed", "warc_file": rel_old, "warc_offset": o_gone},
                          refresh=True)

    done = retention(now=lambda: NOW)
    assert not old.exists() and new.exists()
    assert done["evidence"] == {"records": 1, "documents": 1, "captures": 2} and done["deleted"] == 1
    record, gone = engine.get(changes_index(prefix), "c1"), engine.get(articles, "a3")
    assert record and gone
    before = record["capture_before"]
    assert before["warc_file"] == "warc/evidence/" + old.name and record["capture_after"]["warc_file"] == rel_new
    assert read_record(data_dir / before["warc_file"], before["warc_offset"]).body == b"<p>6000 soldiers</p>"
    assert gone["warc_file"] == before["warc_file"]
    assert read_record(data_dir / gone["warc_file"], gone["warc_offset"]).body == b"<p>last capture</p>"
    evidence = (data_dir / before["warc_file"]).read_bytes()

    again = retention(now=lambda: NOW)  # idempotent
    assert again["deleted"] == 0 and (data_dir / before["warc_file"]).read_bytes() == evidence
    assert engine.get(changes_index(prefix), "c1")["capture_before"] == before  # type: ignore[index]

    # Another old file while the engine is away: kept, not deleted unchecked.
    other, _ = _warc(data_dir, "other", [b"<p>x</p>"])
    os.utime(other, (OLD, OLD))
    monkeypatch.setenv("WARWATCH_ES_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("WARWATCH_BULK_MAX_RETRIES", "0")
    reset_settings()
    away = retention(now=lambda: NOW)
    assert other.exists() and away["kept_unchecked"] == 1 and away["deleted"] == 0
    engine.close()
