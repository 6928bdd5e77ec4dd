"""What ``warwatch run`` does ahead (warwatch/pipeline/warm.py): pages extracted while the crawl
writes its manifest, taken by the clean stage as they are; a manifest read as it grows. (The
warm start also sets up the search indices: the tests that open one have their own prefix.)"""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path

import pytest

from indexing.settings import get_settings, reset_settings
from tests.warwatch.test_clean_pool import _pages
from tests.warwatch.test_clean_timeout import _archive
from warwatch import pipeline
from warwatch.pipeline import warm as warm_module
from warwatch.pipeline.warm import WarmStart, _new_entries


def test_the_manifest_is_read_as_it_grows_complete_lines_only(tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.jsonl"
    stop = threading.Event()
    seen: list[dict[str, object]] = []
    reader = threading.Thread(target=lambda: seen.extend(_new_entries(manifest, stop)))
    reader.start()  # before the file exists
    with open(manifest, "wb") as fh:
        fh.write(b'{"url": "a"}\n{"url": "b"}\nnot json\n[1]\n{"url": "c"')  # the last line unfinished
        fh.flush()
        deadline = time.monotonic() + 30
        while len(seen) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [e["url"] for e in seen] == ["a", "b"]  # malformed lines left to the clean stage
        fh.write(b', "n": 3}\n')
        fh.flush()
        while len(seen) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
    stop.set()
    reader.join(10)
    assert not reader.is_alive() and [e["url"] for e in seen] == ["a", "b", "c"] and seen[2]["n"] == 3


def test_pages_extracted_while_crawling_are_what_the_clean_stage_writes(
        data_dir: Path, index_prefix: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WARWATCH_EMBEDDINGS__BACKEND", "none")
    reset_settings()
    pages = _pages(1)
    _archive(data_dir, "plain", pages)
    pipeline.clean("plain")
    shutil.copytree(data_dir / "runs" / "plain", data_dir / "runs" / "ahead")
    with WarmStart(get_settings()) as warm:
        with warm.follow("ahead"):  # the crawl: its manifest is there already
            deadline = time.monotonic() + 120
            while len(warm._ahead) < len(pages) and time.monotonic() < deadline:
                time.sleep(0.05)
        assert len(warm._ahead) == len(pages)
        with warm.stage("clean", "ahead"):
            pipeline.clean("ahead")
        assert warm._ahead == {}  # every outcome taken
    report = json.loads((data_dir / "runs" / "ahead" / "clean-report.json").read_text())
    assert report["extracted_ahead"] == len(pages) and report["articles"] == len(pages)
    assert ((data_dir / "runs" / "ahead" / "cleaned.jsonl").read_text()
            == (data_dir / "runs" / "plain" / "cleaned.jsonl").read_text())


def test_extraction_ahead_is_bounded(data_dir: Path, index_prefix: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WARWATCH_EMBEDDINGS__BACKEND", "none")
    reset_settings()
    monkeypatch.setattr(warm_module, "MAX_AHEAD", 2)
    pages = _pages(1)
    _archive(data_dir, "capped", pages)
    with WarmStart(get_settings()) as warm:
        with warm.follow("capped"):
            deadline = time.monotonic() + 120
            while not warm._following.done() and time.monotonic() < deadline:  # type: ignore[union-attr]
                time.sleep(0.05)
        assert len(warm._ahead) == 2  # it stopped there; the clean stage extracts the rest
        with warm.stage("clean", "capped"):
            pipeline.clean("capped")
    report = json.loads((data_dir / "runs" / "capped" / "clean-report.json").read_text())
    assert report["extracted_ahead"] == 2 and report["articles"] == len(pages)

