"""What the pipeline keeps does not grow without bound: finding the batches left to do, retention
of batch files. Scale tests count work (stat calls), never wall time."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from warwatch.pipeline import batches

#: ten times the batches one claim looks at today (``MAX_CLAIM``)
OLD_BATCHES = 10 * batches.MAX_CLAIM


@pytest.fixture
def stat_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every ``os.stat``/``os.lstat`` call (``Path.exists``/``is_dir``/``stat`` go through them)."""
    calls: list[str] = []
    real_stat, real_lstat = os.stat, os.lstat

    def stat(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(os.fspath(path) if not isinstance(path, int) else str(path))
        return real_stat(path, *args, **kwargs)

    def lstat(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(os.fspath(path))
        return real_lstat(path, *args, **kwargs)

    monkeypatch.setattr(os, "stat", stat)
    monkeypatch.setattr(os, "lstat", lstat)
    yield calls


def test_unprocessed_does_not_stat_every_processed_batch(data_dir: Path, stat_calls: list[str]) -> None:
    runs = data_dir / "runs"
    for i in range(OLD_BATCHES):  # processed before the .done markers existed: processed.json only
        (runs / f"2025{i:06d}").mkdir(parents=True)
        (runs / f"2025{i:06d}" / batches.PROCESSED_FILE).write_text("{}")
    for i in range(3):
        (runs / f"2026{i:06d}").mkdir(parents=True)
    batches.mark_processed("2026000001", {})  # processed now: processed.json and its marker
    expected = ["2026000000", "2026000002"]

    assert batches.unprocessed() == expected  # the first look migrates the old batches
    stat_calls.clear()
    assert batches.unprocessed() == expected
    in_runs = [c for c in stat_calls if c.startswith(str(runs))]
    # a few stats per batch left to do, none per processed one (it was 2 per batch: 10,000 here)
    assert len(in_runs) <= 4 * len(expected), in_runs[:20]

    # a marker lost (a crash before the page cache reached the disk) is only a stat more
    (runs / batches.DONE_DIR / "2025000007").unlink()
    assert batches.unprocessed() == expected
    assert (runs / batches.DONE_DIR / "2025000007").exists()
    # a batch without processed.json is never hidden by the markers of others
    (runs / "2026000003").mkdir()
    assert batches.unprocessed() == [*expected, "2026000003"]


# --------------------------------------------------------------------------- retention
DAY = 86400.0
NOW = 1_800_000_000.0
#: what reprocessing makes again from the manifest and the captures
BATCH_FILES = ("cleaned.jsonl", "documents.jsonl", "indexed-ids.txt", "crawl.log")


def _batch(runs: Path, bid: str, *, age_days: float, processed: bool, recorded: bool) -> Path:
    rdir = runs / bid
    rdir.mkdir(parents=True)
    for name in ("manifest.jsonl", "crawl-report.json", *BATCH_FILES, "clean-report.json", "index-report.json"):
        (rdir / name).write_text("x" * 100)
    if processed:
        batches.mark_processed(bid, {})
    if recorded:
        (rdir / "runs-recorded.json").write_text("{}")
    stamp = NOW - age_days * DAY
    for path in rdir.iterdir():
        os.utime(path, (stamp, stamp))
    return rdir


def test_retention_deletes_derived_files_of_old_processed_batches_only(data_dir: Path) -> None:
    from warwatch.pipeline.maintenance import retention

    runs, reports, dead = data_dir / "runs", data_dir / "reports", data_dir / "dead-letter"
    old = _batch(runs, "b-old", age_days=20, processed=True, recorded=True)
    pending = _batch(runs, "b-pending", age_days=20, processed=False, recorded=True)
    unrecorded = _batch(runs, "b-unrecorded", age_days=20, processed=True, recorded=False)
    recent = _batch(runs, "b-recent", age_days=3, processed=True, recorded=True)
    reports.mkdir()
    for bid in ("b-old", "b-recent"):
        (reports / f"{bid}.json").write_text("{}")
    dead.mkdir()
    (dead / "2026-01-01.jsonl").write_text("{}\n")
    (dead / "2027-01-01.jsonl").write_text("{}\n")
    os.utime(dead / "2026-01-01.jsonl", (NOW - 30 * DAY, NOW - 30 * DAY))
    os.utime(dead / "2027-01-01.jsonl", (NOW - DAY, NOW - DAY))

    dry = retention(now=lambda: NOW, dry_run=True)
    assert all((old / n).exists() for n in BATCH_FILES) and (dead / "2026-01-01.jsonl").exists()

    done = retention(now=lambda: NOW)
    assert not any((old / n).exists() for n in BATCH_FILES) and not (reports / "b-old.json").exists()
    assert done["batch_files"] == {"retention_days": 14.0, "batches": 1, "files": 5, "bytes": 402,
                                   "kept_unrecorded": 1,
                                   # the local backend: nothing in an object store to prune
                                   "stored": {"batches": 0, "files": 0, "bytes": 0, "kept_unrecorded": 0}}
    assert dry["batch_files"] == done["batch_files"] and dry["dead_letters"] == done["dead_letters"]
    assert done["dead_letters"]["files"] == 1
    # the evidence and the figures' sources stay; so does everything of the other batches
    assert {p.name for p in old.iterdir()} == {"manifest.jsonl", "crawl-report.json", "clean-report.json",
                                               "index-report.json", "processed.json", "runs-recorded.json"}
    for rdir in (pending, unrecorded, recent):
        assert all((rdir / n).exists() for n in BATCH_FILES), rdir
    assert (reports / "b-recent.json").exists()
    assert sorted(p.name for p in dead.iterdir()) == ["2027-01-01.jsonl"]
    assert batches.unprocessed() == ["b-pending"]

    again = retention(now=lambda: NOW)  # idempotent: nothing left, and the pruned batch is not looked at
    assert again["batch_files"]["batches"] == 0 and again["dead_letters"]["files"] == 0
