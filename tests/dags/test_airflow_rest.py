"""End to end through Airflow's own server: `airflow standalone` on 127.0.0.1, the DAG unpaused and
triggered over the REST API (v2), its run watched until it succeeds, the UI answering."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO_ROOT as PROJECT_ROOT
from tests.conftest import count_docs, service_missing


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _call(method: str, url: str, body: Any = None, token: str | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=30) as resp:
        raw = resp.read()
        return json.loads(raw) if raw and resp.headers.get_content_type() == "application/json" else raw


@pytest.fixture
def demo_sources(data_dir: Path) -> Iterator[Path]:
    from demo.server import render_sources, serve

    with serve(PROJECT_ROOT / "demo" / "site", port=0) as server:
        yield render_sources(server.base_url, data_dir / "sources.yaml")


@pytest.fixture
def standalone(tmp_path: Path, index_prefix: str, data_dir: Path,
               demo_sources: Path) -> Iterator[tuple[str, Path]]:
    bin_dir = Path(sys.executable).parent
    if not (bin_dir / "airflow").exists():
        service_missing("airflow is not installed in this environment")
    port = _free_port()
    home = tmp_path / "airflow-home"
    env = dict(
        os.environ,
        PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(PROJECT_ROOT / "dags"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__PARALLELISM="4",
        AIRFLOW__API__HOST="127.0.0.1",
        AIRFLOW__API__PORT=str(port),
        # Task workers talk to the api-server's execution API: it is not on the default port here.
        AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"http://127.0.0.1:{port}/execution/",
        AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="5",
        AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL="5",
        PYTHONPATH=str(PROJECT_ROOT),
        # Unpausing also schedules the latest interval's run: it must crawl the local demo site
        # too, never the production sources on the internet.
        WARWATCH_SOURCES=str(demo_sources),
    )
    env.pop("AIRFLOW__CORE__UNIT_TEST_MODE", None)
    log = (tmp_path / "standalone.log").open("wb")
    proc = subprocess.Popen([str(bin_dir / "airflow"), "standalone"], env=env, cwd=PROJECT_ROOT,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"airflow standalone exited: {(tmp_path / 'standalone.log').read_text()[-2000:]}")
            try:
                health = _call("GET", f"{base}/api/v2/monitor/health")
                if health.get("metadatabase", {}).get("status") == "healthy":
                    break
            except (urllib.error.URLError, OSError, ValueError):
                pass
            time.sleep(2)
        else:
            pytest.fail("airflow standalone did not become healthy in 180 s")
        yield base, home
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


@pytest.mark.es
@pytest.mark.airflow
@pytest.mark.slow
def test_trigger_cycle_over_rest_api(standalone: tuple[str, Path], demo_sources: Path, es_url: str,
                                     index_prefix: str) -> None:
    base, home = standalone
    pw_file = home / "simple_auth_manager_passwords.json.generated"
    for _ in range(30):
        if pw_file.exists():
            break
        time.sleep(1)
    password = json.loads(pw_file.read_text())["admin"]
    token = _call("POST", f"{base}/auth/token", {"username": "admin", "password": password})["access_token"]

    # The UI itself answers.
    page = _call("GET", f"{base}/")
    assert b"<html" in page.lower()

    # The DAG appears once the dag-processor has parsed it.
    for _ in range(60):
        try:
            _call("GET", f"{base}/api/v2/dags/warwatch_cycle", token=token)
            break
        except urllib.error.HTTPError:
            time.sleep(2)
    else:
        pytest.fail("warwatch_cycle never appeared in the API")
    _call("PATCH", f"{base}/api/v2/dags/warwatch_cycle", {"is_paused": False}, token=token)

    run = _call("POST", f"{base}/api/v2/dags/warwatch_cycle/dagRuns",
                {"dag_run_id": "rest-e2e", "logical_date": None, "conf": {"sources": str(demo_sources)}},
                token=token)
    assert run["dag_run_id"] == "rest-e2e"
    state = None
    # One scheduled run may go first (max_active_runs=1): allow for two cycles.
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        state = _call("GET", f"{base}/api/v2/dags/warwatch_cycle/dagRuns/rest-e2e", token=token)["state"]
        if state in {"success", "failed"}:
            break
        time.sleep(3)
    tis = _call("GET", f"{base}/api/v2/dags/warwatch_cycle/dagRuns/rest-e2e/taskInstances", token=token)
    states = {ti["task_id"]: ti["state"] for ti in tis["task_instances"]}
    assert state == "success", states
    assert states == {"crawl": "success", "clean": "success", "index": "success", "alerts": "success",
                      "report": "success"}

    alias = f"{index_prefix}articles"
    count = count_docs(es_url, alias)
    articles = json.loads((PROJECT_ROOT / "demo" / "site" / "articles.json").read_text())["articles"]
    assert count == len(articles)
