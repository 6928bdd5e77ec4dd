"""BatchFiles (indexing/batchfiles.py): a batch's files under the data directory only (the local
backend: nothing copied anywhere), or published whole to a store every host sees and fetched back
by another host. The store here is a LocalStorage on a directory of its own (the S3 path is
tests/production/test_s3_batches.py, against a real S3 server)."""

from __future__ import annotations

import hashlib
from contextlib import AbstractContextManager
from pathlib import Path
from typing import IO, Any

import pytest

from indexing.batchfiles import BatchFileError, BatchFiles
from indexing.storage import LocalStorage, ObjectNotFound, StoredObject, file_digests


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _write(files: BatchFiles, batch_id: str, name: str, data: bytes) -> Path:
    path = files.path(batch_id, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_without_a_store_the_files_stay_where_they_are_and_nothing_is_copied(tmp_path: Path) -> None:
    runs = tmp_path / "data" / "runs"
    files = BatchFiles(runs)
    path = _write(files, "b1", "manifest.jsonl", b'{"url": "u"}\n')
    before = _tree(tmp_path)
    assert not files.remote
    assert path == runs / "b1" / "manifest.jsonl"
    assert files.publish("b1", "manifest.jsonl", "cleaned.jsonl") == 0
    assert files.fetch("b1", "manifest.jsonl", "cleaned.jsonl") == [path, runs / "b1" / "cleaned.jsonl"]
    assert list(files.list_stored()) == []
    files.delete("b1", "manifest.jsonl")
    assert _tree(tmp_path) == before  # same paths, same bytes, no extra copies


def test_a_published_file_is_read_back_whole_by_another_host(tmp_path: Path) -> None:
    store = LocalStorage(tmp_path / "bucket")
    host_a, host_b = BatchFiles(tmp_path / "a" / "runs", store), BatchFiles(tmp_path / "b" / "runs", store)
    data = b"".join(b'{"n": %d}\n' % i for i in range(1000))
    _write(host_a, "20260301T120000Z-abc123", "cleaned.jsonl", data)
    assert host_a.publish("20260301T120000Z-abc123", "cleaned.jsonl", "not-written.jsonl") == 1
    assert (tmp_path / "bucket" / "runs" / "20260301T120000Z-abc123" / "cleaned.jsonl").read_bytes() == data

    got, missing = host_b.fetch("20260301T120000Z-abc123", "cleaned.jsonl", "not-written.jsonl")
    assert got == tmp_path / "b" / "runs" / "20260301T120000Z-abc123" / "cleaned.jsonl"
    assert got.read_bytes() == data
    assert not missing.exists()  # in neither place: a missing file, as on one machine

    # published twice (a retried stage): the same one object
    assert host_a.publish("20260301T120000Z-abc123", "cleaned.jsonl") == 1
    assert [o.key for o in store.list("runs/")] == ["runs/20260301T120000Z-abc123/cleaned.jsonl"]


def test_a_stale_local_copy_is_replaced_and_an_unpublished_one_is_kept(tmp_path: Path) -> None:
    store = LocalStorage(tmp_path / "bucket")
    host_a, host_b = BatchFiles(tmp_path / "a", store), BatchFiles(tmp_path / "b", store)
    _write(host_a, "b1", "documents.jsonl", b"second attempt\n")
    host_a.publish("b1", "documents.jsonl")
    _write(host_b, "b1", "documents.jsonl", b"first attempt, a longer file\n")  # B ran the stage before
    own = _write(host_b, "b1", "indexed-ids.txt", b"id-1\n")  # written here, not published yet
    host_b.fetch("b1", "documents.jsonl", "indexed-ids.txt")
    assert host_b.path("b1", "documents.jsonl").read_bytes() == b"second attempt\n"
    assert own.read_bytes() == b"id-1\n"


class _DigestStore(LocalStorage):
    """A store that keeps size and SHA-256 per object, as S3Storage does (head), and counts reads."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.reads = 0

    def head(self, key: str) -> dict[str, Any]:
        if not self.path(key).is_file():
            raise ObjectNotFound(key)
        size, _, sha = file_digests(self.path(key))
        return {"ContentLength": size, "Metadata": {"sha256": sha}}

    def open_at(self, key: str, offset: int) -> AbstractContextManager[IO[bytes]]:
        self.reads += 1
        return super().open_at(key, offset)


def test_a_local_copy_equal_to_the_stored_one_is_not_downloaded_again(tmp_path: Path) -> None:
    store = _DigestStore(tmp_path / "bucket")
    host_a, host_b = BatchFiles(tmp_path / "a", store), BatchFiles(tmp_path / "b", store)
    _write(host_a, "b1", "manifest.jsonl", b"x" * 5000)
    host_a.publish("b1", "manifest.jsonl")
    host_b.fetch("b1", "manifest.jsonl")
    assert store.reads == 1
    host_b.fetch("b1", "manifest.jsonl")
    host_a.fetch("b1", "manifest.jsonl")  # the host that wrote it has it already
    assert store.reads == 1
    _write(host_b, "b1", "manifest.jsonl", b"y" * 5000)  # same size, other bytes
    host_b.fetch("b1", "manifest.jsonl")
    assert store.reads == 2
    assert hashlib.sha256(host_b.path("b1", "manifest.jsonl").read_bytes()).digest() == \
        hashlib.sha256(b"x" * 5000).digest()


def test_stored_files_are_listed_by_prefix_and_deleted(tmp_path: Path) -> None:
    store = LocalStorage(tmp_path / "bucket")
    files = BatchFiles(tmp_path / "a", store)
    for bid in ("b1", "b2"):
        for name in ("manifest.jsonl", "cleaned.jsonl"):
            _write(files, bid, name, f"{bid}/{name}".encode())
            files.publish(bid, name)
    (tmp_path / "bucket" / "warc").mkdir()
    (tmp_path / "bucket" / "warc" / "x.warc.gz").write_bytes(b"capture")  # not a batch file
    (tmp_path / "bucket" / "runs" / "b1" / "deeper").mkdir()
    (tmp_path / "bucket" / "runs" / "b1" / "deeper" / "f").write_bytes(b"?")  # not runs/<id>/<name>
    listed = {(o.batch_id, o.name): o.stored for o in files.list_stored()}
    assert set(listed) == {("b1", "manifest.jsonl"), ("b1", "cleaned.jsonl"), ("b2", "manifest.jsonl"),
                           ("b2", "cleaned.jsonl")}
    assert isinstance(listed["b1", "cleaned.jsonl"], StoredObject) and listed["b1", "cleaned.jsonl"].size == 16
    assert {o.batch_id for o in files.list_stored(["manifest.jsonl"])} == {"b1", "b2"}
    files.delete("b1", "cleaned.jsonl", "never-there.txt")
    assert {(o.batch_id, o.name) for o in files.list_stored()} == set(listed) - {("b1", "cleaned.jsonl")}
    assert files.path("b1", "cleaned.jsonl").exists()  # the local copy is the caller's


@pytest.mark.parametrize(("batch_id", "name"), [("../x", "f"), ("b1", "../f"), ("b1", "a/b"), ("", "f"),
                                                ("b1", ""), (".done", "f"), ("b1", "..")])
def test_names_that_are_not_batch_files_are_refused(tmp_path: Path, batch_id: str, name: str) -> None:
    files = BatchFiles(tmp_path, LocalStorage(tmp_path / "bucket"))
    with pytest.raises(BatchFileError):
        files.publish(batch_id, name)
    with pytest.raises(BatchFileError):
        files.fetch(batch_id, name)


def test_published_marks_name_the_batches_left_to_publish(tmp_path: Path) -> None:
    files = BatchFiles(tmp_path / "runs", LocalStorage(tmp_path / "bucket"))
    assert files.unpublished(["b1", "b2", "b3"]) == ["b1", "b2", "b3"]
    files.mark_published("b2")
    files.mark_published("b2")
    assert files.unpublished(["b1", "b2", "b3"]) == ["b1", "b3"]
