"""The ``{prefix}runs`` index: write a run's figures, read each source's recent runs.

Documents are keyed ``{run_id}:{source}``, so recording a run again (after its later stages
finished, or by the maintenance DAG's catch-up) overwrites instead of adding.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from indexing.engine import Engine, EngineError, NotFound

log = logging.getLogger(__name__)


def doc_id(doc: dict[str, Any]) -> str:
    return f"{doc['run_id']}:{doc['source']}"


def write_figures(engine: Engine, docs: Sequence[dict[str, Any]], *, index: str) -> int:
    """Index (upsert) the documents in one bulk request; raises :class:`EngineError` naming the
    first rejected one (``index``: ``settings.runs_index``). Returns how many were written."""
    if not docs:
        return 0
    ops: list[dict[str, Any]] = []
    for doc in docs:
        ops += [{"index": {"_index": index, "_id": doc_id(doc)}}, doc]
    # visible to the next read at once: a refresh of this small index (a few documents per run)
    # costs less than waiting for its next scheduled one (``wait_for``: up to a second, 0.2-0.3 s
    # measured at the end of every `warwatch run`)
    resp = engine.bulk(ops, refresh=True)
    if resp.get("errors"):
        bad = [item["index"] for item in resp.get("items", []) if item.get("index", {}).get("error")]
        first = bad[0] if bad else {}
        raise EngineError(f"{len(bad)} of {len(docs)} run figures rejected by {index}: "
                          f"{first.get('_id')}: {first.get('error')}")
    return len(docs)


@dataclass
class SourceHistory:
    source: str
    #: the newest runs first
    runs: list[dict[str, Any]] = field(default_factory=list)
    #: finished_at of the newest run that found new articles (any age), None: never
    last_new_at: str | None = None


def read_history(engine: Engine, runs: int, *, index: str,
                 max_sources: int = 1000) -> dict[str, SourceHistory]:
    """The ``runs`` newest documents of every source in the index (at most ``max_sources``),
    with the time each source last had new articles. {} when the index does not exist yet."""
    body = {
        "size": 0,
        "aggs": {"sources": {
            "terms": {"field": "source", "size": max_sources},
            "aggs": {
                "recent": {"top_hits": {"size": min(runs, 100), "sort": [{"finished_at": "desc"}, {"run_id": "desc"}]}},
                "published": {"filter": {"range": {"new": {"gt": 0}}},
                              "aggs": {"last": {"max": {"field": "finished_at"}}}},
            },
        }},
    }
    try:
        resp = engine.search(index, body)
    except NotFound:
        return {}
    out: dict[str, SourceHistory] = {}
    for bucket in resp.get("aggregations", {}).get("sources", {}).get("buckets", []):
        last = bucket["published"]["last"]
        out[bucket["key"]] = SourceHistory(
            source=bucket["key"],
            runs=[h["_source"] for h in bucket["recent"]["hits"]["hits"]],
            last_new_at=last.get("value_as_string") if last.get("value") is not None else None,
        )
    return out
