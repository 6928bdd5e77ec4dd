from __future__ import annotations

import gzip
from datetime import UTC, datetime
from pathlib import Path

import pytest

from indexing.archive import (
    ArchiveError,
    WarcWriter,
    append_manifest,
    iter_manifest,
    iter_records,
    read_record,
)

WHEN = datetime(2024, 5, 1, 12, 30, 0, tzinfo=UTC)


def test_round_trip_and_rotation(tmp_path: Path) -> None:
    body = "<html><body><p>Привіт, світ — Grüße</p></body></html>".encode()
    locations = []
    with WarcWriter(tmp_path, "run-a", max_bytes=1500) as writer:
        for i in range(12):
            locations.append(
                writer.write_response(
                    f"https://example.com/a/{i}",
                    200,
                    [
                        ("Content-Type", "text/html; charset=utf-8"),
                        ("Content-Encoding", "gzip"),
                        ("Transfer-Encoding", "chunked"),
                        ("Set-Cookie", "a=1"),
                        ("Set-Cookie", "b=2"),
                    ],
                    body + str(i).encode(),
                    WHEN,
                )
            )
    files = sorted({p for p, _ in locations})
    assert len(files) > 1, "rotation by size"
    assert all(p.name.startswith("run-a-") and p.name.endswith(".warc.gz") for p in files)
    for i, (path, offset) in enumerate(locations):
        rec = read_record(path, offset)
        assert rec.url == f"https://example.com/a/{i}"
        assert rec.status == 200
        assert rec.body == body + str(i).encode()  # stored decoded, read back as-is
        assert rec.fetched_at == WHEN
        assert rec.content_type == "text/html"
        assert rec.header("x-archive-orig-content-encoding") == "gzip"
        assert rec.header("set-cookie") == "a=1, b=2"
    # each file is a valid gzip stream as a whole
    for f in files:
        assert b"WARC/1" in gzip.decompress(f.read_bytes())
    assert sum(1 for f in files for _ in iter_records(f)) == 12


def test_each_record_is_one_gzip_member_by_zlib_ng_at_level_6(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A record read alone from its offset, one gzip member written by zlib-ng at level 6 (warcio's
    own writer: zlib at 9, three times the CPU for 1.3% fewer bytes), read back by the standard
    library's zlib."""
    import random
    import zlib

    from zlib_ng import zlib_ng

    from indexing import warcwriter

    made: list[tuple[int, ...]] = []
    real = zlib_ng.compressobj

    def compressobj(*args: int) -> object:
        made.append(args)
        return real(*args)

    monkeypatch.setattr(warcwriter._zlib, "compressobj", compressobj)
    rng = random.Random(7)
    words = ["Truppen", "Front", "Kursk", "Nordkorea", "Soldaten", "Region", "berichtet", "laut", "der", "die"]
    bodies = [" ".join(rng.choice(words) + str(rng.randrange(50)) for _ in range(3000)).encode() for _ in range(3)]
    with WarcWriter(tmp_path, "lvl") as writer:
        spots = [writer.write_response(f"https://example.com/{i}", 200, [("Content-Type", "text/html")], b, WHEN)
                 for i, b in enumerate(bodies)]
    assert warcwriter.COMPRESSOR == "zlib_ng.zlib_ng"
    assert made and set(made) == {(6, zlib_ng.DEFLATED, zlib_ng.MAX_WBITS + 16)}  # every member: gzip, level 6
    data = spots[0][0].read_bytes()
    offsets = [o for _, o in spots] + [len(data)]
    for i, (start, end) in enumerate(zip(offsets, offsets[1:], strict=False)):
        unpacked = zlib.decompressobj(zlib.MAX_WBITS + 16)
        raw = unpacked.decompress(data[start:end])
        assert unpacked.eof and not unpacked.unused_data  # exactly one member per record
        assert bodies[i] in raw and raw.startswith(b"WARC/1.")
        assert end - start < len(raw) // 2  # compressed
        assert read_record(spots[i][0], start).body == bodies[i]


def test_new_writer_never_appends(tmp_path: Path) -> None:
    with WarcWriter(tmp_path, "p") as w1:
        p1, _ = w1.write_response("https://e.com/1", 200, {}, b"x", WHEN)
    with WarcWriter(tmp_path, "p") as w2:
        p2, _ = w2.write_response("https://e.com/2", 200, {}, b"y", WHEN)
    assert p1 != p2 and p1.exists() and p2.exists()


def test_relative_path_resolved_against_data_dir(tmp_path: Path) -> None:
    data_dir = tmp_path
    with WarcWriter(data_dir / "warc", "r") as w:
        path, offset = w.write_response("https://e.com/1", 404, {"Content-Type": "text/plain"}, b"gone", WHEN)
    rec = read_record(path.relative_to(data_dir), offset, data_dir=data_dir)
    assert rec.status == 404 and rec.body == b"gone"


def test_truncated_record_and_bad_offset(tmp_path: Path) -> None:
    with WarcWriter(tmp_path, "t") as w:
        p, off1 = w.write_response("https://e.com/1", 200, {}, b"one" * 100, WHEN)
        _, off2 = w.write_response("https://e.com/2", 200, {}, b"two" * 100, WHEN)
    data = p.read_bytes()
    p.write_bytes(data[: off2 + 20])  # kill -9 while writing the second record
    assert read_record(p, off1).body == b"one" * 100
    with pytest.raises(ArchiveError):
        read_record(p, off2)
    with pytest.raises(ArchiveError):
        read_record(tmp_path / "missing.warc.gz", 0)
    assert [r.url for _, r in iter_records(p)] == ["https://e.com/1"]


def test_manifest_tolerates_truncated_last_line(tmp_path: Path) -> None:
    m = tmp_path / "run" / "manifest.jsonl"
    append_manifest(m, {"url": "https://e.com/1", "n": 1})
    append_manifest(m, {"url": "https://e.com/2", "title": "Київ"})
    with open(m, "ab") as fh:
        fh.write(b'{"url": "https://e.com/3", "n"')  # partial line after kill -9
    assert [e["url"] for e in iter_manifest(m)] == ["https://e.com/1", "https://e.com/2"]
    append_manifest(m, {"url": "https://e.com/4"})
    assert [e["url"] for e in iter_manifest(m)] == ["https://e.com/1", "https://e.com/2", "https://e.com/4"]
    assert list(iter_manifest(tmp_path / "absent.jsonl")) == []


def test_rotated_files_handed_away_on_close_keep_distinct_names(tmp_path: Path) -> None:
    """An upload removes a closed file from the directory: the next file must not take its name
    (it would replace the uploaded object)."""
    from indexing.storage import LocalStorage, Uploads

    store = tmp_path / "store"
    uploads = Uploads(LocalStorage(store), tmp_path)
    handed: list[str] = []

    def upload(path: Path) -> None:
        handed.append(path.name)
        assert uploads(path)

    spool = tmp_path / "warc" / "run-a"
    locations = []
    with WarcWriter(spool, "run-a", max_bytes=600, on_closed=upload) as writer:
        for i in range(6):
            locations.append(writer.write_response(f"https://example.com/{i}", 200, {"content-type": "text/html"},
                                                   b"<p>body %d</p>" % i + b"x" * 400, WHEN))
    assert len(handed) == len(set(handed)) == len({p for p, _ in locations}) >= 3
    assert not list(spool.iterdir()) and uploads.counts["uploaded"] == len(handed)
    storage = LocalStorage(store)
    for i, (path, offset) in enumerate(locations):  # every record readable at its offset, by key
        record = read_record(f"warc/run-a/{path.name}", offset, storage=storage)
        assert record.url == f"https://example.com/{i}" and record.body.startswith(b"<p>body %d</p>" % i)


def test_read_record_through_storage_names_a_missing_object(tmp_path: Path) -> None:
    from indexing.storage import LocalStorage

    with pytest.raises(ArchiveError, match="not found"):
        read_record("warc/run-x/none.warc.gz", 0, storage=LocalStorage(tmp_path))
