"""Templates, set-up and migration against the real local node."""

from __future__ import annotations

import threading
import time

import pytest

from indexing.engine import Engine, connect
from indexing.index import templates
from indexing.index.bulk import index_documents
from indexing.index.setup import articles_alias, current_index, migrate, setup_indices, versions_index
from indexing.settings import Settings


def test_setup_is_idempotent(engine: Engine, index_prefix: str) -> None:
    first = setup_indices(engine, index_prefix)
    assert first == f"{index_prefix}articles-v{templates.MAPPING_VERSION}"
    assert setup_indices(engine, index_prefix) == first
    assert list(engine.get_alias(f"{index_prefix}articles")) == [first]
    assert engine.index_exists(versions_index(index_prefix))
    mapping = engine.get_mapping(first)[first]["mappings"]
    assert mapping["_meta"]["mapping_version"] == templates.MAPPING_VERSION
    props = mapping["properties"]
    assert props["body_de"]["analyzer"] == "german"
    assert props["body_uk"]["analyzer"] == "ww_uk"
    assert props["locations"]["type"] == "geo_point"
    for f in ("source", "section", "tags", "language", "topics", "entities", "story_id", "url", "canonical_url"):
        assert props[f]["type"] == "keyword", f
    for f in ("published", "modified", "fetched_at"):
        assert props[f]["type"] == "date", f


def test_mapping_in_the_node_matches_the_code(engine: Engine, index_prefix: str) -> None:
    index = setup_indices(engine, index_prefix)
    props = engine.get_mapping(index)[index]["mappings"]["properties"]
    live: set[str] = set()

    def walk(p: dict, parent: str) -> None:
        for name, spec in p.items():
            live.add(parent + name)
            walk(spec.get("properties", {}), parent + name + ".")
            live.update(f"{parent}{name}.{sub}" for sub in spec.get("fields", {}))

    walk(props, "")
    assert live == templates.mapped_fields()


@pytest.mark.parametrize(
    ("analyzer", "forms"),
    [
        # case forms of one word conflate ...
        ("ww_uk", ["Курськ", "Курська", "Курській", "Курську"]),
        ("ww_uk", ["солдати", "солдатів", "солдатами"]),
        ("ww_uk", ["Україна", "України", "Україні", "Україною"]),
        ("german", ["Truppen", "Truppe"]),
        ("french", ["soldats", "soldat"]),
        ("russian", ["войска", "войск", "войсками"]),
    ],
)
def test_language_analyzers_conflate_inflections(engine: Engine, index_prefix: str, analyzer: str,
                                                 forms: list[str]) -> None:
    index = setup_indices(engine, index_prefix)
    stems = {tuple(engine.analyze({"analyzer": analyzer, "text": f}, index=index)) for f in forms}
    assert len(stems) == 1, stems


def test_ukrainian_analyzer_keeps_words_apart_and_apostrophes(engine: Engine, index_prefix: str) -> None:
    index = setup_indices(engine, index_prefix)
    # ... different words stay different, short words untouched, apostrophe variants unified
    assert engine.analyze({"analyzer": "ww_uk", "text": "Київ Курськ"}, index=index) == ["київ", "курськ"]
    assert engine.analyze({"analyzer": "ww_uk", "text": "США і ЄС"}, index=index) == ["сша", "єс"]
    a = engine.analyze({"analyzer": "ww_uk", "text": "з’явилися"}, index=index)
    b = engine.analyze({"analyzer": "ww_uk", "text": "з'явилися"}, index=index)
    assert a == b and len(a) == 1


def _docs(n: int) -> list[dict]:
    return [{"id": f"doc-{i}", "url": f"https://x.example/{i}", "canonical_url": f"https://x.example/{i}",
             "title": f"Artikel {i}", "title_de": f"Artikel {i}", "body": "Truppen an der Front",
             "body_de": "Truppen an der Front", "language": "de", "source": "x",
             "published": "2024-10-28T10:00:00+00:00"} for i in range(n)]


def test_migrate_reindexes_and_flips_without_a_gap(engine: Engine, es_settings: Settings, index_prefix: str) -> None:
    v1 = setup_indices(engine, index_prefix)
    index_documents(engine, _docs(300), refresh=True, settings=es_settings)
    alias = articles_alias(index_prefix)
    seen: list[int] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def searcher() -> None:
        eng = connect(es_settings)
        try:
            while not stop.is_set():
                seen.append(eng.count(alias, {"query": {"match": {"body_de": "Truppen"}}}))
        except BaseException as exc:  # recorded and asserted below
            errors.append(exc)
        finally:
            eng.close()

    def searches_after(n: int) -> None:
        # searches are counted, not timed: wait (bounded) until the searcher has done n more
        target = len(seen) + n
        deadline = time.monotonic() + 60
        while len(seen) < target and not errors and time.monotonic() < deadline:
            stop.wait(0.01)

    t = threading.Thread(target=searcher)
    t.start()
    try:
        searches_after(3)
        before = len(seen)
        v2 = migrate(engine, index_prefix, target_version=templates.MAPPING_VERSION + 1)
        searches_after(3)
    finally:
        stop.set()
        t.join()
    assert not errors, errors
    assert v2 == f"{index_prefix}articles-v{templates.MAPPING_VERSION + 1}"
    assert current_index(engine, index_prefix) == v2
    # searches before, during and after the flip all saw every document
    assert before >= 3 and len(seen) >= before + 3 and min(seen) == 300, (before, len(seen), min(seen))
    assert engine.count(v2) == 300 and engine.count(v1) == 300
    # Idempotent: a second run changes nothing; setup keeps the newer index.
    assert migrate(engine, index_prefix, target_version=templates.MAPPING_VERSION + 1) == v2
    assert setup_indices(engine, index_prefix) == v2


def test_setup_adds_new_fields_to_the_live_index(engine: Engine, index_prefix: str,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    index = setup_indices(engine, index_prefix)
    original = templates.article_mappings

    def with_extra() -> dict:
        m = original()
        m["properties"]["added_later"] = {"type": "keyword"}
        return m

    monkeypatch.setattr(templates, "article_mappings", with_extra)
    assert setup_indices(engine, index_prefix) == index
    props = engine.get_mapping(index)[index]["mappings"]["properties"]
    assert props["added_later"] == {"type": "keyword"}


def test_setup_adds_new_run_counters_to_an_older_runs_index(engine: Engine, index_prefix: str) -> None:
    """A runs index made before the revisit counters existed gets them (else they are stored but
    cannot be searched or charted: the mapping is not dynamic)."""
    prefix = index_prefix
    runs = f"{prefix}runs"
    older = templates.runs_mappings()
    older["properties"] = {k: v for k, v in older["properties"].items() if not k.startswith(("revisits_", "takedowns_"))}
    engine.create_index(runs, {"mappings": older})
    assert "revisits_due" not in engine.get_mapping(runs)[runs]["mappings"]["properties"]
    setup_indices(engine, prefix)
    props = engine.get_mapping(runs)[runs]["mappings"]["properties"]
    assert props["revisits_due"] == {"type": "integer"} and props["takedowns_confirmed"] == {"type": "integer"}
