"""The stages read a batch's files through BatchFiles: with a store that every host sees, a batch
crawled with data directory A is cleaned and enriched with an empty data directory B; a crawl
that has not published its manifest yet is BatchNotReady, never an empty batch. The store is a
LocalStorage on a directory of its own (the real S3 path: tests/production/test_s3_batches.py)."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest

from indexing.batchfiles import BatchFiles
from indexing.settings import get_settings, reset_settings
from indexing.storage import LocalStorage
from warwatch import pipeline
from warwatch.pipeline.common import BatchNotReady

# the modules (the package's names `clean`, `index` are the stage functions)
clean_module = importlib.import_module("warwatch.pipeline.clean")
index_module = importlib.import_module("warwatch.pipeline.index")

RUN = "20260301T120000Z-a1b2c3"
LINES = [{"url": "https://news.example/a", "status": 404, "warc_file": "warc/x.warc.gz", "warc_offset": 0,
          "source": "s"},
         {"url": "https://news.example/b.pdf", "status": 200, "content_type": "application/pdf",
          "warc_file": "warc/x.warc.gz", "warc_offset": 10, "source": "s"},
         {"url": "https://news.example/c", "status": 410, "warc_file": "warc/x.warc.gz", "warc_offset": 20,
          "source": "s"}]


@pytest.fixture
def hosts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path, Path]:
    """Data directories of host A and B (B empty) and the store both see; the stages' BatchFiles
    is the current data directory's runs plus the store."""
    a, b, bucket = tmp_path / "a", tmp_path / "b", tmp_path / "bucket"
    for path in (a, b):
        path.mkdir()

    def files() -> BatchFiles:
        return BatchFiles(get_settings().runs_dir, LocalStorage(bucket))

    for module in (clean_module, index_module):
        monkeypatch.setattr(module, "batch_files", files)
    return a, b, bucket


def _on(host: Path, monkeypatch: pytest.MonkeyPatch) -> BatchFiles:
    monkeypatch.setenv("WARWATCH_DATA_DIR", str(host))
    reset_settings()
    return clean_module.batch_files()


def _crawled(files: BatchFiles, meta: dict[str, object], lines: list[dict[str, object]] | None) -> None:
    rdir = files.path(RUN, "x").parent
    rdir.mkdir(parents=True)
    (rdir / "batch.json").write_text(json.dumps(meta))
    if lines is not None:
        (rdir / "manifest.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))


def test_a_batch_crawled_on_host_a_is_cleaned_and_enriched_on_host_b(
        hosts: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    a, b, bucket = hosts
    files_a = _on(a, monkeypatch)
    _crawled(files_a, {"started": "2026-03-01T12:00:00+00:00", "finished": "2026-03-01T12:01:00+00:00"}, LINES)
    assert files_a.publish(RUN, "manifest.jsonl", "batch.json") == 2

    _on(b, monkeypatch)
    counts = pipeline.clean(RUN).counts
    assert counts["responses"] == 3 and counts["skipped:http_404"] == 1 and counts["skipped:not_html"] == 1
    assert counts["skipped:http_410"] == 1
    for name in ("cleaned.jsonl", "takedowns.jsonl", "clean-report.json"):  # published for the next host
        assert (bucket / "runs" / RUN / name).read_bytes() == (b / "runs" / RUN / name).read_bytes()
    assert pipeline.enrich(RUN).counts["documents"] == 0
    assert (bucket / "runs" / RUN / "enrich-report.json").is_file()
    assert (bucket / "runs" / RUN / "documents.jsonl").read_bytes() == b""
    assert not (a / "runs" / RUN / "cleaned.jsonl").exists()  # host A's directory is not B's


def test_a_manifest_not_published_yet_is_not_an_empty_batch(
        hosts: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    a, b, bucket = hosts
    files_a = _on(a, monkeypatch)
    # a crawl killed (or cut off from the store) before it published anything
    _crawled(files_a, {"started": "2026-03-01T12:00:00+00:00", "host": "crawl-host-7"}, LINES)

    _on(b, monkeypatch)
    with pytest.raises(BatchNotReady, match="not put its files into the object store"):
        pipeline.clean(RUN)
    assert not (bucket / "runs" / RUN / "cleaned.jsonl").exists()

    # host A (whose crawl was killed) processes it from its own copy, and publishes the manifest
    _on(a, monkeypatch)
    assert pipeline.clean(RUN).counts["responses"] == 3
    assert (bucket / "runs" / RUN / "manifest.jsonl").read_bytes() == (a / "runs" / RUN / "manifest.jsonl").read_bytes()
    _on(b, monkeypatch)
    assert pipeline.clean(RUN).counts["responses"] == 3


def test_a_finished_crawl_without_a_manifest_is_an_empty_batch(
        hosts: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    a, b, _ = hosts
    files_a = _on(a, monkeypatch)
    _crawled(files_a, {"started": "2026-03-01T12:00:00+00:00", "finished": "2026-03-01T12:00:05+00:00"}, None)
    files_a.publish(RUN, "batch.json")
    _on(b, monkeypatch)
    assert pipeline.clean(RUN).counts["responses"] == 0
