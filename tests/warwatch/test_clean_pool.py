"""The clean stage on several extraction workers: the same cleaned articles and documents as one
worker and as the stage's own process, in the same order; a worker that hangs or dies on a page
is counted as with one worker, and the batch goes on."""

from __future__ import annotations

import importlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from indexing.embeddings.parallel import usable_cores
from indexing.settings import get_settings, reset_settings
from tests.warwatch import poison
from tests.warwatch.test_clean_timeout import GOOD, _archive
from warwatch import pipeline
from warwatch.pipeline.extractor import ExtractorPool

clean_module = importlib.import_module("warwatch.pipeline.clean")


def _pages(copies: int) -> dict[str, bytes]:
    """The fixture pages under several URLs each (different pages at different lengths)."""
    return {f"{url}{k}": path.read_bytes() for k in range(copies) for url, path in GOOD.items()}


def _clean_with(data_dir: Path, monkeypatch: pytest.MonkeyPatch, base: str, rid: str,
                workers: int | None) -> tuple[str, list]:
    """Clean (on ``workers`` worker processes; None: in the stage's own process) and enrich a copy
    of batch ``base`` as ``rid``; the cleaned lines and the documents without the batch id."""
    shutil.copytree(data_dir / "runs" / base, data_dir / "runs" / rid)
    reset_settings()
    settings = get_settings()
    pipeline_settings = settings.pipeline.model_copy(update={"clean_workers": workers} if workers else
                                                     {"clean_page_timeout_seconds": None})
    monkeypatch.setattr(clean_module, "get_settings", lambda: settings.model_copy(update={"pipeline": pipeline_settings}))
    pipeline.clean(rid)
    pipeline.enrich(rid)
    docs = [json.loads(x) for x in (data_dir / "runs" / rid / "documents.jsonl").read_text().splitlines()]
    for doc in docs:
        assert doc.pop("run_id") == rid
    return (data_dir / "runs" / rid / "cleaned.jsonl").read_text(), docs


def test_the_pool_cleans_what_one_worker_and_the_own_process_clean(
        data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _archive(data_dir, "base", _pages(2))
    with clean_module._extractor() as pool:  # the default: one worker process per usable core
        assert isinstance(pool, ExtractorPool) and pool.workers == usable_cores()
    with clean_module._extractor(clean_module.PAGES_PER_WORKER - 1) as pool:  # a small batch: one worker
        assert pool.workers == 1
    with clean_module._extractor(64 * clean_module.PAGES_PER_WORKER) as pool:  # never more than the cores
        assert pool.workers == usable_cores()
    monkeypatch.setattr(clean_module, "PAGES_PER_WORKER", 1)  # the pool below is this small batch's
    serial = _clean_with(data_dir, monkeypatch, "base", "one-worker", 1)
    pooled = _clean_with(data_dir, monkeypatch, "base", "three-workers", 3)
    inproc = _clean_with(data_dir, monkeypatch, "base", "in-process", None)
    assert len(serial[1]) == 2 * len(GOOD)
    assert [d["id"] for d in serial[1]] == [d["id"] for d in pooled[1]] == [d["id"] for d in inproc[1]]
    assert serial == pooled == inproc  # cleaned.jsonl byte for byte, documents field for field
    report = json.loads((data_dir / "runs" / "three-workers" / "clean-report.json").read_text())
    assert report["articles"] == report["responses"] == 2 * len(GOOD)


def test_a_hung_and_a_crashed_worker_are_counted_and_the_rest_is_cleaned(
        data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WARWATCH_PIPELINE__CLEAN_PAGE_TIMEOUT_SECONDS", "5")
    monkeypatch.setenv("WARWATCH_PIPELINE__CLEAN_WORKERS", "2")
    monkeypatch.setenv(poison.PARENT_ENV, str(os.getpid()))
    reset_settings()
    monkeypatch.setattr(clean_module, "EXTRACTOR", "tests.warwatch.poison:extract")
    monkeypatch.setattr(clean_module, "PAGES_PER_WORKER", 1)
    good = _pages(2)
    page = next(iter(good.values()))
    pages = {**dict(list(good.items())[:3]), "http://news.example/hangs/": poison.MARK + page,
             "http://news.example/crashes/": poison.CRASH + page, **dict(list(good.items())[3:])}
    _archive(data_dir, "poisoned", pages)

    result = pipeline.clean("poisoned")
    assert result.counts["responses"] == len(pages)
    assert result.counts["articles"] == len(good)
    assert result.counts["extraction_timeout"] == 1 and result.counts["failed:extraction_crashed"] == 1
    cleaned = [json.loads(x) for x in (data_dir / "runs" / "poisoned" / "cleaned.jsonl").read_text().splitlines()]
    assert [rec["crawl"]["url"] for rec in cleaned] == list(good)
    report = json.loads((data_dir / "runs" / "poisoned" / "clean-report.json").read_text())
    assert sorted((s["url"], s["reason"]) for s in report["extraction_timeouts"]) == [
        ("http://news.example/crashes/", "failed:extraction_crashed"),
        ("http://news.example/hangs/", "extraction_timeout")]


def test_the_clean_stage_adopts_the_worker_started_ahead(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``warwatch run`` starts one extraction worker while it crawls (warwatch/pipeline/warm.py):
    the clean stage takes it instead of starting one, cleans what a fresh worker cleans, and stops
    it; a worker started for another bound or extractor is stopped, not used."""
    from warwatch.pipeline.extractor import BoundedExtractor

    _archive(data_dir, "base", _pages(1))
    fresh = _clean_with(data_dir, monkeypatch, "base", "fresh", 1)
    timeout = get_settings().pipeline.clean_page_timeout_seconds
    assert timeout is not None
    ahead = BoundedExtractor(timeout, clean_module.EXTRACTOR)
    ahead.start()
    started: list[BoundedExtractor] = []
    real_start = BoundedExtractor._start
    def counted(self: BoundedExtractor) -> Any:
        started.append(self)
        return real_start(self)

    monkeypatch.setattr(BoundedExtractor, "_start", counted)
    with clean_module.adopting(ahead):
        adopted = _clean_with(data_dir, monkeypatch, "base", "adopted", 1)
    assert adopted == fresh
    assert started == [] and ahead.restarts == 0  # every page went to the worker started ahead
    assert ahead._proc is None  # stopped with the pool
    other = BoundedExtractor(timeout + 1, clean_module.EXTRACTOR)
    other.start()
    with clean_module.adopting(other):
        assert _clean_with(data_dir, monkeypatch, "base", "not-adopted", 1) == fresh
    assert len(started) == 2 and other._proc is None  # its own worker, and the other was stopped
