"""What every stage shares: batch directories, errors, stage counts, JSONL and atomic writes."""

from __future__ import annotations

import json
import logging
import secrets
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from indexing.batchfiles import BatchFiles
from indexing.dates import parse_iso
from indexing.fileio import atomic_write_text
from indexing.runid import is_run_id
from indexing.settings import get_settings
from indexing.storage import S3Storage, Storage, open_storage

log = logging.getLogger(__name__)

_STORAGE: dict[str, Storage] = {}


def capture_storage() -> Storage:
    """Where the WARC files are (``storage`` settings): one client per configuration and process."""
    settings = get_settings()
    key = settings.storage.model_dump_json() + str(settings.data_dir)
    if key not in _STORAGE:
        _STORAGE[key] = open_storage(settings.storage, settings.data_dir)
    return _STORAGE[key]


def batch_files() -> BatchFiles:
    """The one place that decides where batch files live: under ``data/runs`` only (``storage.backend``
    local: nothing else happens), or published to the object store too (s3), so a stage on another
    host reads them. The stages fetch their inputs and publish their outputs through it."""
    settings = get_settings()
    store = capture_storage() if settings.storage.backend == "s3" else None
    if isinstance(store, S3Storage):
        # Without the spool: a batch file's local work copy is not the object (it may be older).
        store = S3Storage(store.client, store.bucket, store.prefix)
    return BatchFiles(settings.runs_dir, store)


ProgressCallback = Callable[[str, int, int | None], None]


class PipelineError(RuntimeError):
    """A stage could not run at all (as opposed to per-record failures, which are counted)."""


class CrawlError(PipelineError):
    pass


class IndexingError(PipelineError):
    pass


class BatchNotReady(PipelineError):
    """The batch's input is not where this host can read it yet (the object store): later."""


@dataclass
class StageCounts:
    stage: str
    counts: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"stage": self.stage, "seconds": round(self.seconds, 3), **dict(self.counts)}


def new_run_id(now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def safe_id(text: str, limit: int = 128) -> str:
    """``text`` made usable as a batch id (Airflow run ids contain ``:`` and ``+``)."""
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in text)[:limit].strip(".") or "batch"


def check_run_id(run_id: str) -> str:
    if not run_id or not is_run_id(run_id) or run_id.startswith("."):
        raise PipelineError(f"bad run id {run_id!r}")
    return run_id


def batch_path(run_id: str) -> Path:
    """``data/runs/<run_id>`` (not created)."""
    return get_settings().runs_dir / check_run_id(run_id)


def run_dir(run_id: str) -> Path:
    path = batch_path(run_id)
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, ensure_ascii=False, default=str))


def jsonl_lines(path: Path) -> Iterator[dict[str, Any]]:
    """Records of a JSONL file; a truncated last line (a killed writer) is skipped with a warning."""
    if not path.exists():
        return
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            line = line.strip()
            if not line:
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                log.warning("%s:%d: unreadable line skipped", path, lineno)


def parse_dt(value: Any) -> datetime | None:
    return parse_iso(value) if value else None
