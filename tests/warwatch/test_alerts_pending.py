"""A batch's alerts are done only when every watch was evaluated against every document: an engine
outage or a timed-out watch search at alert time leaves the batch pending (with backoff, and a
health alert past a limit), and a later run alerts each story exactly once."""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from indexing.settings import reset_settings
from tests.conftest import REPO_ROOT
from warwatch import pipeline
from warwatch.pipeline import batches, cycle, tasks

FIXTURES = REPO_ROOT / "tests" / "fixtures"
SEED_URL = "https://weltnachrichten-heute.example/2024/10/28/nato-bestaetigt-praesenz-nordkoreanischer-soldaten-in-russland/"
NK = "north-korean-troops-in-russia"  # a shipped watch; the seed article is its story


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed once the socket is: nothing listens there


def _archive_batch(data_dir: Path) -> str:
    """A crawled batch: the seed article (an NK story) and two other articles, in WARC + manifest."""
    from indexing.archive import WarcWriter, append_manifest

    rid = pipeline.new_run_id()
    rdir = pipeline.run_dir(rid)
    pages = {SEED_URL: FIXTURES / "seed-article" / "page.html",
             "https://zeitung.example/artikel/1": FIXTURES / "pages" / "de-zeitung.html",
             "https://dispatch.example/world/odesa": FIXTURES / "pages" / "en-wire.html"}
    with WarcWriter(data_dir / "warc", "test") as writer:
        for url, page in pages.items():
            now = datetime.now(UTC)
            path, offset = writer.write_response(url, 200, {"Content-Type": "text/html; charset=utf-8"},
                                                 page.read_bytes(), now)
            append_manifest(rdir / "manifest.jsonl", {
                "url": url, "final_url": url, "status": 200, "fetched_at": now.isoformat(),
                "warc_file": str(path.relative_to(data_dir)), "warc_offset": offset, "source": "fixture",
                "content_type": "text/html; charset=utf-8", "fingerprint": "x"})
    return rid


def _alerts(data_dir: Path, watch_id: str = NK) -> list[dict[str, Any]]:
    path = data_dir / "alerts" / f"{watch_id}.jsonl"
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


def _all_alert_lines(data_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for p in sorted((data_dir / "alerts").glob("*.jsonl"))
            if p.name != "warwatch-health.jsonl" for x in p.read_text(encoding="utf-8").splitlines()]


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WARWATCH_PIPELINE__ALERTS_RETRY_SECONDS", "0")
    reset_settings()


@pytest.mark.es
def test_engine_gone_at_alert_time_keeps_the_batch_pending_then_alerts_once(
        index_prefix: str, data_dir: Path, es_url: str, no_backoff: None, monkeypatch: pytest.MonkeyPatch) -> None:
    rid = _archive_batch(data_dir)
    real_alerts = dict(cycle.STAGES)["alerts"]

    def alerts_without_engine(run_id: str, progress: Any = None) -> Any:
        # Cleaned, enriched and indexed; the engine goes away right before the alerts.
        monkeypatch.setenv("WARWATCH_ES_URL", f"http://127.0.0.1:{_closed_port()}")
        reset_settings()
        return real_alerts(run_id, progress=progress)

    monkeypatch.setattr(cycle, "STAGES", (*cycle.STAGES[:-1], ("alerts", alerts_without_engine)))
    first = pipeline.process_pending()
    assert [r["run_id"] for r in first] == [rid]
    assert not batches.is_processed(rid)
    assert batches.unprocessed() == [rid]
    assert any("alerts pending" in p for p in first[0]["problems"])
    assert json.loads((data_dir / "runs" / rid / "alerts-report.json").read_text())["complete"] is False
    assert _alerts(data_dir) == []

    # The engine is back: the next run evaluates the batch's alerts (only them) and finishes it.
    monkeypatch.setattr(cycle, "STAGES", (*cycle.STAGES[:-1], ("alerts", real_alerts)))
    monkeypatch.setenv("WARWATCH_ES_URL", es_url)
    reset_settings()
    clean_report = (data_dir / "runs" / rid / "clean-report.json").stat().st_mtime_ns
    second = pipeline.process_pending()
    assert [r["run_id"] for r in second] == [rid] and not second[0]["problems"], second[0]["problems"]
    assert batches.is_processed(rid) and batches.unprocessed() == []
    assert (data_dir / "runs" / rid / "clean-report.json").stat().st_mtime_ns == clean_report  # not cleaned again
    lines = _alerts(data_dir)
    assert len(lines) == 1 and lines[0]["articles"][0]["canonical_url"] == SEED_URL

    # Evaluating it again (a retry, a reprocess) alerts nothing twice.
    pipeline.alerts(rid)
    assert len(_alerts(data_dir)) == 1


@pytest.mark.es
def test_a_timed_out_watch_search_keeps_the_batch_pending_in_the_dag_tasks(
        index_prefix: str, data_dir: Path, no_backoff: None, monkeypatch: pytest.MonkeyPatch) -> None:
    from indexing.engine import Engine

    rid = _archive_batch(data_dir)
    real_search = Engine.search
    calls: list[int] = []

    def second_search_times_out(self: Engine, index: str, body: Any, **params: Any) -> dict[str, Any]:
        resp = real_search(self, index, body, **params)
        calls.append(1)
        if len(calls) == 2:  # the NK watch (first) is answered in full, the next one partially
            resp = {**resp, "timed_out": True}
        return resp

    def dag_run(name: str) -> dict[str, Any]:
        owner = tasks.owner_of("warwatch_process", name)
        claimed = tasks.claim_batches(owner)
        for bid in claimed:
            tasks.clean_batch(bid, owner)
            tasks.enrich_batch(bid, owner)
        tasks.index_batches(claimed, owner)
        tasks.alert_batches(claimed, owner)
        try:
            return {"claimed": claimed, **tasks.finish_batches(claimed, owner)}
        except pipeline.PipelineError as exc:
            return {"claimed": claimed, "error": str(exc)}

    monkeypatch.setattr(Engine, "search", second_search_times_out)
    first = dag_run("run-1")
    assert first["claimed"] == [rid] and rid in first["error"]
    assert not batches.is_processed(rid) and batches.unprocessed() == [rid]
    report = json.loads((data_dir / "runs" / rid / "alerts-report.json").read_text())
    assert report["complete"] is False and any("timed out" in p for p in report["problems"])
    assert len(_alerts(data_dir)) == 1  # the watch answered in full alerted already

    monkeypatch.setattr(Engine, "search", real_search)
    second = dag_run("run-2")
    assert second.get("processed") == [rid], second
    assert batches.is_processed(rid)
    assert len(_alerts(data_dir)) == 1  # re-evaluated, not alerted twice
    lines = _all_alert_lines(data_dir)
    assert len({(x["watch"]["id"], x["story_id"]) for x in lines}) == len(lines)  # once per story
    assert dag_run("run-3")["claimed"] == []


def test_pending_alerts_back_off_and_raise_one_health_alert_past_the_limit(data_dir: Path) -> None:
    from warwatch.pipeline.report import ALERTS_RULE, overdue_alerts

    now = [datetime(2026, 1, 1, tzinfo=UTC)]

    def clock() -> datetime:
        return now[0]

    (data_dir / "runs" / "b1").mkdir(parents=True)
    batches.begin_alerts("b1", clock)
    (data_dir / "runs" / "b1" / "alerts-report.json").write_text("{}")
    assert not batches.is_processed("b1")  # a report beside the pending mark is not "done"
    record = batches.end_alerts("b1", False, ["search engine unavailable"], clock)
    assert record["attempts"] == 1
    # Backoff: 60 s, then 120 s (the defaults), and the batch is not claimed before.
    assert batches.claim("run-a", bind_pid=False, now=clock) == []
    now[0] += timedelta(seconds=61)
    taken = batches.claim("run-a", bind_pid=False, now=clock)
    assert [lease.batch_id for lease in taken] == ["b1"]
    assert batches.read_lease("b1")["stage"] == "index:done"  # only its alerts are left
    for lease in taken:
        batches.release(lease)
    assert batches.end_alerts("b1", False, ["again"], clock)["attempts"] == 2
    now[0] += timedelta(seconds=119)
    assert not batches.alerts_due("b1", clock)
    now[0] += timedelta(seconds=2)
    assert batches.alerts_due("b1", clock)

    health = data_dir / "alerts" / "warwatch-health.jsonl"
    assert overdue_alerts(clock) == [] and not health.exists()  # pending 3 min: under the limit
    now[0] += timedelta(hours=3)
    assert overdue_alerts(clock) == ["b1"]
    assert overdue_alerts(clock) == ["b1"]  # the same episode: alerted once
    sent = [json.loads(x) for x in health.read_text().splitlines()]
    assert [(x["source"], x["rule"]) for x in sent] == [("pipeline", ALERTS_RULE)]
    # Done at last: the mark goes, the episode closes, the batch is processed once marked.
    batches.end_alerts("b1", True, [], clock)
    assert overdue_alerts(clock) == [] and batches.alerts_pending("b1") == {}
    assert batches.is_processed("b1")  # (an alerts report without a pending mark: done)
