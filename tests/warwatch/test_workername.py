from __future__ import annotations

import socket

import pytest

from warwatch.workername import WORKER_NAME_ENV, worker_hostname


def test_a_named_worker_reports_its_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(WORKER_NAME_ENV, "crawl-a")
    assert worker_hostname() == "crawl-a"


@pytest.mark.parametrize("value", [None, "", "  "])
def test_an_unnamed_worker_reports_the_machine(value: str | None, monkeypatch: pytest.MonkeyPatch) -> None:
    if value is None:
        monkeypatch.delenv(WORKER_NAME_ENV, raising=False)
    else:
        monkeypatch.setenv(WORKER_NAME_ENV, value)
    assert worker_hostname() == socket.getfqdn()
