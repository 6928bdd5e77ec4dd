"""The ``{prefix}changes`` index on the real node: idempotent writes, filters, bounded pages."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from indexing.changes.store import ChangeQuery, article_changes, find_changes, iter_changes, write_records
from indexing.engine import Engine, connect
from indexing.index.bulk import BulkWriter
from indexing.index.setup import changes_index, setup_indices
from indexing.settings import get_settings


@pytest.fixture
def engine(index_prefix: str, data_dir: Path) -> Iterator[Engine]:
    eng = connect(get_settings())
    setup_indices(eng, get_settings().index_prefix)
    yield eng
    eng.close()


def _rec(i: int, kind: str, doc: str, source: str = "a") -> dict:
    return {"id": f"r{i}", "doc_id": doc, "url": f"https://a.example/{doc}", "source": source, "kinds": [kind],
            "changes": [{"kind": kind}], "detected_at": datetime(2026, 12, 1, i, tzinfo=UTC).isoformat()}


def test_records_written_once_filtered_and_paged_newest_first(engine: Engine) -> None:
    index = changes_index(get_settings().index_prefix)
    writer = BulkWriter(engine, max_retries=0, initial_backoff=0, refresh=True)
    records = [_rec(1, "numbers", "d1"), _rec(2, "headline", "d2", "b"), _rec(3, "removed", "d1"),
               _rec(4, "numbers", "d3")]
    assert write_records(writer, index, records) == (4, [])
    assert write_records(writer, index, records[:2]) == (2, [])  # a rerun overwrites
    assert engine.count(index) == 4

    first = find_changes(engine, index, ChangeQuery(size=2))
    assert [r["id"] for r in first.records] == ["r4", "r3"] and first.total == 4 and first.next
    second = find_changes(engine, index, ChangeQuery(size=2, search_after=first.next))
    assert [r["id"] for r in second.records] == ["r2", "r1"]
    assert [r["id"] for r in iter_changes(engine, index, ChangeQuery(), limit=3)] == ["r4", "r3", "r2"]
    assert [r["id"] for r in iter_changes(engine, index, ChangeQuery(kind="numbers"), limit=10)] == ["r4", "r1"]
    assert [r["id"] for r in iter_changes(engine, index, ChangeQuery(source="b"), limit=10)] == ["r2"]
    since = ChangeQuery(since=datetime(2026, 12, 1, 3, tzinfo=UTC))
    assert [r["id"] for r in iter_changes(engine, index, since, limit=10)] == ["r4", "r3"]
    assert [r["id"] for r in article_changes(engine, index, ["d1"])] == ["r1", "r3"]  # oldest first
    assert find_changes(engine, index, ChangeQuery(size=10**6)).records  # capped, not refused
