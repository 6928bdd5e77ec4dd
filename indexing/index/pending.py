"""Documents waiting for the search engine: ``data_dir/pending/<run_id>.jsonl``.

Every run first writes its cleaned documents here, then flushes the whole queue, oldest run
first. When the engine is down, the files stay and the next run indexes them before its own.
Progress inside a file is kept in ``<run_id>.offset`` (lines done), so a run killed half-way
resumes where it stopped; even without it, re-indexing is harmless because ``_id`` comes from
the canonical URL (the document count never changes on a re-run).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from indexing.engine import EngineUnavailable
from indexing.fileio import atomic_write_text, atomic_writer
from indexing.index.bulk import dead_letter_dir, write_dead_letters
from indexing.settings import Settings

log = logging.getLogger(__name__)

IndexFn = Callable[[list[dict[str, Any]]], Mapping[str, Any]]
_SAFE_RUN_ID = re.compile(r"[^A-Za-z0-9._-]")


class PendingQueue:
    """The on-disk queue of documents not yet confirmed by the search engine."""

    def __init__(self, directory: Path, *, batch_size: int, dead_letters: Path) -> None:
        self.path = directory
        self.batch_size = max(1, batch_size)
        self.dead_letters = dead_letters

    @classmethod
    def from_settings(cls, settings: Settings, *, batch_size: int | None = None) -> PendingQueue:
        """The queue in ``settings.data_dir/pending`` (batches of four bulk chunks unless given)."""
        return cls(settings.data_dir / "pending", batch_size=batch_size or settings.bulk_chunk_size * 4,
                   dead_letters=dead_letter_dir(settings.data_dir))

    def _file(self, run_id: str) -> Path:
        name = _SAFE_RUN_ID.sub("_", run_id)
        if not name.strip("._"):
            raise ValueError(f"unusable run id {run_id!r}")
        return self.path / f"{name}.jsonl"

    @staticmethod
    def _offset_file(path: Path) -> Path:
        return path.with_suffix(".offset")

    def add(self, run_id: str, docs: Iterable[Mapping[str, Any]]) -> int:
        """Store a run's documents (replacing any earlier file of the same run); returns their number."""
        target = self._file(run_id)
        n = 0
        with atomic_writer(target) as fh:
            for doc in docs:
                fh.write(json.dumps(doc, ensure_ascii=False, default=str) + "\n")
                n += 1
        self._offset_file(target).unlink(missing_ok=True)
        log.debug("%d documents pending in %s", n, target)
        return n

    def files(self) -> list[Path]:
        """Pending files, oldest first (so a newer copy of a document wins)."""
        if not self.path.is_dir():
            return []
        return sorted(self.path.glob("*.jsonl"), key=lambda p: (p.stat().st_mtime, p.name))

    def _done(self, path: Path) -> int:
        try:
            return int(self._offset_file(path).read_text().strip() or 0)
        except (FileNotFoundError, ValueError):
            return 0

    def _set_done(self, path: Path, lines: int) -> None:
        atomic_write_text(self._offset_file(path), str(lines))

    def count(self) -> int:
        """Documents still waiting."""
        total = 0
        for path in self.files():
            with path.open("rb") as fh:
                lines = sum(1 for line in fh if line.strip())
            total += max(0, lines - self._done(path))
        return total

    def flush(self, index_fn: IndexFn) -> dict[str, int]:
        """Index every pending document through ``index_fn`` (a batch -> counts); sums the counts.

        On :class:`EngineUnavailable` the progress made is saved and the exception re-raised with
        the number of documents still pending: the run must fail loudly.
        """
        totals: dict[str, int] = {}
        for path in self.files():
            self._flush_file(path, index_fn, totals)
            path.unlink()
            self._offset_file(path).unlink(missing_ok=True)
            log.info("pending file %s indexed", path.name)
        totals.setdefault("failed", 0)
        return totals

    def _flush_file(self, path: Path, index_fn: IndexFn, totals: dict[str, int]) -> None:
        done = self._done(path)
        batch: list[dict[str, Any]] = []
        bad: list[dict[str, Any]] = []
        line_no = 0

        def send(upto: int) -> None:
            nonlocal batch, bad
            if bad:  # before the offset moves past them
                write_dead_letters(bad, self.dead_letters)
                totals["failed"] = totals.get("failed", 0) + len(bad)
                bad = []
            if batch:
                try:
                    counts = index_fn(batch)
                except EngineUnavailable as exc:
                    raise EngineUnavailable(
                        f"{exc}; {self.count()} documents stay pending in {self.path}",
                        status=exc.status) from exc
                for k, v in counts.items():
                    if isinstance(v, int):
                        totals[k] = totals.get(k, 0) + v
            self._set_done(path, upto)
            batch = []

        with path.open(encoding="utf-8") as fh:
            for line in fh:
                if not line.strip():
                    continue
                line_no += 1
                if line_no <= done:
                    continue
                try:
                    doc = json.loads(line)
                    if not isinstance(doc, dict):
                        raise ValueError("not a JSON object")
                except ValueError as exc:
                    bad.append({"reason": f"corrupt pending line {path.name}:{line_no}: {exc}",
                                "document": line[:2000]})
                    continue
                batch.append(doc)
                if len(batch) >= self.batch_size:
                    send(line_no)
            send(line_no)
