"""indexing.dates: the one date module. Every parser returns aware UTC or None, never raises."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from indexing.dates import (
    FUTURE_TOLERANCE,
    clamp,
    date_from_url,
    iso,
    parse_date,
    parse_http_date,
    parse_iso,
    parse_text_date,
)

NOW = datetime(2024, 5, 3, 12, tzinfo=UTC)


def test_future_tolerance_relative_to_injected_now() -> None:
    assert parse_date("2024-05-04T11:00:00Z", now=NOW) == datetime(2024, 5, 4, 11, tzinfo=UTC)
    assert parse_date("2024-05-04T13:00:00Z", now=NOW) is None  # beyond now + 1 day
    assert clamp(NOW + FUTURE_TOLERANCE, now=NOW) == NOW + FUTURE_TOLERANCE
    assert clamp(NOW + FUTURE_TOLERANCE + timedelta(seconds=1), now=NOW) is None
    assert parse_text_date("am 28.10.2024 um 17:42", now=NOW) is None  # future for that clock
    assert date_from_url("https://x.example/2024/10/28/a", now=NOW) is None


@pytest.mark.parametrize(
    "value",
    [
        "0001-01-01T00:00:00+01:00",  # .NET's empty date: the UTC shift leaves datetime's range
        "0001-01-01T00:00:00",
        "9999-12-31T23:59:59-01:00",
        "Mon, 01 Jan 0001 00:00:00 +0100",
        "Fri, 31 Dec 9999 23:59:59 -1200",
        "1989-12-31T23:59:59Z",
        "9" * 30,
        b"\xff\xfe",
        datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1))),
        datetime.max.replace(tzinfo=timezone(timedelta(hours=-1))),
        float("nan"),
        object(),
    ],
)
def test_poisoned_values_are_none_not_errors(value: object) -> None:
    assert parse_date(value, now=NOW) is None


def test_parse_iso_has_no_window_but_never_raises() -> None:
    assert parse_iso("1850-01-01") == datetime(1850, 1, 1, tzinfo=UTC)
    assert parse_iso(date(2024, 1, 2)) == datetime(2024, 1, 2, tzinfo=UTC)
    assert parse_iso("2024-10-28T23:42:00+02:00") == datetime(2024, 10, 28, 21, 42, tzinfo=UTC)
    assert parse_iso("0001-01-01T00:00:00+01:00") is None
    assert parse_iso("Tue, 30 Apr 2024 08:00:00 GMT") is None


def test_http_dates() -> None:
    assert parse_http_date(b"Wed, 01 May 2024 00:00:30 GMT") == datetime(2024, 5, 1, 0, 0, 30, tzinfo=UTC)
    assert parse_http_date("Tue, 30 Apr 2024 10:00:00 +0200") == datetime(2024, 4, 30, 8, tzinfo=UTC)
    assert parse_http_date("Tue, 30 Apr 2024 10:00:00 EST") == datetime(2024, 4, 30, 15, tzinfo=UTC)
    assert parse_http_date("soon") is None


def test_iso_output() -> None:
    assert iso(datetime(2024, 10, 28, 23, 42, tzinfo=timezone(timedelta(hours=2)))) == "2024-10-28T21:42:00Z"
    assert iso(None) is None
