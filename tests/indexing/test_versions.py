"""A changed article replaces the current document; earlier versions stay retrievable."""

from __future__ import annotations

import pytest

from indexing.engine import Engine
from indexing.index.bulk import index_documents
from indexing.index.documents import article_to_document
from indexing.index.setup import articles_alias, setup_indices, versions_index
from indexing.index.versions import changed_fields, get_versions
from indexing.settings import Settings

URL = "https://news.example/2024/10/28/truppen"


@pytest.fixture
def engine(engine: Engine, es_settings: Settings) -> Engine:
    """The shared fixture's client, with the indices of the test's prefix set up."""
    setup_indices(engine, es_settings.index_prefix)
    return engine


def _doc(title: str, body: str, modified: str | None = None, topics: list[str] | None = None) -> dict:
    return article_to_document(
        {"title": title, "body": body, "language": "de", "published": "2024-10-28T21:42:00+00:00",
         "modified": modified, "canonical_url": URL},
        source="test", url=URL + "?utm_medium=rss", enrichment={"topics": topics or []},
    )


def test_edits_make_versions_and_unchanged_reruns_do_not(engine: Engine, es_settings: Settings) -> None:
    first = _doc("Truppen in Kursk", "Erste Fassung des Textes.")
    assert index_documents(engine, [first], refresh=True, settings=es_settings)["created"] == 1
    # Same content again: nothing new.
    assert index_documents(engine, [_doc("Truppen in Kursk", "Erste Fassung des Textes.")],
                           refresh=True, settings=es_settings)["unchanged"] == 1
    # The body is corrected and the modified date moves.
    counts = index_documents(engine, [_doc("Truppen in Kursk", "Zweite, korrigierte Fassung.",
                                           modified="2024-10-29T08:00:00+00:00")], refresh=True, settings=es_settings)
    assert counts["updated"] == 1 and counts["versions"] == 1
    # The title changes too.
    index_documents(engine, [_doc("Tausende Truppen in Kursk", "Zweite, korrigierte Fassung.",
                                  modified="2024-10-29T08:00:00+00:00")], refresh=True, settings=es_settings)
    # Only enrichment changes: the document is updated, no version is stored.
    counts = index_documents(engine, [_doc("Tausende Truppen in Kursk", "Zweite, korrigierte Fassung.",
                                           modified="2024-10-29T08:00:00+00:00", topics=["kursk-offensive"])],
                             refresh=True, settings=es_settings)
    assert counts["updated"] == 1 and counts["versions"] == 0
    engine.refresh(versions_index(es_settings.index_prefix))

    assert engine.count(articles_alias(es_settings.index_prefix)) == 1
    history = get_versions(first["id"], engine=engine, prefix=es_settings.index_prefix)
    assert [v["version"] for v in history] == [1, 2, 3]
    assert history[0]["body"] == "Erste Fassung des Textes."
    assert history[0]["changes"] == ["body"]  # `modified` is no change of its own (issue #19)
    assert history[1]["changes"] == ["title"]
    assert history[1]["title"] == "Truppen in Kursk"
    current = history[-1]
    assert current["current"] is True and current["title"] == "Tausende Truppen in Kursk"
    assert current["topics"] == ["kursk-offensive"]


def test_retrying_the_same_edit_stores_one_version(engine: Engine, es_settings: Settings) -> None:
    index_documents(engine, [_doc("A", "eins")], refresh=True, settings=es_settings)
    old = engine.get(articles_alias(es_settings.index_prefix), _doc("A", "eins")["id"])
    # Two runs carrying the same edit (e.g. a retried bulk) after the first already applied it:
    index_documents(engine, [_doc("A", "zwei")], refresh=True, settings=es_settings)
    index_documents(engine, [_doc("A", "zwei")], refresh=True, settings=es_settings)
    engine.refresh(versions_index(es_settings.index_prefix))
    assert engine.count(versions_index(es_settings.index_prefix)) == 1
    assert [v["version"] for v in get_versions(old["id"], engine=engine, include_current=False, prefix=es_settings.index_prefix)] == [1]


def test_changed_fields_ignores_missing_versus_empty() -> None:
    assert changed_fields({"title": "x", "lead": None}, {"title": "x", "lead": ""}) == []
    assert changed_fields({"title": "x"}, {"title": "y", "published": "2024-01-01"}) == ["title", "published"]


def test_a_change_that_cannot_be_compared_is_kept_as_a_version() -> None:
    """A field of the wrong type (a bad enrichment, an old document) must not stop the chunk nor
    lose the previous content: written, versioned, counted; no change record is invented."""
    from indexing.index.versions import plan

    old = {"id": "d1", "title": "Truppen", "body": "Erste Fassung des Textes.", "version": 1,
           "content_hash": "a" * 16}
    new = {"id": "d1", "title": "Truppen", "body": "Zweite Fassung des Textes.", "authors": 42}
    out = plan({"d1": old}, [new])
    assert out.uncompared == 1 and out.changes == []
    assert [d["version"] for d in out.documents] == [2]
    assert len(out.versions) == 1 and out.versions[0][1]["body"] == "Erste Fassung des Textes."
