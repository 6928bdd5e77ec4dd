from __future__ import annotations

from datetime import UTC, datetime

import pytest

from indexing.dates import date_from_url, parse_date, parse_text_date, writes_day_first


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-10-28T17:42:00-04:00", datetime(2024, 10, 28, 21, 42, tzinfo=UTC)),
        ("2024-10-28T23:42:00+02:00", datetime(2024, 10, 28, 21, 42, tzinfo=UTC)),
        ("2024-10-28T21:42:00Z", datetime(2024, 10, 28, 21, 42, tzinfo=UTC)),
        ("2024-10-28T21:42:00.123+0000", datetime(2024, 10, 28, 21, 42, tzinfo=UTC)),
        ("2024-10-29T03:12:00+05:30", datetime(2024, 10, 28, 21, 42, tzinfo=UTC)),
        ("2024-10-28 21:42", datetime(2024, 10, 28, 21, 42, tzinfo=UTC)),  # naive: taken as UTC
        ("2024-10-28", datetime(2024, 10, 28, tzinfo=UTC)),
        ("Mon, 28 Oct 2024 17:42:00 -0400", datetime(2024, 10, 28, 21, 42, tzinfo=UTC)),
        ("1730151720", datetime(2024, 10, 28, 21, 42, tzinfo=UTC)),
    ],
)
def test_machine_dates_to_utc(value: str, expected: datetime) -> None:
    got = parse_date(value)
    assert got == expected
    assert got is not None and got.tzinfo is not None and got.utcoffset().total_seconds() == 0


@pytest.mark.parametrize(
    "value",
    [
        "",
        "soon",
        "2024-13-45",
        "0000-00-00",
        "1850-01-01",
        None,
        42,
        "x" * 500,
        "2024-10-28T25:61:00Z",
        "2024-10-28T10:00:00+99:00",
    ],
)
def test_bad_dates_are_none(value: object) -> None:
    assert parse_date(value) is None


def test_aware_datetime_normalised() -> None:
    from datetime import timedelta, timezone

    kyiv = timezone(timedelta(hours=2))
    assert parse_date(datetime(2024, 1, 1, 12, tzinfo=kyiv)) == datetime(2024, 1, 1, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Stand: 14. März 2024, 08:15 Uhr", datetime(2024, 3, 14, 8, 15, tzinfo=UTC)),
        ("Publié le 31 mai 2024 à 18h05", datetime(2024, 5, 31, 18, 5, tzinfo=UTC)),
        ("Updated October 28, 2024 at 5:42 pm", datetime(2024, 10, 28, 17, 42, tzinfo=UTC)),
        ("28 жовтня 2024 о 10:15", datetime(2024, 10, 28, 10, 15, tzinfo=UTC)),
        ("15 мая 2024, 10:20", datetime(2024, 5, 15, 10, 20, tzinfo=UTC)),
        ("am 28.10.2024 um 17:42", datetime(2024, 10, 28, 17, 42, tzinfo=UTC)),
        ("Actualizado el 8 de mayo de 2022", datetime(2022, 5, 8, tzinfo=UTC)),
        ("08 de Mayo 2022 | 6:00 h", datetime(2022, 5, 8, tzinfo=UTC)),
        ("29 marca 2020 roku", datetime(2020, 3, 29, tzinfo=UTC)),
        ("5 listopada 2021 o 12:30", datetime(2021, 11, 5, 12, 30, tzinfo=UTC)),
        ("1 maj 2023", datetime(2023, 5, 1, tzinfo=UTC)),
        ("12 settembre 2021", datetime(2021, 9, 12, tzinfo=UTC)),
        ("3 de março de 2020", datetime(2020, 3, 3, tzinfo=UTC)),
        ("Juni 19th, 2018 | Social Media", datetime(2018, 6, 19, tzinfo=UTC)),
        ("2022/05/10 17:36:11", datetime(2022, 5, 10, 17, 36, tzinfo=UTC)),
        ("Stand 25/05/2022", datetime(2022, 5, 25, tzinfo=UTC)),  # the day cannot be the month
        ("posted 05/25/2022", datetime(2022, 5, 25, tzinfo=UTC)),
    ],
)
def test_text_dates(text: str, expected: datetime) -> None:
    assert parse_text_date(text) == expected


@pytest.mark.parametrize("text", ["10/05/2022", "11/01/2023 12:43:42", "31/31/2022", "Zorblat 12 Quintavex 2020"])
def test_a_date_whose_day_and_month_cannot_be_told_apart_is_unknown(text: str) -> None:
    """10 May in Bogotá, 5 October in Boston: no guess."""
    assert parse_text_date(text) is None


@pytest.mark.parametrize(
    ("locale", "day_first"),
    [("de", True), ("es-CO", True), ("uk-UA", True), ("en_GB", True), ("en-IN", True), ("fr-CA", True),
     ("en", False), ("en-US", False), ("en-ca", False), ("", False), (None, False), ("x", False), ("123", False)],
)
def test_which_locales_write_the_day_first(locale: str | None, day_first: bool) -> None:
    assert writes_day_first(locale) is day_first


def test_an_ambiguous_slash_date_is_read_day_first_where_the_page_writes_it_so() -> None:
    assert parse_text_date("10/05/2022", dayfirst=True) == datetime(2022, 5, 10, tzinfo=UTC)
    assert parse_date("11/01/2023 12:43:42", dayfirst=True) == datetime(2023, 1, 11, tzinfo=UTC)
    assert parse_text_date("05/25/2022", dayfirst=True) == datetime(2022, 5, 25, tzinfo=UTC)  # 25 is no month
    assert parse_text_date("10/05/2022") is None


def test_an_iso_day_with_a_time_no_parser_takes_keeps_its_day() -> None:
    """JSON-LD as a CMS wrote it ("2018-11-28CET11:59:00+0100"): the day is still the page's."""
    assert parse_date("2018-11-28CET11:59:00+0100") == datetime(2018, 11, 28, tzinfo=UTC)
    assert parse_date("2018-13-28CET11:59") is None
    assert parse_date("2023-1-26") == datetime(2023, 1, 26, tzinfo=UTC)  # month and day not padded


def test_url_dates() -> None:
    assert date_from_url("https://x.example/2024/10/28/some-story/") == datetime(2024, 10, 28, tzinfo=UTC)
    assert date_from_url("https://x.example/news/2019-11-18-story") == datetime(2019, 11, 18, tzinfo=UTC)
    assert date_from_url("https://x.example/story-12345678") is None
    assert date_from_url(None) is None
