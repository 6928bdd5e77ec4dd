"""Replay of interrupted runs: articles a killed crawl archived (manifest line flushed) but
never marked seen (the seen-store commits its marks in batches) are marked at the next start.

The manifest is the source of truth; this makes the seen-store agree with it again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from crawlers.state_base import BaseSeenStore
from indexing.archive import iter_manifest
from indexing.dates import parse_date

logger = logging.getLogger(__name__)


def replay_unfinished_runs(
    store: BaseSeenStore,
    runs_dir: Path,
    current_run_id: str,
    is_live: Callable[[str], bool] = lambda run_id: False,
) -> int:
    """Mark seen what unfinished runs stored but never marked; close those runs (all but
    ``current_run_id``). A run another process is still crawling (``is_live``: its run lock is
    held, see ``crawlers.locks``) is not touched. Returns the number of articles marked."""
    fixed = 0
    for run_id in store.unfinished_runs():
        if run_id != current_run_id and is_live(run_id):
            logger.info("run %s is still crawling in another process: not replayed", run_id)
            continue
        for entry in iter_manifest(runs_dir / run_id / "manifest.jsonl"):
            fixed += _replay_entry(store, entry)
        store.flush()
        if run_id != current_run_id:
            store.run_finished(run_id)
    if fixed:
        logger.info("reconciled %d stored articles from interrupted runs", fixed)
    return fixed


def _replay_entry(store: BaseSeenStore, entry: dict[str, Any]) -> int:
    url = entry.get("url")
    if not isinstance(url, str) or not entry.get("fingerprint"):
        return 0
    known = store.lookup(url)
    if known is not None and known.fingerprint == entry["fingerprint"]:
        return 0
    store.mark_stored(
        url,
        str(entry.get("source")),
        str(entry["fingerprint"]),
        parse_date(entry.get("fetched_at")) or datetime.now(UTC),
        parse_date(entry.get("published_hint")),
        aliases=[a for a in entry.get("aliases", []) if isinstance(a, str)],
        final_url=entry.get("final_url"),
        discovered_via=entry.get("discovered_via"),
        durable=False,  # replayed again from the manifest if this start is killed
    )
    return 1
