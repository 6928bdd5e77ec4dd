"""Headlines with colons must be searchable as typed: a colon is a field only after a field name."""

from __future__ import annotations

import pytest

from indexing.search import is_explicit, neutralise_colons
from indexing.settings import get_settings
from tests.indexing.search_corpus import search_options


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("Report 3: Near the river", "Report 3  Near the river"),
        ("ГУР: перші підрозділи армії КНДР", "ГУР  перші підрозділи армії КНДР"),
        ("Guerre en Ukraine : premiers accrochages", "Guerre en Ukraine premiers accrochages"),
        ("Vorstoß nach Russland: Kiew meldet", "Vorstoß nach Russland  Kiew meldet"),
    ],
)
def test_colons_in_headlines_are_punctuation(typed: str, expected: str) -> None:
    out = neutralise_colons(typed)
    assert out == expected
    assert not is_explicit(out)  # so the cross-lingual expansion still applies


@pytest.mark.parametrize("typed", ["title:Kursk", "source:kyiv-independent AND drones", "body_de:Truppen",
                                   "(language:de OR language:fr) Kursk", "body_*:drone"])
def test_real_fields_stay_fields(typed: str) -> None:
    assert neutralise_colons(typed) == typed
    assert is_explicit(typed)


@pytest.mark.es
def test_headline_with_colon_finds_its_article(index_prefix: str, data_dir: object) -> None:
    from indexing.engine import connect
    from indexing.index.bulk import index_documents
    from indexing.index.documents import article_to_document
    from indexing.index.setup import setup_indices
    from indexing.search import search

    engine = connect(get_settings())
    setup_indices(engine, get_settings().index_prefix)
    titles = [
        "Report 3: Near working repair the had struck",
        "Report 7: The while reported that monday working",
        "Report 12: Working near the river struck again",
    ]
    docs = []
    for i, title in enumerate(titles):
        body = f"{title}. " + " ".join(["Repair crews were working near the river after the strike."] * 5)
        docs.append(article_to_document({"title": title, "body": body, "language": "en"},
                                        source="t", url=f"http://news.example/{i}"))
    index_documents(engine, docs, refresh=True, settings=get_settings())
    for title in titles:
        hits = search(title, size=3, engine=engine, **search_options(get_settings())).hits
        assert hits and hits[0].title == title, (title, [h.title for h in hits])
