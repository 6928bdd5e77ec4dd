"""Monthly articles indices behind the alias (issue #18 §3): writes go to the document's
first-seen month and stay there, search and lookups by id span every month, retention drops whole
months, ``migrate`` moves a one-index layout onto months."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from indexing.engine import Engine
from indexing.index import partitions
from indexing.index.bulk import index_documents
from indexing.index.documents import article_to_document
from indexing.index.setup import articles_alias, migrate, setup_indices, versions_index
from indexing.index.versions import get_versions
from indexing.settings import Settings


def test_month_rules() -> None:
    assert partitions.month_of("2026-11-30T23:30:00-02:00") == "2026.12"  # UTC decides
    assert partitions.month_of("2026-01-05T00:00:00+00:00") == "2026.01"
    assert partitions.partition_name("p-articles", 2, "2026.11") == "p-articles-v2-2026.11"
    assert partitions.parse_partition("p-articles", "p-articles-v2-2026.11") == (2, "2026.11")
    for other in ("p-articles-v2", "p-articles-v2-2026.1", "q-articles-v2-2026.11", "p-articles-v2-2026.11x"):
        assert partitions.parse_partition("p-articles", other) is None
    now = datetime(2026, 3, 10, tzinfo=UTC)
    assert partitions.retention_cutoff(1, now) == "2026.03"
    assert partitions.retention_cutoff(3, now) == "2026.01"
    assert partitions.retention_cutoff(4, now) == "2025.12"
    with pytest.raises(ValueError):
        partitions.retention_cutoff(0, now)
    stored = {"first_seen": "2026-01-02T00:00:00+00:00", "fetched_at": "2026-02-01T00:00:00+00:00"}
    assert partitions.first_seen({"fetched_at": "2026-03-01T00:00:00+00:00"}, stored) == stored["first_seen"]
    assert partitions.first_seen({"fetched_at": "2026-03-01T00:00:00+00:00"}, {"fetched_at": "2026-02-01"}) \
        == "2026-02-01"
    assert partitions.first_seen({"fetched_at": "2026-03-01T00:00:00+00:00"}, None) == "2026-03-01T00:00:00+00:00"


def _doc(i: int, fetched: str, body: str = "Erste Fassung.") -> dict:
    url = f"https://news.example/{i}"
    return article_to_document({"title": f"Bericht {i}", "body": f"{body} Nummer {i}.", "language": "de",
                                "canonical_url": url}, source="test", url=url, fetched_at=fetched)


OCT, NOV, LATER = "2026-10-15T08:00:00+00:00", "2026-11-15T08:00:00+00:00", "2031-05-15T08:00:00+00:00"


def _monthly(settings: Settings) -> Settings:
    """``settings`` with ``pipeline.index_partition: monthly``."""
    return settings.model_copy(update={"pipeline": settings.pipeline.model_copy(update={"index_partition": "monthly"})})


@pytest.fixture
def monthly(engine: Engine, es_settings: Settings) -> Engine:
    setup_indices(engine, es_settings.index_prefix, partition="monthly")
    return engine


def _behind(engine: Engine, prefix: str) -> list[str]:
    return sorted(engine.get_alias(articles_alias(prefix)))


def test_writes_go_to_the_first_seen_month_and_stay_there(monthly: Engine, es_settings: Settings,
                                                           index_prefix: str) -> None:
    engine, alias, settings = monthly, articles_alias(index_prefix), _monthly(es_settings)
    this_month = partitions.partition_name(alias, 2, partitions.month_of(None))
    assert _behind(engine, index_prefix) == [this_month]  # setup made the current month
    docs = [_doc(i, OCT if i < 3 else NOV) for i in range(5)]
    assert index_documents(engine, docs, refresh=True, settings=settings)["created"] == 5
    oct_, nov = (partitions.partition_name(alias, 2, m) for m in ("2026.10", "2026.11"))
    assert _behind(engine, index_prefix) == sorted([oct_, nov, this_month])
    assert engine.count(oct_) == 3 and engine.count(nov) == 2 and engine.count(alias) == 5

    # Fetched again years later, two of them edited: same index, new versions, no duplicate.
    again = [_doc(i, LATER, body="Zweite Fassung." if i in (0, 4) else "Erste Fassung.") for i in range(5)]
    counts = index_documents(engine, again, refresh=True, settings=settings)
    assert (counts["created"], counts["updated"], counts["unchanged"], counts["versions"]) == (0, 2, 3, 2), counts
    assert partitions.partition_name(alias, 2, "2031.05") not in _behind(engine, index_prefix)
    assert engine.count(oct_) == 3 and engine.count(nov) == 2 and engine.count(alias) == 5

    # Lookups by id find a document in any month (GET alias/_doc/id would fail on this alias).
    history = get_versions(docs[0]["id"], engine=engine, prefix=index_prefix)
    assert [v.get("version") for v in history] == [1, 2] and history[-1]["current"]
    assert history[-1]["first_seen"] == OCT and "Zweite" in history[-1]["body"]
    found = partitions.find_documents(engine, alias, [d["id"] for d in docs] + ["missing"])
    assert sorted(found) == sorted(d["id"] for d in docs)
    assert {found[d["id"]]["_index"] for d in docs[:3]} == {oct_}

    # Retention keeps two months counted back from December 2026: October goes, whole.
    dec = datetime(2026, 12, 20, tzinfo=UTC)
    vindex = versions_index(index_prefix)
    dry = partitions.drop_old_months(engine, alias, vindex, 2, now=dec, dry_run=True)
    assert dry["dropped"] == [oct_] and engine.index_exists(oct_)
    assert partitions.drop_old_months(engine, alias, vindex, None, now=dec)["dropped"] == []
    out = partitions.drop_old_months(engine, alias, vindex, 2, now=dec)
    assert out["dropped"] == [oct_] and not engine.index_exists(oct_)
    assert out["versions_deleted"] == 1  # doc 0's old version (first seen in October); doc 4's stays
    engine.refresh(alias)
    assert engine.count(alias) == 2 and engine.index_exists(nov)
    kept = get_versions(docs[4]["id"], include_current=False, engine=engine, prefix=index_prefix)
    assert [v["doc_id"] for v in kept] == [docs[4]["id"]]


def test_migrate_moves_one_index_onto_months(engine: Engine, es_settings: Settings, index_prefix: str) -> None:
    single = setup_indices(engine, index_prefix, partition="none")
    assert single.endswith("articles-v2")
    docs = [_doc(i, OCT if i % 2 else NOV) for i in range(6)]
    index_documents(engine, docs, refresh=True, settings=es_settings)
    settings = _monthly(es_settings)
    alias = articles_alias(index_prefix)
    newest = migrate(engine, index_prefix, partition="monthly")
    months = [partitions.partition_name(alias, 2, m) for m in ("2026.10", "2026.11")]
    assert newest == months[-1] and _behind(engine, index_prefix) == months
    assert engine.count(months[0]) == 3 and engine.count(months[1]) == 3
    hits = engine.search(alias, {"query": {"match_all": {}}, "size": 20, "_source": ["first_seen"]})["hits"]["hits"]
    assert sorted(h["_id"] for h in hits) == sorted(d["id"] for d in docs)
    assert all(h["_source"]["first_seen"] in (OCT, NOV) for h in hits)
    assert migrate(engine, index_prefix, partition="monthly") == newest  # idempotent: nothing moves
    assert _behind(engine, index_prefix) == months and engine.count(alias) == 6
    # Writes after the migration land in the documents' months, not in the old index.
    index_documents(engine, [_doc(1, LATER, body="Neu.")], refresh=True, settings=settings)
    assert engine.count(alias) == 6 and engine.count(months[0]) == 3
    # And back to one index (the reindex path reads every month behind the alias).
    back = migrate(engine, index_prefix, target_version=3, partition="none")
    assert _behind(engine, index_prefix) == [back] and engine.count(back) == 6
