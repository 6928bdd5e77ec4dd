"""What the DAG files need while Airflow parses them: source ids for the trigger forms and the
schedule intervals. Cheap on purpose (the dag-processor parses every file every few seconds): the
sources file is read once per change (cached on its path, size and mtime), nothing else is touched.
"""

from __future__ import annotations

import functools
import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def _settings() -> Any:
    from indexing.settings import get_settings

    return get_settings()


@functools.lru_cache(maxsize=8)
def _ids(path: str, size: int, mtime_ns: int) -> tuple[str, ...]:
    from indexing.errors import ConfigError
    from indexing.yamlconfig import load_document, read_config

    try:
        doc = load_document(read_config(Path(path), "sources file"), Path(path), ["sources"])
    except ConfigError as exc:
        log.warning("sources file unusable at parse time (%s): the form offers no choices", exc)
        return ()
    entries = None if doc.empty else doc.data.get("sources")
    return tuple(str(e["id"]) for e in entries or [] if isinstance(e, dict) and e.get("id"))


def source_ids() -> list[str]:
    """The ids in the sources file (unvalidated: the crawl validates it and fails loudly)."""
    try:
        path = Path(_settings().sources)
        stat = path.stat()
    except (OSError, ValueError) as exc:
        log.warning("no sources file at parse time (%s)", exc)
        return []
    return list(_ids(str(path.resolve()), stat.st_size, stat.st_mtime_ns))


def sources_param(description: str) -> dict[str, Any]:
    """The keyword arguments of the ``sources`` Param of a trigger form (the DAG file wraps them in
    ``airflow.sdk.Param``: this layer does not import Airflow): a list of source ids, validated
    against the sources file. The Airflow 3 UI draws a multi-select for an array with ``examples``
    (a list without them is a plain text box, one value per line); ``items.enum`` makes the server
    refuse an unknown id. Empty or cleared (the UI sends null): every source."""
    ids = source_ids()
    items: dict[str, Any] = {"type": "string", "enum": ids} if ids else {"type": "string", "pattern": "^[a-z0-9-]+$"}
    extra: dict[str, Any] = {"examples": ids} if ids else {}
    return {"default": [], "type": ["array", "null"], "items": items, "uniqueItems": True, "title": "Sources",
            "description": description, **extra}


def feeds_interval() -> timedelta:
    return timedelta(minutes=_settings().pipeline.feeds_interval_minutes)


def process_catchup_interval() -> timedelta:
    return timedelta(minutes=_settings().pipeline.process_catchup_minutes)


def crawl_timeout() -> timedelta:
    """A crawl task's execution_timeout: the budget, the grace to stop, the grace to kill, slack."""
    p = _settings().pipeline
    return timedelta(seconds=p.crawl_budget_seconds + 3 * p.crawl_grace_seconds + 60)


def max_parallel_crawls() -> int:
    return int(_settings().pipeline.max_parallel_crawls)
