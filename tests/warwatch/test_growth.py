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
