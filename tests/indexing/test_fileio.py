"""Durable writes (indexing/fileio.py): whole-or-nothing replacement and fsynced appends."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from indexing import fileio
from indexing.archive import ArchiveWriter, iter_manifest, read_record
from indexing.fileio import (
    DurableAppender,
    append_line_durable,
    append_lines_durable,
    atomic_write_json,
    atomic_write_text,
    atomic_writer,
)

NOW = datetime(2024, 5, 3, 12, tzinfo=UTC)


class FsyncLog:
    """Records what os.fsync was called on (the real fsync still runs)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.paths: list[Path] = []
        real = os.fsync

        def fsync(fd: int) -> None:
            self.paths.append(Path(os.readlink(f"/proc/self/fd/{fd}")))
            real(fd)

        monkeypatch.setattr(os, "fsync", fsync)

    def names(self) -> list[str]:
        return [p.name for p in self.paths]


def test_atomic_write_syncs_the_file_then_its_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = FsyncLog(monkeypatch)
    target = tmp_path / "new" / "report.json"
    atomic_write_json(target, {"city": "Київ", "n": 1})
    assert json.loads(target.read_text(encoding="utf-8")) == {"city": "Київ", "n": 1}
    # the temporary file's data, then the directory holding the new name
    assert len(log.paths) == 2 and log.paths[1] == target.parent
    assert log.paths[0].parent == target.parent and log.paths[0].name.endswith(".tmp")
    assert sorted(p.name for p in target.parent.iterdir()) == ["report.json"]  # no temporary left


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "ids.txt"
    atomic_write_text(target, "old\n")
    with pytest.raises(RuntimeError), atomic_writer(target) as fh:
        fh.write("half of the new content")
        raise RuntimeError("killed half-way")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["ids.txt"]


def test_two_writers_never_share_a_temporary(tmp_path: Path) -> None:
    target = tmp_path / "r.json"
    with atomic_writer(target) as a, atomic_writer(target) as b:
        assert a.name != b.name
        a.write("a")
        b.write("b")
    assert target.read_text() == "a"  # the last to finish wins, whole


def test_atomic_file_gets_the_usual_permissions(tmp_path: Path) -> None:
    atomic_write_text(tmp_path / "x", "x")
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "x").stat().st_mode & 0o777 == 0o666 & ~umask


def test_appends_are_fsynced_and_a_new_file_s_directory_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = FsyncLog(monkeypatch)
    path = tmp_path / "dead-letter" / "2024-05-03.jsonl"
    assert append_lines_durable(path, ['{"a": 1}', '{"b": 2}\n']) == 2
    assert log.paths == [path, path.parent]  # created: the name is made durable too
    append_line_durable(path, '{"c": 3}')
    assert log.paths[2:] == [path]  # existing file: its data only
    assert [json.loads(x) for x in path.read_text().splitlines()] == [{"a": 1}, {"b": 2}, {"c": 3}]
    assert append_lines_durable(path, []) == 0 and len(log.paths) == 3  # nothing to write: no fsync


def test_appender_syncs_only_what_is_new(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "m.jsonl"
    path.write_text("")
    log = FsyncLog(monkeypatch)
    with DurableAppender(path) as out:
        out.sync()
        assert log.paths == []  # nothing written yet
        out.write(b"one\n")
        out.flush()
        assert path.read_bytes() == b"one\n" and out.dirty  # visible to readers, not yet durable
        out.sync()
        out.sync()
        assert log.paths == [path] and not out.dirty
        out.write(b"two\n")
    assert log.paths == [path, path]  # close syncs the rest
    with pytest.raises(ValueError):
        out.write(b"closed")


def test_archive_writer_syncs_records_before_manifest_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    archive = ArchiveWriter.open(tmp_path / "warc", "r1", tmp_path / "runs" / "r1" / "manifest.jsonl",
                                 max_bytes=10**9, data_dir=tmp_path)
    log = FsyncLog(monkeypatch)
    line = archive.write({"url": "https://e.com/a", "source": "s"}, url="https://e.com/a", status=200,
                         headers=[("Content-Type", "text/html")], body=b"<p>Hallo</p>",
                         fetched_at=NOW)
    assert log.paths == []  # writing is not syncing: one sync covers many captures
    archive.flush_durable()
    assert log.names() == ["r1-00001.warc.gz", "warc", "manifest.jsonl", "r1"]
    archive.sync()
    assert len(log.paths) == 4  # nothing new: free
    archive.close()
    assert line["warc_file"] == "warc/r1-00001.warc.gz"
    [entry] = list(iter_manifest(tmp_path / "runs" / "r1" / "manifest.jsonl"))
    assert entry == line
    assert read_record(tmp_path / entry["warc_file"], entry["warc_offset"]).body == b"<p>Hallo</p>"


def test_no_other_module_writes_its_own_temporary_files() -> None:
    """One home for atomic writes: no os.replace/os.fsync elsewhere in the library or the app."""
    root = Path(fileio.__file__).resolve().parents[1]
    offenders = []
    for package in ("indexing", "warwatch", "crawlers"):
        for path in (root / package).rglob("*.py"):
            if path.name == "fileio.py":
                continue
            text = path.read_text(encoding="utf-8")
            for needle in ("os.replace(", "os.fsync(", '.tmp"'):
                if needle in text:
                    offenders.append(f"{path.relative_to(root)}: {needle}")
    # warwatch/localnode/ moves whole directories into place (an unpacked engine, a node's
    # config) and writes its state as root without following links (user.create_fresh): renames
    # of its own, not file writes this module could do for it.
    assert [o for o in offenders if not o.startswith("warwatch/localnode/") or "os.replace(" not in o] == []
