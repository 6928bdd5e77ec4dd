"""A changed article replaces the current document; earlier versions stay retrievable."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from indexing.engine import Engine, connect
from indexing.index.bulk import index_documents
from indexing.index.documents import article_to_document
from indexing.index.setup import articles_alias, setup_indices, versions_index
from indexing.index.versions import changed_fields, get_versions
from indexing.settings import get_settings

URL = "https://news.example/2024/10/28/truppen"


@pytest.fixture
def engine(index_prefix: str, data_dir: Path) -> Iterator[Engine]:
    eng = connect(get_settings())
    setup_indices(eng, get_settings().index_prefix)
    yield eng
    eng.close()


def _doc(title: str, body: str, modified: str | None = None, topics: list[str] | None = None) -> dict:
    return article_to_document(
        {"title": title, "body": body, "language": "de", "published": "2024-10-28T21:42:00+00:00",
         "modified": modified, "canonical_url": URL},
        source="test", url=URL + "?utm_medium=rss", enrichment={"topics": topics or []},
    )


def test_edits_make_versions_and_unchanged_reruns_do_not(engine: Engine) -> None:
    first = _doc("Truppen in Kursk", "Erste Fassung des Textes.")
    assert index_documents(engine, [first], refresh=True, settings=get_settings())["created"] == 1
    # Same content again: nothing new.
    assert index_documents(engine, [_doc("Truppen in Kursk", "Erste Fassung des Textes.")],
                           refresh=True, settings=get_settings())["unchanged"] == 1
    # The body is corrected and the modified date moves.
    counts = index_documents(engine, [_doc("Truppen in Kursk", "Zweite, korrigierte Fassung.",
                                           modified="2024-10-29T08:00:00+00:00")], refresh=True, settings=get_settings())
    assert counts["updated"] == 1 and counts["versions"] == 1
    # The title changes too.
    index_documents(engine, [_doc("Tausende Truppen in Kursk", "Zweite, korrigierte Fassung.",
                                  modified="2024-10-29T08:00:00+00:00")], refresh=True, settings=get_settings())
    # Only enrichment changes: the document is updated, no version is stored.
    counts = index_documents(engine, [_doc("Tausende Truppen in Kursk", "Zweite, korrigierte Fassung.",
                                           modified="2024-10-29T08:00:00+00:00", topics=["kursk-offensive"])],
                             refresh=True, settings=get_settings())
    assert counts["updated"] == 1 and counts["versions"] == 0
    engine.refresh(versions_index(get_settings().index_prefix))

    assert engine.count(articles_alias(get_settings().index_prefix)) == 1
    history = get_versions(first["id"], engine=engine, prefix=get_settings().index_prefix)
    assert [v["version"] for v in history] == [1, 2, 3]
    assert history[0]["body"] == "Erste Fassung des Textes."
    assert history[0]["changes"] == ["body"]  # `modified` is no change of its own (issue #19)
    assert history[1]["changes"] == ["title"]
    assert history[1]["title"] == "Truppen in Kursk"
    current = history[-1]
    assert current["current"] is True and current["title"] == "Tausende Truppen in Kursk"
    assert current["topics"] == ["kursk-offensive"]


def test_retrying_the_same_edit_stores_one_version(engine: Engine) -> None:
    index_documents(engine, [_doc("A", "eins")], refresh=True, settings=get_settings())
    old = engine.get(articles_alias(get_settings().index_prefix), _doc("A", "eins")["id"])
    # Two runs carrying the same edit (e.g. a retried bulk) after the first already applied it:
    index_documents(engine, [_doc("A", "zwei")], refresh=True, settings=get_settings())
    index_documents(engine, [_doc("A", "zwei")], refresh=True, settings=get_settings())
    engine.refresh(versions_index(get_settings().index_prefix))
    assert engine.count(versions_index(get_settings().index_prefix)) == 1
    assert [v["version"] for v in get_versions(old["id"], engine=engine, include_current=False, prefix=get_settings().index_prefix)] == [1]


def test_changed_fields_ignores_missing_versus_empty() -> None:
    assert changed_fields({"title": "x", "lead": None}, {"title": "x", "lead": ""}) == []
    assert changed_fields({"title": "x"}, {"title": "y", "published": "2024-01-01"}) == ["title", "published"]
