"""The pure parts of benchmarks/dates.py: the URL's date it checks pages against, and "within a day"."""

from __future__ import annotations

from datetime import date

import pytest

from benchmarks.dates import near, url_date


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://techcrunch.com/2019/11/18/new-york-state/", date(2019, 11, 18)),
        ("https://www.lostiempos.com/actualidad/pais/20220503/juicio", date(2022, 5, 3)),
        ("https://x.example/2022-05-02-story", date(2022, 5, 2)),
        ("https://x.example/2011/07/story.html", None),  # no day
        ("https://x.example/item/120220503999", None),  # digits of a longer number
        ("https://x.example/2021/02/30/", None),  # no such day
        (None, None),
    ],
)
def test_url_date(url: str | None, expected: date | None) -> None:
    assert url_date(url) == expected


def test_near_is_within_one_day_and_never_for_a_missing_date() -> None:
    assert near(date(2019, 11, 19), date(2019, 11, 18))
    assert not near(date(2019, 11, 20), date(2019, 11, 18))
    assert not near(None, date(2019, 11, 18)) and not near(None, None)
