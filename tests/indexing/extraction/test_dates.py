from __future__ import annotations

from datetime import UTC, datetime

import pytest

from indexing.dates import date_from_url, parse_date, parse_text_date


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
    ],
)
def test_text_dates(text: str, expected: datetime) -> None:
    assert parse_text_date(text) == expected


def test_url_dates() -> None:
    assert date_from_url("https://x.example/2024/10/28/some-story/") == datetime(2024, 10, 28, tzinfo=UTC)
    assert date_from_url("https://x.example/news/2019-11-18-story") == datetime(2019, 11, 18, tzinfo=UTC)
    assert date_from_url("https://x.example/story-12345678") is None
    assert date_from_url(None) is None
