"""The one retry schedule (indexing/retry.py): delays doubled and capped, attempts bounded, the
sleep injected (nothing waits here)."""

from __future__ import annotations

import pytest

from indexing.retry import backoff_delay, retry_call, total_backoff


class Flaky(Exception):
    pass


def test_the_schedule_doubles_and_caps() -> None:
    assert [backoff_delay(i, 0.5) for i in range(5)] == [0.5, 1.0, 2.0, 4.0, 8.0]
    assert [backoff_delay(i, 1.0, cap=3.0) for i in range(4)] == [1.0, 2.0, 3.0, 3.0]
    assert total_backoff(3, 2.0) == 2.0 + 4.0 + 8.0
    assert total_backoff(0, 2.0) == 0


def test_a_call_is_retried_on_the_schedule_until_it_succeeds() -> None:
    sleeps: list[float] = []
    calls = iter([Flaky(), Flaky(), "done"])

    def fn() -> str:
        item = next(calls)
        if isinstance(item, Exception):
            raise item
        return item

    told: list[tuple[int, float]] = []
    result = retry_call(fn, attempts=5, initial=0.25, retryable=lambda e: isinstance(e, Flaky),
                        sleep=sleeps.append, on_retry=lambda e, n, d: told.append((n, d)))
    assert result == ("done", 3)
    assert sleeps == [0.25, 0.5] and told == [(1, 0.25), (2, 0.5)]


def test_attempts_are_bounded_and_the_last_error_raised_or_replaced() -> None:
    sleeps: list[float] = []
    tries = 0

    def fn() -> None:
        nonlocal tries
        tries += 1
        raise Flaky(f"try {tries}")

    with pytest.raises(Flaky, match="try 3"):
        retry_call(fn, attempts=3, initial=1.0, cap=1.5, retryable=lambda e: True, sleep=sleeps.append)
    assert tries == 3 and sleeps == [1.0, 1.5]
    with pytest.raises(RuntimeError, match="gave up after 2") as info:
        retry_call(fn, attempts=2, initial=1.0, retryable=lambda e: True, sleep=sleeps.append,
                   on_give_up=lambda e, n: RuntimeError(f"gave up after {n}"))
    assert isinstance(info.value.__cause__, Flaky)


def test_an_error_that_is_not_retryable_is_raised_at_once() -> None:
    sleeps: list[float] = []

    def fn() -> None:
        raise ValueError("permanent")

    with pytest.raises(ValueError):
        retry_call(fn, attempts=9, initial=1.0, retryable=lambda e: isinstance(e, Flaky), sleep=sleeps.append)
    assert sleeps == []
