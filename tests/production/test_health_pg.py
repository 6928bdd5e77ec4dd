"""Health episodes on Postgres (issue #18 §2, ``state.backend: postgres``): the open episodes are
shared by the checks of every host (``warwatch_health_episodes``), so an episode opened on one host
is closed by a check on another, and two checks at once open it and alert it once.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from indexing.alerts.config import DeliverySettings
from indexing.health import HEALTH_WATCH_ID
from indexing.health.alerting import raise_alerts
from indexing.health.episodes import FileEpisodes, PgEpisodes, open_episodes
from indexing.health.rules import Finding
from indexing.settings import Settings
from indexing.statesettings import StateSettings
from tests.production import services
from tests.production.conftest import fresh_schema
from tests.production.test_dedup_pg import host_envs, run_hosts


@pytest.fixture
def state(postgres: services.Postgres) -> StateSettings:
    return StateSettings(backend="postgres", dsn=fresh_schema(postgres))  # type: ignore[arg-type]


def _host(state: StateSettings, data_dir: Path) -> Settings:
    """The settings of one host: its own data directory, the shared state database."""
    return Settings(data_dir=data_dir, state=state)


def _failing(source: str, since: str) -> Finding:
    return Finding(source, "errors", f"{source}: failing since {since}", since=since, value=0.8, threshold=0.5)


def _check(settings: Settings, *findings: Finding) -> Any:
    return raise_alerts(findings, settings=settings, delivery=DeliverySettings(retries=1, backoff_seconds=0),
                        sleep=lambda s: None)


def _file_alerts(data_dir: Path) -> list[dict[str, Any]]:
    path = data_dir / "alerts" / f"{HEALTH_WATCH_ID}.jsonl"
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


def test_backend_chosen_from_the_state_settings(state: StateSettings, tmp_path: Path) -> None:
    pg = open_episodes(tmp_path / "health.sqlite", state)
    file = open_episodes(tmp_path / "health.sqlite", StateSettings())
    try:
        assert isinstance(pg, PgEpisodes) and isinstance(file, FileEpisodes)
        finding = _failing("site", "run001")
        assert pg.open(finding, "k", "a") and not pg.open(finding, "k", "a")  # the second: already open
        assert file.open(finding, "k", "a") and not file.open(finding, "k", "a")
        assert pg.open_keys() == file.open_keys() == {("site", "errors")}
        assert pg.close(("site", "errors")) and not pg.close(("site", "errors"))
    finally:
        pg.shut()
        file.shut()


def test_an_episode_opened_on_one_host_is_closed_and_reopened_on_another(state: StateSettings,
                                                                           tmp_path: Path) -> None:
    a, b = _host(state, tmp_path / "a"), _host(state, tmp_path / "b")
    first = _check(a, _failing("site", "run001"))
    assert first.opened == ["site/errors"] and first.delivered == 1
    # the same episode seen on the other host: nothing new
    again = _check(b, _failing("site", "run001"))
    assert again.opened == [] and again.delivered == 0
    assert _check(b).closed == ["site/errors"]  # the problem is gone: host b closes a's episode
    assert _check(a).closed == []  # closed once
    back = _check(a, _failing("site", "run004"))  # it comes back: a new episode, a new alert
    assert back.opened == ["site/errors"] and back.delivered == 1
    assert [x["since"] for x in _file_alerts(tmp_path / "a")] == ["run001", "run004"]
    assert not (tmp_path / "a" / "state" / "health.sqlite").exists()


def test_two_hosts_checking_the_same_failing_sources_at_once_open_and_alert_once(state: StateSettings,
                                                                                 tmp_path: Path) -> None:
    sources = 20
    got = run_hosts(host_envs(state, tmp_path), "health", str(sources))
    opened = [key for host in got for key in host["opened"]]  # type: ignore[attr-defined]
    assert sorted(opened) == sorted(f"src-{i}/errors" for i in range(sources))  # each once, by one host
    assert sum(host["delivered"] for host in got) == sources  # type: ignore[misc]
    assert all(host["failures"] == [] for host in got)
    lines = _file_alerts(tmp_path / "host-0") + _file_alerts(tmp_path / "host-1")
    assert sorted(x["source"] for x in lines) == sorted(f"src-{i}" for i in range(sources))
