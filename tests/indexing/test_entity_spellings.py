"""One spelling per entity type is written (the index mapping's: people, organizations, places);
the other spelling is still read from enrichments written before."""

from __future__ import annotations

from indexing.enrich import enrich, load_gazetteer
from indexing.index.documents import article_to_document, entity_fields
from indexing.index.templates import article_mappings


def test_enrich_writes_the_mappings_spellings_only() -> None:
    doc = enrich({"title": "NATO", "body": "Volodymyr Zelensky met NATO officials in Kyiv.", "language": "en"},
                 gazetteer=load_gazetteer())
    assert "Volodymyr Zelensky" in doc["people"] and "NATO" in doc["organizations"] and "Kyiv" in doc["places"]
    assert "persons" not in doc and "organisations" not in doc


def test_the_mapping_knows_the_spellings_written() -> None:
    properties = article_mappings()["properties"]
    assert {"people", "organizations", "places"} <= set(properties)
    assert not {"persons", "organisations"} & set(properties)


def test_an_enrichment_written_before_is_still_read() -> None:
    old = {"entities": ["Zelensky", "NATO"], "persons": ["Volodymyr Zelensky"], "organisations": ["NATO"]}
    fields = entity_fields(old)
    assert fields["people"] == ["Volodymyr Zelensky"]
    assert fields["organizations"] == ["NATO"]
    # the mapping's spelling wins where both are present
    both = {**old, "people": ["Vladimir Putin"], "organizations": []}
    assert (entity_fields(both)["people"], entity_fields(both).get("organizations")) == (["Vladimir Putin"], [])
    doc = article_to_document({"title": "t", "body": "b", "language": "en"}, source="s",
                              url="https://s.example/a", enrichment=old)
    assert doc["people"] == ["Volodymyr Zelensky"] and doc["organizations"] == ["NATO"]
    assert "persons" not in doc and "organisations" not in doc
