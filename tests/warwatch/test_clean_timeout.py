"""The clean stage's per-page time bound: one page whose extraction never finishes is stopped,
counted ``extraction_timeout`` and listed for a reprocess; every good page of the batch is cleaned."""

from __future__ import annotations

import importlib
import json
import os
from pathlib import Path

import pytest

import indexing.extraction
from indexing.settings import reset_settings
from tests.conftest import REPO_ROOT
from tests.warwatch import poison
from warwatch import pipeline

clean_module = importlib.import_module("warwatch.pipeline.clean")  # the package exports the function

PAGES = REPO_ROOT / "tests" / "fixtures" / "pages"
GOOD = {f"http://news.example/{name}/": PAGES / f"{name}.html"
        for name in ("de-zeitung", "en-wire", "fr-journal", "uk-novyny")}


def _archive(data_dir: Path, rid: str, pages: dict[str, bytes]) -> None:
    from datetime import UTC, datetime

    from indexing.archive import WarcWriter, append_manifest

    rdir = pipeline.run_dir(rid)
    with WarcWriter(data_dir / "warc", "test") as writer:
        for url, body in pages.items():
            now = datetime.now(UTC)
            path, offset = writer.write_response(url, 200, {"Content-Type": "text/html; charset=utf-8"}, body, now)
            append_manifest(rdir / "manifest.jsonl", {
                "url": url, "final_url": url, "status": 200, "fetched_at": now.isoformat(),
                "warc_file": str(path.relative_to(data_dir)), "warc_offset": offset, "source": "fixture",
                "content_type": "text/html; charset=utf-8", "fingerprint": "x"})


def test_a_page_that_hangs_the_extractor_is_stopped_and_the_batch_goes_on(
        data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WARWATCH_PIPELINE__CLEAN_PAGE_TIMEOUT_SECONDS", "3")
    monkeypatch.setenv(poison.PARENT_ENV, str(os.getpid()))
    reset_settings()
    monkeypatch.setattr(clean_module, "EXTRACTOR", "tests.warwatch.poison:extract")
    monkeypatch.setattr(indexing.extraction, "extract", poison.extract)  # the stage's own process

    poisoned = poison.MARK + (PAGES / "en-wire.html").read_bytes()
    good = {url: path.read_bytes() for url, path in GOOD.items()}
    urls = list(good)
    # The poisoned page in the middle: the pages after it are cleaned by a fresh worker.
    pages = {**dict(list(good.items())[:2]), "http://news.example/poisoned/": poisoned,
             **dict(list(good.items())[2:])}
    rid = pipeline.new_run_id()
    _archive(data_dir, rid, pages)

    result = pipeline.clean(rid)
    assert result.counts["responses"] == 5
    assert result.counts["articles"] == len(good)
    assert result.counts["extraction_timeout"] == 1
    cleaned = [json.loads(x) for x in (data_dir / "runs" / rid / "cleaned.jsonl").read_text().splitlines()]
    assert [rec["crawl"]["url"] for rec in cleaned] == urls
    report = json.loads((data_dir / "runs" / rid / "clean-report.json").read_text())
    assert report["extraction_timeout"] == 1
    stopped = report["extraction_timeouts"]
    assert [(s["url"], s["reason"]) for s in stopped] == [("http://news.example/poisoned/", "extraction_timeout")]
    # Listed with its capture: a reprocess finds it in the archive.
    from indexing.archive import read_record

    assert poison.MARK in read_record(data_dir / stopped[0]["warc_file"], int(stopped[0]["warc_offset"])).body


def test_the_worker_does_not_rerun_the_parents_main_script(tmp_path: Path) -> None:
    """Inside an Airflow task the main script is the ``airflow`` command: a worker that re-ran
    it (multiprocessing's spawn does) initialised Airflow without a database and died, and every
    batch's clean task failed. A main script that refuses to be imported again stands in for it."""
    import subprocess
    import sys

    script = tmp_path / "task_runner.py"
    script.write_text(
        "import sys\n"
        "if __name__ != '__main__':\n"
        "    raise SystemExit('the main script was run again in the worker')\n"
        "from warwatch.pipeline.extractor import BoundedExtractor\n"
        "html = b'<html><head><title>T</title></head><body><article><p>' + b'Word ' * 80 + b'</p></article></body></html>'\n"
        "with BoundedExtractor(60) as ex:\n"
        "    print('TITLE', ex.extract(html, 'https://example.org/a').title)\n",
        encoding="utf-8")
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300,
                          cwd=Path(__file__).resolve().parents[2])
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "TITLE T" in proc.stdout


def test_a_worker_that_cannot_start_says_so_and_the_run_reports_a_problem() -> None:
    """A broken installation (the extractor's import fails) is an error the run reports, not a
    batch of pages quietly counted one by one."""
    from warwatch.pipeline.extractor import BoundedExtractor, ExtractionCrashed
    from warwatch.pipeline.report import problems

    with BoundedExtractor(30.0, "tests.no_such_module:extract") as extractor, \
            pytest.raises(ExtractionCrashed, match="exited while starting"):
        extractor.extract(b"<html></html>", None)
    merged = {"clean": {"responses": 3, "failed:extraction_crashed": 3}}
    assert any("crashed on every page" in p for p in problems(merged))
    some = {"clean": {"responses": 3, "articles": 2, "failed:extraction_crashed": 1}}  # one bad page
    assert not problems(some)


def test_a_worker_starts_without_warnings_on_stderr(capfd: pytest.CaptureFixture[str]) -> None:
    """Every `warwatch run` starts a worker: its start must not print runpy's warning about a module
    found in sys.modules (which ``python -m warwatch.pipeline.extractor`` did)."""
    from warwatch.pipeline.extractor import BoundedExtractor

    with BoundedExtractor(60.0) as extractor:
        article = extractor.extract(GOOD["http://news.example/en-wire/"].read_bytes(), "http://news.example/en-wire/")
    assert article.title
    assert "Warning" not in capfd.readouterr().err
