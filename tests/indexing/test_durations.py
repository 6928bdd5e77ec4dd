"""Durations in settings: the forms people write, and clear errors for the rest."""

from datetime import timedelta

import pytest

from indexing.durations import parse_duration, parse_durations
from indexing.errors import ConfigError
from indexing.settings import get_settings, reset_settings


@pytest.mark.parametrize(("text", "seconds"), [
    ("90", 90), (90, 90), (2.5, 2.5), ("10s", 10), ("5m", 300), ("1h30m", 5400), ("2d", 172800),
    ("1w", 604800), ("PT1H", 3600), ("P1D", 86400), ("5 min", 300),
])
def test_one_duration(text, seconds):
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("bad", ["", "soon", "-5", 0, True, None, "1h" * 40, "10 parsecs"])
def test_not_a_duration(bad):
    with pytest.raises(ValueError):
        parse_duration(bad)


def test_lists_in_every_spelling_are_sorted_and_unique():
    want = [timedelta(seconds=10), timedelta(seconds=30)]
    assert parse_durations("30s, 10s") == want
    assert parse_durations("10 30") == want
    assert parse_durations('["PT30S", 10]') == want
    assert parse_durations(["10s", "30s", "30"]) == want
    with pytest.raises(ValueError):
        parse_durations(["1s"] * 101)


def test_revisit_after_from_the_environment(monkeypatch):
    monkeypatch.setenv("WARWATCH_CHANGES__REVISIT_AFTER", "2s,1s")
    reset_settings()
    try:
        assert get_settings().changes.revisit_after == [timedelta(seconds=1), timedelta(seconds=2)]
        monkeypatch.setenv("WARWATCH_CHANGES__REVISIT_AFTER", "whenever")
        reset_settings()
        with pytest.raises(ConfigError, match="revisit_after"):
            get_settings()
    finally:
        monkeypatch.delenv("WARWATCH_CHANGES__REVISIT_AFTER")
        reset_settings()


def test_default_schedule_grows():
    reset_settings()
    after = get_settings().changes.revisit_after
    assert after[0] == timedelta(hours=1) and after[-1] == timedelta(days=30)
    assert after == sorted(after)
