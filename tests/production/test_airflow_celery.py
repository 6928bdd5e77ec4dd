"""Airflow as deployed: Postgres metadata DB, CeleryExecutor with a Redis broker, two workers on the
`crawl` queue and one on `default`, each a process of its own (tests/production/conftest.py).
Runs are triggered and read through the REST API (v2), as an operator's scripts do.

The tests share one topology and run in file order: the crawl over four sources, its processing,
then a crawl worker SIGKILLed mid-crawl and a crawl worker shut down warm mid-crawl. After each,
every article of every crawled site is in the index exactly once and no story was alerted twice.
"""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.error
import urllib.request
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from demo.server import SITE_ROOT
from tests.conftest import count_docs
from tests.production import services
from tests.production.conftest import QUICK_SOURCES, WORKERS, Topology

CRAWL_WORKERS = sorted(name for name, (queue, _) in WORKERS.items() if queue == "crawl")
DEFAULT_WORKER = next(name for name, (queue, _) in WORKERS.items() if queue == "default")
ARTICLES = json.loads((SITE_ROOT / "articles.json").read_text())["articles"]
DAGS = ("warwatch_crawl", "warwatch_process")
#: Bounds: a crawl of one site is seconds; a lost worker costs the heartbeat timeout (45 s) and
#: the crawl task's retry delay (60 s) on top.
RUN_TIMEOUT = 600
#: how a task log line written by warwatch's own code starts its logger field
OUR_LOGGER = '"logger":"warwatch.'


class Api:
    def __init__(self, topology: Topology) -> None:
        self.base = topology.airflow.base
        self.token = topology.token()

    def __call__(self, method: str, path: str, body: object = None) -> Any:
        for attempt in range(5):  # a loaded machine may answer slowly: ask again, a bounded number of times
            try:
                return services.call(method, f"{self.base}/api/v2{path}", body, token=self.token, timeout=120)
            except urllib.error.HTTPError as exc:
                if exc.code == 401 and attempt < 4:  # the token expired during a long wait
                    continue
                raise
            except (TimeoutError, urllib.error.URLError):
                if attempt == 4:
                    raise
                time.sleep(2)
        raise AssertionError("unreachable")

    def trigger(self, dag_id: str, run_id: str, conf: dict[str, Any] | None = None) -> None:
        run = self("POST", f"/dags/{dag_id}/dagRuns", {"dag_run_id": run_id, "logical_date": None, "conf": conf or {}})
        assert run["dag_run_id"] == run_id

    def run_state(self, dag_id: str, run_id: str) -> str:
        return str(self("GET", f"/dags/{dag_id}/dagRuns/{run_id}")["state"])

    def wait_run(self, dag_id: str, run_id: str, timeout: float = RUN_TIMEOUT) -> str:
        deadline = time.monotonic() + timeout
        state = self.run_state(dag_id, run_id)
        while state not in {"success", "failed"} and time.monotonic() < deadline:
            time.sleep(2)
            state = self.run_state(dag_id, run_id)
        return state

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        return list(self("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances")["task_instances"])

    def tries(self, dag_id: str, run_id: str, task_id: str, map_index: int) -> list[dict[str, Any]]:
        answer = self("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/{map_index}/tries")
        return sorted(answer["task_instances"], key=lambda t: t["try_number"])


@pytest.fixture(scope="module")
def api(topology: Topology) -> Api:
    api = Api(topology)
    deadline = time.monotonic() + 300
    for dag_id in DAGS:
        while True:
            try:
                api("GET", f"/dags/{dag_id}")
                break
            except urllib.error.HTTPError:
                assert time.monotonic() < deadline, f"{dag_id} never appeared in the API"
                time.sleep(2)
        api("PATCH", f"/dags/{dag_id}", {"is_paused": False})
    return api


def _summary(tis: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(t["task_id"], t["map_index"], t["state"], t["hostname"], t["try_number"]) for t in tis]


#: what a failure message quotes from a log: lines naming an error, at most this many per source
_QUOTED_LINES = 6


#: how the services' logs mark an error: structlog's level column, the task log's JSON, Celery's
#: "ERROR/<process>", a Python traceback or exception line
_ERROR_MARKS = ("[error", "[critical", '"level":"error"', '"level":"critical"', "ERROR/", "CRITICAL/",
                "Traceback (most recent call last)", "Error: ", "Exception: ")


def _error_lines(text: str, limit: int = _QUOTED_LINES) -> list[str]:
    return [line[:400] for line in text.splitlines() if any(m in line for m in _ERROR_MARKS)][-limit:]


def _attempt_log(topology: Topology, dag_id: str, run_id: str, task_id: str, map_index: int, try_number: int) -> Path:
    """Where the task's log of one try is (Airflow's default log_filename_template)."""
    task_dir = topology.airflow.home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
    return (task_dir / f"map_index={map_index}" if map_index >= 0 else task_dir) / f"attempt={try_number}.log"


def _explain(api: Api, topology: Topology, dag_id: str, run_id: str) -> str:
    """Why a run's tasks did not all succeed at the first try: every try that failed (worker, times,
    its task log's error lines), the scheduler's state-mismatch records, the workers' error lines.
    A failure message that says only "try 2" cannot be diagnosed after the run directory is gone."""
    tis = api.task_instances(dag_id, run_id)
    out = [f"{dag_id}/{run_id}: {_summary(tis)}"]
    for ti in tis:
        if ti["try_number"] <= 1 and ti["state"] == "success":
            continue
        for t in api.tries(dag_id, run_id, ti["task_id"], ti["map_index"]):
            if t["state"] == "success":
                continue
            out.append(f"- {ti['task_id']}[{ti['map_index']}] try {t['try_number']}: {t['state']} on "
                       f"{t['hostname']!r}, queued {t.get('queued_when')}, start {t.get('start_date')}, "
                       f"end {t.get('end_date')}")
            log = _attempt_log(topology, dag_id, run_id, ti["task_id"], ti["map_index"], t["try_number"])
            out += [f"    {line}" for line in _error_lines(services.tail(log, 20_000))] or [f"    (no error in {log})"]
    try:
        events = api("GET", f"/eventLogs?dag_id={dag_id}&run_id={run_id}&limit=50")["event_logs"]
    except urllib.error.URLError as exc:
        events = [{"event": "eventLogs unreadable", "extra": str(exc)}]
    out += [f"- event {e.get('event')}: {str(e.get('extra'))[:600]}" for e in events
            if e.get("event") not in {"trigger_dag_run", "get_dag_run", "cli_task_run"}]
    for proc in topology.airflow.procs.values():
        out += [f"- {proc.name}: {line}" for line in _error_lines(services.tail(proc.log, 200_000))]
    return "\n".join(out)


def _batch_dirs(data_dir: Path) -> list[Path]:
    runs = data_dir / "runs"
    return sorted(p for p in runs.iterdir() if p.is_dir() and not p.name.startswith(".")) if runs.is_dir() else []


def _crawled_sources(data_dir: Path) -> set[str]:
    return {s for d in _batch_dirs(data_dir) for s in json.loads((d / "batch.json").read_text())["sources"]}


def _mid_crawl(batch: Path) -> bool:
    """Some articles archived, the crawl report not written yet."""
    manifest = batch / "manifest.jsonl"
    return (manifest.exists() and len(manifest.read_bytes().splitlines()) >= 3
            and not (batch / "crawl-report.json").exists())


def _search(es_url: str, alias: str, body: dict[str, Any]) -> Any:
    req = urllib.request.Request(f"{es_url}/{alias}/_search", data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 - loopback node
        return json.load(resp)


def _process_and_check(api: Api, topology: Topology, run_id: str) -> None:
    """warwatch_process over every batch left; then every article of every crawled site is
    indexed once, and each story alerted at most once per watch."""
    api.trigger("warwatch_process", run_id)
    state = api.wait_run("warwatch_process", run_id)
    tis = api.task_instances("warwatch_process", run_id)
    assert state == "success", _explain(api, topology, "warwatch_process", run_id)
    # Processing ran on the default-queue worker, never on a crawl worker.
    assert {t["hostname"] for t in tis if t["state"] == "success"} == {DEFAULT_WORKER}, _summary(tis)
    batches = _batch_dirs(topology.data_dir)
    assert batches and [b.name for b in batches if not (b / "processed.json").exists()] == []

    crawled = _crawled_sources(topology.data_dir)
    # Documents are keyed by canonical URL: one per article of each site, except an article whose
    # canonical URL names another host (the demo's seed article), which is one document for all.
    expected = {a["canonical_url"].replace("{{BASE_URL}}", topology.base_urls[s]) for s in crawled for a in ARTICLES}
    assert len(expected) > len(ARTICLES) * (len(crawled) - 1)
    alias = f"{topology.index_prefix}articles"
    assert count_docs(topology.es_url, alias) == len(expected)
    aggs = {"size": 0, "aggs": {"u": {"terms": {"field": "canonical_url", "size": 2000}}}}
    indexed = Counter({b["key"]: b["doc_count"]
                       for b in _search(topology.es_url, alias, aggs)["aggregations"]["u"]["buckets"]})
    assert set(indexed) == expected
    assert [u for u, n in indexed.items() if n > 1] == []

    alerted = 0
    for alerts_file in (topology.data_dir / "alerts").glob("*.jsonl"):
        lines = [json.loads(x) for x in alerts_file.read_text().splitlines() if x.strip()]
        stories = Counter(a["story_id"] for a in lines)
        assert [s for s, n in stories.items() if n > 1] == [], alerts_file.name
        alerted += len(lines)
    assert alerted > 0  # the demo site matches the bundled watches: the check above saw alerts


def _start_crawl_and_wait_mid_crawl(api: Api, topology: Topology, run_id: str, source: str) -> tuple[str, Path]:
    """Trigger a crawl of ``source``; once it is mid-crawl, return the worker running it and its batch."""
    api.trigger("warwatch_crawl", run_id, {"sources": [source]})
    batch = topology.data_dir / "runs" / f"{run_id}-{source}-t1"
    deadline = time.monotonic() + 300
    while not _mid_crawl(batch):
        assert time.monotonic() < deadline, f"the crawl of {source} never got going: " \
                                            f"{_summary(api.task_instances('warwatch_crawl', run_id))}"
        assert api.run_state("warwatch_crawl", run_id) not in {"success", "failed"}, "the crawl ended too soon"
        time.sleep(0.2)
    crawl = [t for t in api.task_instances("warwatch_crawl", run_id) if t["task_id"] == "crawl"]
    assert len(crawl) == 1 and crawl[0]["state"] == "running", _summary(crawl)
    assert crawl[0]["hostname"] in CRAWL_WORKERS
    return str(crawl[0]["hostname"]), batch


def test_a_crawl_of_four_sources_spreads_over_both_crawl_workers(api: Api, topology: Topology) -> None:
    api.trigger("warwatch_crawl", "spread", {"sources": list(QUICK_SOURCES)})
    state = api.wait_run("warwatch_crawl", "spread")
    tis = api.task_instances("warwatch_crawl", "spread")
    assert state == "success", _explain(api, topology, "warwatch_crawl", "spread")
    crawls = [t for t in tis if t["task_id"] == "crawl"]
    assert sorted(t["rendered_map_index"] for t in crawls) == sorted(QUICK_SOURCES)
    assert all(t["state"] == "success" for t in crawls), _explain(api, topology, "warwatch_crawl", "spread")
    # A crawl that needed a second try is accepted only when its first try never reached warwatch's
    # code (lost between the scheduler, the broker and a worker: what the DAG's retry is for; the
    # executor's "finished with state failed, but the task instance's state attribute is queued",
    # apache/airflow#64974, open upstream); a first try that ran our crawl and failed is a defect,
    # reported with its logs.
    for ti in (t for t in crawls if t["try_number"] > 1):
        for earlier in range(1, ti["try_number"]):
            log = _attempt_log(topology, "warwatch_crawl", "spread", "crawl", ti["map_index"], earlier)
            assert OUR_LOGGER not in services.tail(log, 200_000), _explain(api, topology, "warwatch_crawl", "spread")
        warnings.warn(f"crawl {ti['rendered_map_index']} needed {ti['try_number']} tries: "
                      f"{_explain(api, topology, 'warwatch_crawl', 'spread')}", stacklevel=1)
    # The mapped crawls went to the crawl queue and both of its workers took some ...
    assert {t["hostname"] for t in crawls} == set(CRAWL_WORKERS), _summary(tis)
    # ... while `plan` went to the default queue.
    assert [t["hostname"] for t in tis if t["task_id"] == "plan"] == [DEFAULT_WORKER]
    assert _crawled_sources(topology.data_dir) == set(QUICK_SOURCES)


def test_process_indexes_every_batch(api: Api, topology: Topology) -> None:
    _process_and_check(api, topology, "process-spread")


def test_sigkill_of_a_crawl_worker_mid_crawl_retries_on_the_other(api: Api, topology: Topology) -> None:
    af = topology.airflow
    victim, batch = _start_crawl_and_wait_mid_crawl(api, topology, "kill", "site-kill")
    # The whole worker: its Celery pool, the task's supervisor and runner, the crawler child.
    os.killpg(af.procs[victim].pid, signal.SIGKILL)
    af.procs[victim].proc.wait(timeout=30)
    services.stop(af.registry, af.procs.pop(victim))
    assert not (batch / "crawl-report.json").exists()  # killed mid-crawl indeed

    state = api.wait_run("warwatch_crawl", "kill")
    tis = api.task_instances("warwatch_crawl", "kill")
    assert state == "success", _explain(api, topology, "warwatch_crawl", "kill")
    crawl = next(t for t in tis if t["task_id"] == "crawl")
    tries = api.tries("warwatch_crawl", "kill", "crawl", crawl["map_index"])
    survivor = next(w for w in CRAWL_WORKERS if w != victim)
    assert [(t["try_number"], t["state"], t["hostname"]) for t in tries] == [
        (1, "failed", victim), (2, "success", survivor)]
    retried = topology.data_dir / "runs" / "kill-site-kill-t2"
    assert (retried / "crawl-report.json").exists()

    af.start_worker(victim)  # back for the next test
    # The killed try's partial batch and the retry's batch are both processed: nothing lost,
    # nothing indexed twice, no story alerted twice.
    _process_and_check(api, topology, "process-kill")
    assert (batch / "processed.json").exists() and (retried / "processed.json").exists()


def test_a_crawl_worker_shut_down_warm_finishes_its_running_task(api: Api, topology: Topology) -> None:
    af = topology.airflow
    worker, batch = _start_crawl_and_wait_mid_crawl(api, topology, "warm", "site-warm")
    proc = af.procs[worker]
    os.kill(proc.pid, signal.SIGTERM)  # the worker's main process only: Celery's warm shutdown
    # It stops taking tasks, finishes the running one and exits.
    assert proc.proc.wait(timeout=RUN_TIMEOUT) == 0, services.tail(proc.log)
    assert (batch / "crawl-report.json").exists()
    services.stop(af.registry, af.procs.pop(worker))

    state = api.wait_run("warwatch_crawl", "warm")
    tis = api.task_instances("warwatch_crawl", "warm")
    assert state == "success", _explain(api, topology, "warwatch_crawl", "warm")
    crawl = next(t for t in tis if t["task_id"] == "crawl")
    assert (crawl["state"], crawl["try_number"], crawl["hostname"]) == ("success", 1, worker), \
        _explain(api, topology, "warwatch_crawl", "warm")
    assert not (topology.data_dir / "runs" / "warm-site-warm-t2").exists()

    af.start_worker(worker)  # restarted: it takes tasks again
    _process_and_check(api, topology, "process-warm")
