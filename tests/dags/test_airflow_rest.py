"""End to end through Airflow's own server: `airflow standalone` on 127.0.0.1, `warwatch_crawl`
triggered over the REST API (v2) for one source, and `warwatch_process`, scheduled by the batch
asset, indexing what it fetched."""

from __future__ import annotations

import json
import time
import urllib.request

import pytest

from indexing.sources import load_sources
from tests.conftest import count_docs
from tests.dags.conftest import Standalone, call


@pytest.mark.slow
def test_trigger_crawl_for_one_source_and_see_it_indexed(standalone: Standalone, es_url: str) -> None:
    data_dir, index_prefix, demo_sources = standalone.data_dir, standalone.index_prefix, standalone.sources
    token = standalone.token()
    assert b"<html" in call("GET", f"{standalone.base}/").lower()  # the UI itself answers
    chosen = load_sources(demo_sources)[0].id
    for dag_id in ("warwatch_crawl", "warwatch_process"):
        standalone.wait_for_dag(dag_id, token)
        call("PATCH", f"{standalone.base}/api/v2/dags/{dag_id}", {"is_paused": False}, token=token)

    run = call("POST", f"{standalone.base}/api/v2/dags/warwatch_crawl/dagRuns",
               {"dag_run_id": "rest-e2e", "logical_date": None, "conf": {"sources": [chosen]}}, token=token)
    assert run["dag_run_id"] == "rest-e2e"
    # One scheduled run (every source) may go first: max_active_runs=1.
    state = standalone.wait_for_run("warwatch_crawl", "rest-e2e", token)
    tis = call("GET", f"{standalone.base}/api/v2/dags/warwatch_crawl/dagRuns/rest-e2e/taskInstances",
               token=token)["task_instances"]
    assert state == "success", [(t["task_id"], t["map_index"], t["state"]) for t in tis]
    assert sorted((t["task_id"], t["state"]) for t in tis) == [("crawl", "success"), ("plan", "success")]

    batches = [d for d in (data_dir / "runs").iterdir() if d.name.startswith("rest-e2e-")]
    assert [d.name for d in batches] == [f"rest-e2e-{chosen}-t1"]
    batch = batches[0]
    assert json.loads((batch / "batch.json").read_text())["sources"] == [chosen]
    # The asset event schedules warwatch_process, which processes the batch (and any other left).
    deadline = time.monotonic() + 900
    # Batch dirs only: not runs/.done (the processed markers of warwatch.pipeline.batches).
    while not all((d / "processed.json").exists() for d in (data_dir / "runs").iterdir() if not d.name.startswith(".")):
        assert time.monotonic() < deadline, "warwatch_process never processed the batches"
        time.sleep(3)
    runs = call("GET", f"{standalone.base}/api/v2/dags/warwatch_process/dagRuns", token=token)["dag_runs"]
    assert any(r["run_type"] == "asset_triggered" for r in runs), [r["run_type"] for r in runs]
    # Unpausing also started a scheduled crawl of every source, which may have fetched the chosen
    # source's articles first (the triggered crawl then finds them seen): whichever batch has them,
    # each is indexed exactly once.
    urls: set[str] = set()
    for documents in (data_dir / "runs").glob("*/documents.jsonl"):
        urls |= {d["url"] for d in map(json.loads, documents.open()) if d["source"] == chosen}
    assert urls
    count_docs(es_url, f"{index_prefix}articles")  # refresh
    body = {"query": {"term": {"source": chosen}}}
    req = urllib.request.Request(f"{es_url}/{index_prefix}articles/_count", data=json.dumps(body).encode(),
                                 method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 - loopback node
        assert json.load(resp)["count"] == len(urls)
