from __future__ import annotations

import pytest

from indexing.enrich import expand_query
from indexing.enrich.text import normalize_word


def _norm(items: list[str]) -> set[str]:
    return {" ".join(normalize_word(w) for w in i.split()) for i in items}


def test_english_query_expands_to_every_language() -> None:
    exp = expand_query("North Korean troops")
    assert exp.topics == ["north-korean-troops-in-russia"]
    assert "north-korea" in exp.entities
    terms = _norm(exp.terms)
    for form in ["nordkoreanische truppen", "troupes nord-coreennes", "північнокорейські війська",
                 "северокорейские войска", "nordkorea", "coree du nord", "північна корея", "северная корея"]:
        assert form in terms, form
    assert exp.residual == ""
    assert "nordkoreanisch*" in exp.wildcard_terms


@pytest.mark.parametrize(
    "query",
    ["nordkoreanische Truppen", "troupes nord-coréennes", "північнокорейські війська", "северокорейских солдат"],
)
def test_same_topic_from_any_language(query: str) -> None:
    exp = expand_query(query)
    assert "north-korean-troops-in-russia" in exp.topics
    assert "north korean troops" in _norm(exp.terms)


def test_entities_only_query_and_groups() -> None:
    exp = expand_query("Nordkorea Kursk")
    assert exp.topics == []
    assert exp.entities == ["north-korea", "kursk"]
    kursk = exp.groups[1]
    assert (kursk.kind, kursk.id, kursk.matched) == ("entity", "kursk", "Kursk")
    assert {"Курськ", "Курск", "Koursk"} <= set(kursk.phrases())
    assert "Курськ" in exp.for_language("uk")


def test_inflected_query_and_residual() -> None:
    exp = expand_query("Selenskyjs Treffen mit Trump")
    assert exp.entities == ["volodymyr-zelensky", "donald-trump"]
    assert {"Зеленський", "Zelensky", "Зеленский"} <= set(exp.terms)
    assert exp.residual == "Treffen mit"


def test_unknown_query_is_empty() -> None:
    exp = expand_query("weather tomorrow in Hamburg")
    assert exp.is_empty and exp.terms == [] and exp.residual == "weather tomorrow in Hamburg"
