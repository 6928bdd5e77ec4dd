"""Numbers as news text writes them: separators by language, multipliers, ranges, words."""

from __future__ import annotations

import pytest

from indexing.changes.normalize import clean_text
from indexing.changes.numbers import find_numbers, same


def _values(text: str, language: str) -> list[tuple[str, tuple[float, ...]]]:
    return [(n.written, n.values) for n in find_numbers(clean_text(text), language)]


@pytest.mark.parametrize(("text", "language", "written", "value"), [
    ("10,000 people", "en", "10,000", 10_000),
    ("10.000 Menschen", "de", "10.000", 10_000),
    ("10\u00a0000 personnes", "fr", "10 000", 10_000),
    ("10\u202f000 personnes", "fr", "10 000", 10_000),
    ("10'000 Personen", "de", "10'000", 10_000),
    ("1,5 Prozent", "de", "1,5 Prozent", 1.5),
    ("1.5 percent", "en", "1.5 percent", 1.5),
    ("1,500 troops", "en", "1,500", 1_500),
    ("1.500 Soldaten", "de", "1.500", 1_500),
    ("1.5 million", "en", "1.5 million", 1_500_000),
    ("1,5 Mio. Euro", "de", "1,5 Mio.", 1_500_000),
    ("1,5 млн рублей", "ru", "1,5 млн", 1_500_000),
    ("3 тыс. человек", "ru", "3 тыс.", 3_000),
    ("2 тисячі гривень", "uk", "2 тисячі", 2_000),
    ("5 tys. osób", "pl", "5 tys.", 5_000),
    ("2,5 Mrd. Euro", "de", "2,5 Mrd.", 2_500_000_000),
    ("17 milliards d'euros", "fr", "17 milliards", 17_000_000_000),
    ("1.100 millones", "es", "1.100 millones", 1_100_000_000),
    ("51,9 proc.", "pl", "51,9 proc.", 51.9),
    ("12%", "en", "12%", 12),
    ("forty", "en", "forty", 40),
    ("fünf Tote", "de", "fünf", 5),
    ("пять человек", "ru", "пять", 5),
    ("п’ять людей", "uk", "п'ять", 5),
    ("pięć osób", "pl", "pięć", 5),
    ("quinze blessés", "fr", "quinze", 15),
    ("diez años", "es", "diez", 10),
])
def test_each_format_reads_as_its_value(text: str, language: str, written: str, value: float) -> None:
    assert _values(text, language) == [(written, (float(value),))]


def test_a_range_is_one_number_with_two_ends() -> None:
    assert _values("10-12 injured", "en") == [("10-12", (10.0, 12.0))]
    assert _values("10–12 Verletzte", "de") == [("10-12", (10.0, 12.0))]


def test_articles_are_not_number_words() -> None:
    assert _values("un homme et une femme", "fr") == []
    assert _values("un hombre y una mujer", "es") == []
    assert _values("ein Mann", "de") == []


def test_an_ambiguous_separator_matches_either_reading() -> None:
    comma, point = find_numbers("10,000", "en")[0], find_numbers("10.000", "en")[0]
    assert comma.value == 10_000 and point.value == 10.0
    assert same(comma, point)
    assert not same(find_numbers("10,500", "en")[0], find_numbers("10.000", "en")[0])


def test_masked_spans_are_not_numbers() -> None:
    assert find_numbers("on 5 March 2024, 40 died", "en", masked=[(3, 15)])[0].written == "40"


def test_numbers_glued_to_words_are_not_read_inside_them() -> None:
    assert _values("COVID19 and A4", "en") == []
