"""Pipeline health: figures from a run's files, the rules, the runs index on the real node,
health alerts to a real webhook on 127.0.0.1 once per episode, and `warwatch health`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from indexing.engine import connect
from indexing.errors import ConfigError
from indexing.health import (
    HEALTH_WATCH_ID,
    RunNotFound,
    check_health,
    evaluate_rules,
    health_watch,
    record_pending_runs,
    record_run,
    run_figures,
    source_health,
    unrecorded_runs,
)
from indexing.health.store import SourceHistory, read_history
from indexing.index import templates
from indexing.index.setup import runs_index, setup_indices
from indexing.settings import HealthSettings, get_settings, reset_settings
from tests.indexing.test_alerts import _Webhook

T0 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


def _iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def _counts(discovered: int = 5, fetched: int = 5, new: int = 2, failed: dict[str, int] | None = None,
            discovery_failed: dict[str, int] | None = None) -> dict[str, Any]:
    return {"discovered": discovered, "fetched": fetched, "new": new, "updated": 0, "unchanged": fetched - new,
            "duplicates": 0, "skipped_known": 1, "not_modified": 0, "robots_denied": 0, "bytes": 1000,
            "failed": failed or {}, "discovery_failed": discovery_failed or {}, "duration": 2.5, "flags": []}


def write_run(data_dir: Path, run_id: str, finished: datetime, sources: dict[str, dict[str, Any]],
              articles: list[dict[str, Any]] = (), archived_only: list[str] = ()) -> Path:  # type: ignore[assignment]
    """A run directory as the pipeline leaves it: crawl report, manifest, cleaned articles, stage
    reports. ``articles``: {source, published, published_hint, change, fetched_at}; ``archived_only``:
    sources of archived responses that gave no article."""
    rdir = data_dir / "runs" / run_id
    rdir.mkdir(parents=True)
    (rdir / "crawl-report.json").write_text(json.dumps({
        "run_id": run_id, "started_at": _iso(finished - timedelta(minutes=1)), "finished_at": _iso(finished),
        "finish_reason": "finished", "sources": sources}), encoding="utf-8")
    manifest, cleaned = [], []
    for i, a in enumerate(articles):
        crawl = {"url": f"https://{a['source']}.test/{run_id}/{i}", "source": a["source"],
                 "fetched_at": a.get("fetched_at", _iso(finished)), "change": a.get("change", "new"),
                 "published_hint": a.get("published_hint")}
        manifest.append(crawl)
        cleaned.append({"article": {"title": f"a{i}", "published": a.get("published")}, "crawl": crawl})
    manifest += [{"url": f"https://{s}.test/x{i}", "source": s} for i, s in enumerate(archived_only)]
    (rdir / "manifest.jsonl").write_text("".join(json.dumps(m) + "\n" for m in manifest), encoding="utf-8")
    (rdir / "cleaned.jsonl").write_text("".join(json.dumps(c) + "\n" for c in cleaned) + '{"truncat',
                                        encoding="utf-8")
    (rdir / "clean-report.json").write_text(json.dumps({"stage": "clean", "seconds": 0.4}), encoding="utf-8")
    (rdir / "index-report.json").write_text(json.dumps({"stage": "index", "seconds": 1.2}), encoding="utf-8")
    return rdir


# --------------------------------------------------------------------------- figures
def test_figures_of_a_run_per_source(data_dir: Path) -> None:
    fin = T0
    write_run(data_dir, "r1", fin, {
        "alpha": _counts(discovered=9, fetched=6, new=3, failed={"http_404": 2, "timeout": 1},
                         discovery_failed={"http_503": 1}),
        "beta": _counts(discovered=0, fetched=0, new=0),
    }, articles=[
        {"source": "alpha", "published": _iso(fin - timedelta(minutes=4))},
        {"source": "alpha", "published": None, "published_hint": _iso(fin - timedelta(minutes=10))},
        {"source": "alpha", "published": _iso(fin - timedelta(minutes=30))},
        # a recrawl of an old article: no freshness sample
        {"source": "alpha", "published": _iso(fin - timedelta(days=3)), "change": "updated"},
        # dated far in the future: not a sample, counted as undated
        {"source": "alpha", "published": _iso(fin + timedelta(days=3))},
    ], archived_only=["alpha", "alpha"])
    docs = {d["source"]: d for d in run_figures("r1", now=fin + timedelta(minutes=5))}
    assert set(docs) == {"alpha", "beta"}
    a = docs["alpha"]
    assert (a["run_id"], a["found"], a["fetched"], a["new"]) == ("r1", 9, 6, 3)
    assert a["failed"] == 3 and a["discovery_failed"] == 1
    assert a["failures"] == {"http_404": 2, "timeout": 1, "discovery:http_503": 1}
    assert a["failure_reasons"] == ["discovery:http_503", "http_404", "timeout"]
    assert a["attempts"] == 10 and a["error_ratio"] == pytest.approx(0.4)
    assert (a["archived"], a["extracted"], a["extraction_failed"]) == (7, 5, 2)
    assert a["freshness_samples"] == 3 and a["freshness_undated"] == 1
    assert a["freshness_lag_median_seconds"] == 600.0 and a["freshness_lag_max_seconds"] == 1800.0
    assert (a["crawl_seconds"], a["clean_seconds"], a["index_seconds"]) == (2.5, 0.4, 1.2)
    assert a["finished_at"] == _iso(fin) and a["recorded_at"].startswith("2026-11-30T08:05")
    b = docs["beta"]
    assert b["attempts"] == 0 and b["error_ratio"] is None and b["freshness_lag_median_seconds"] is None


def test_a_run_without_crawl_report_is_not_recorded(data_dir: Path) -> None:
    (data_dir / "runs" / "half").mkdir(parents=True)
    with pytest.raises(RunNotFound, match="no crawl report"):
        run_figures("half")
    with pytest.raises(RunNotFound, match="bad run id"):
        run_figures("../etc")


# --------------------------------------------------------------------------- rules
def _run(run_id: str, new: int = 1, attempts: int = 10, ratio: float | None = 0.0,
         lag: float | None = None) -> dict[str, Any]:
    return {"run_id": run_id, "new": new, "attempts": attempts, "error_ratio": ratio,
            "freshness_lag_median_seconds": lag, "failures": {"http_503": 7, "timeout": 1}}


CFG = HealthSettings(silent_runs=3, max_error_ratio=0.5, min_attempts=5, max_freshness_lag_minutes=30)


def test_silent_only_for_a_source_that_used_to_publish() -> None:
    quiet = [_run(f"r{i}", new=0) for i in (9, 8, 7)]
    h = SourceHistory("s", quiet + [_run("r6", new=2)], last_new_at="2026-11-30T06:00:00.000Z")
    (f,) = evaluate_rules(h, CFG)
    assert (f.rule, f.since, f.value) == ("silent", "2026-11-30T06:00:00.000Z", 3.0)
    assert "no new article in its last 3 runs" in f.message
    assert evaluate_rules(SourceHistory("s", quiet[:2] + [_run("r6", new=2)], "x"), CFG) == []
    assert evaluate_rules(SourceHistory("s", quiet, last_new_at=None), CFG) == []  # never published


def test_error_ratio_above_threshold_with_enough_attempts() -> None:
    runs = [_run("r9", ratio=0.8), _run("r8", ratio=0.6), _run("r7", ratio=0.1)]
    (f,) = evaluate_rules(SourceHistory("s", runs, "t"), CFG)
    assert (f.rule, f.since, f.value) == ("errors", "r8", 0.8)  # the episode began with r8
    assert "80% of 10 requests failed in run r9 (http_503=7, timeout=1)" in f.message
    assert evaluate_rules(SourceHistory("s", [_run("r9", ratio=0.5)], "t"), CFG) == []  # not above
    assert evaluate_rules(SourceHistory("s", [_run("r9", ratio=1.0, attempts=4)], "t"), CFG) == []


def test_freshness_lag_of_the_newest_dated_run() -> None:
    runs = [_run("r9", lag=None), _run("r8", lag=31 * 60), _run("r7", lag=45 * 60), _run("r6", lag=60)]
    (f,) = evaluate_rules(SourceHistory("s", runs, "t"), CFG)
    assert (f.rule, f.since) == ("stale", "r7") and f.value == 31 * 60
    runs[1]["freshness_lag_median_seconds"] = 29 * 60
    assert evaluate_rules(SourceHistory("s", runs, "t"), CFG) == []


def test_health_settings_from_the_file_and_channels_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "settings.yaml"
    f.write_text("health:\n  silent_runs: 7\n  channels: {webhook: {url_env: HEALTH_HOOK}}\n", encoding="utf-8")
    monkeypatch.setenv("WARWATCH_SETTINGS_FILE", str(f))
    monkeypatch.setenv("WARWATCH_HEALTH__MAX_ERROR_RATIO", "0.25")
    reset_settings()
    h = get_settings().health
    assert (h.silent_runs, h.max_error_ratio, h.history_runs) == (7, 0.25, 100)
    assert health_watch().channels.names() == ["file", "webhook"]
    with pytest.raises(ConfigError, match="health.channels"):
        health_watch({"slack": {}})
    f.write_text("health:\n  silent_run: 7\n", encoding="utf-8")
    reset_settings()
    with pytest.raises(ConfigError, match="silent_run"):
        get_settings()
    f.write_text("health:\n  silent_runs: 80\n  history_runs: 60\n", encoding="utf-8")
    reset_settings()
    with pytest.raises(ConfigError, match="cannot exceed health.history_runs"):
        get_settings()


# --------------------------------------------------------------------------- the runs index
def test_setup_installs_the_runs_template_and_index(index_prefix: str) -> None:
    engine = connect(get_settings())
    setup_indices(engine, get_settings().index_prefix)
    name = runs_index(get_settings().index_prefix)
    assert name == f"{index_prefix}runs" and engine.index_exists(name)
    live = engine.get_mapping(name)[name]["mappings"]["properties"]
    assert live["source"]["type"] == "keyword" and live["finished_at"]["type"] == "date"
    assert live["error_ratio"]["type"] == "float" and live["new"]["type"] == "integer"
    assert set(live) == set(templates.runs_mappings()["properties"])


def test_record_run_is_idempotent(index_prefix: str, data_dir: Path) -> None:
    engine = connect(get_settings())
    setup_indices(engine, get_settings().index_prefix)
    write_run(data_dir, "r1", T0, {"alpha": _counts(), "beta": _counts(new=0)})
    assert unrecorded_runs() == ["r1"]
    docs = record_run("r1", engine=engine)
    assert [d["source"] for d in docs] == ["alpha", "beta"]
    record_run("r1", engine=engine)
    assert engine.count(runs_index(get_settings().index_prefix)) == 2
    assert engine.get(runs_index(get_settings().index_prefix), "r1:alpha")["new"] == 2
    assert unrecorded_runs() == []
    # a later stage rewrites a report: the run is out of date and recorded again
    (data_dir / "runs" / "r1" / "index-report.json").write_text('{"seconds": 9.0}', encoding="utf-8")
    import os
    os.utime(data_dir / "runs" / "r1" / "index-report.json", (T0.timestamp() + 1e9,) * 2)
    assert record_pending_runs(engine=engine) == ["r1"]
    assert engine.get(runs_index(get_settings().index_prefix), "r1:beta")["index_seconds"] == 9.0
    assert engine.count(runs_index(get_settings().index_prefix)) == 2


def _record_series(data_dir: Path, engine: Any, runs: list[dict[str, dict[str, Any]]], start: int = 0) -> None:
    for i, sources in enumerate(runs, start):
        rid = f"run{i:03d}"
        write_run(data_dir, rid, T0 + timedelta(minutes=10 * i), sources)
        record_run(rid, engine=engine)


def test_history_is_newest_first_per_source(index_prefix: str, data_dir: Path) -> None:
    engine = connect(get_settings())
    setup_indices(engine, get_settings().index_prefix)
    _record_series(data_dir, engine, [{"a": _counts(new=1), "b": _counts(new=0)}] + [{"a": _counts(new=0)}] * 3)
    hist = read_history(engine, 2)
    assert [r["run_id"] for r in hist["a"].runs] == ["run003", "run002"]
    assert hist["a"].last_new_at is not None and hist["a"].last_new_at.startswith("2026-11-30T08:00")
    assert hist["b"].last_new_at is None and len(hist["b"].runs) == 1


# --------------------------------------------------------------------------- alerts, once per episode
@pytest.fixture
def health_env(index_prefix: str, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cfg = data_dir.parent / "config"
    cfg.mkdir()
    (cfg / "watches.yaml").write_text("delivery:\n  retries: 1\n  backoff_seconds: 0\nwatches: []\n", encoding="utf-8")
    sources = cfg / "sources.yaml"
    sources.write_text("sources:\n" + "".join(
        f"  - id: {s}\n    name: {s}\n    url: https://{s}.example/\n    feeds: [https://{s}.example/rss]\n"
        for s in ("quiet", "broken", "fine", "unborn")), encoding="utf-8")
    monkeypatch.setenv("WARWATCH_CONFIG_DIR", str(cfg))
    monkeypatch.setenv("WARWATCH_SOURCES", str(sources))
    monkeypatch.setenv("WARWATCH_HEALTH__SILENT_RUNS", "3")
    monkeypatch.setenv("WARWATCH_HEALTH__MIN_ATTEMPTS", "4")
    reset_settings()
    return data_dir


def _set_hook(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("WARWATCH_HEALTH__CHANNELS", json.dumps({"webhook": {"url": url, "allow_private_network": True}}))
    reset_settings()


def _file_alerts(data_dir: Path) -> list[dict[str, Any]]:
    path = data_dir / "alerts" / f"{HEALTH_WATCH_ID}.jsonl"
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


def test_health_alerts_once_per_episode(health_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = connect(get_settings())
    setup_indices(engine, get_settings().index_prefix)
    bad = _counts(fetched=1, new=0, failed={"http_503": 4})
    series = [{"quiet": _counts(new=2), "broken": _counts(new=0), "fine": _counts()}] + \
             [{"quiet": _counts(new=0), "broken": bad, "fine": _counts()}] * 3
    _record_series(health_env, engine, series)
    with _Webhook(plan=[500]) as hook:  # the first delivery fails: queued, retried by the next check
        _set_hook(monkeypatch, hook.url)
        first = check_health(engine=engine, sleep=lambda s: None)
        status = {s.source: s.status for s in first.sources}
        assert status == {"quiet": "silent", "broken": "errors", "fine": "ok", "unborn": "no runs"}
        assert first.alerts is not None and sorted(first.alerts.opened) == ["broken/errors", "quiet/silent"]
        assert len(first.alerts.failures) == 1 and first.alerts.delivered == 3  # 2 files + 1 webhook
        second = check_health(engine=engine, sleep=lambda s: None)
        assert second.alerts is not None and second.alerts.opened == [] and second.alerts.delivered == 1
        texts = sorted(r["text"] for r in hook.requests)
        assert sorted(r["since"] for r in hook.requests if r["rule"] == "errors") == ["run001"]  # the episode's start
    assert len(texts) == 2 and "broken: 80% of 5 requests failed in run run003 (http_503=4)" in texts[0]
    assert "quiet: no new article in its last 3 runs" in texts[1]
    assert len(_file_alerts(health_env)) == 2

    # the errors stop: the episode closes; they come back: a new episode, a new alert
    _record_series(health_env, engine, [{"quiet": _counts(new=0), "broken": _counts(), "fine": _counts()}], start=4)
    third = check_health(engine=engine, sleep=lambda s: None)
    assert third.alerts is not None and third.alerts.closed == ["broken/errors"] and third.alerts.opened == []
    _record_series(health_env, engine, [{"quiet": _counts(new=0), "broken": bad, "fine": _counts()}], start=5)
    with _Webhook() as hook:
        _set_hook(monkeypatch, hook.url)
        fourth = check_health(engine=engine, sleep=lambda s: None)
        assert fourth.alerts is not None and fourth.alerts.opened == ["broken/errors"]
        assert [r["since"] for r in hook.requests] == ["run005"]
    assert sorted(a["rule"] for a in _file_alerts(health_env)) == ["errors", "errors", "silent"]


def test_cli_health_table_and_json(health_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from warwatch.cli import main

    engine = connect(get_settings())
    setup_indices(engine, get_settings().index_prefix)
    write_run(health_env, "run000", T0, {"fine": _counts(new=2), "broken": _counts(fetched=0, failed={"timeout": 6})},
              articles=[{"source": "fine", "published": _iso(T0 - timedelta(minutes=3))}])
    assert main(["health", "--record", "--json"]) == 1  # "broken" has a problem
    report = json.loads(capsys.readouterr().out)
    rows = {s["source"]: s for s in report["sources"]}
    assert rows["fine"]["status"] == "ok" and rows["fine"]["new"] == 2
    assert rows["fine"]["freshness_lag_median_seconds"] == 180.0 and rows["fine"]["last_run"] == "run000"
    assert rows["broken"]["status"] == "errors" and rows["broken"]["error_ratio"] == 1.0
    assert rows["quiet"]["status"] == "no runs"
    assert report["alerts"] is None and _file_alerts(health_env) == []  # printing does not alert
    assert main(["health"]) == 1
    table = capsys.readouterr().out
    assert "fine" in table and "errors" in table and "3.0" in table  # lag in minutes
    assert main(["health", "--alert", "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["alerts"]["opened"] == ["broken/errors"]
    assert [a["source"] for a in _file_alerts(health_env)] == ["broken"]


def test_source_health_without_runs_index(health_env: Path) -> None:
    report = source_health()
    assert {s.status for s in report.sources} == {"no runs"} and report.ok
