"""Airflow for real: a throwaway AIRFLOW_HOME with a migrated SQLite DB, set up before the
first airflow import (Airflow reads its configuration at import time); and `airflow standalone`
on a free 127.0.0.1 port for the REST and browser tests."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
DAGS = REPO_ROOT / "dags"

_home = Path(tempfile.mkdtemp(prefix="warwatch-airflow-"))
os.environ.setdefault("AIRFLOW_HOME", str(_home))
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(DAGS)
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "True")


@pytest.fixture(scope="session")
def airflow_db() -> Iterator[Path]:
    try:
        from airflow.utils import db
    except ImportError as exc:  # Airflow is part of the dev install
        from tests.conftest import service_missing

        service_missing(f"Airflow is not installed: {exc}")
        raise
    db.initdb()
    yield Path(os.environ["AIRFLOW_HOME"])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def call(method: str, url: str, body: Any = None, token: str | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    # Generous: on a loaded shared machine the api-server may take a while to answer.
    with urllib.request.urlopen(req, timeout=120) as resp:  # noqa: S310 - loopback server
        raw = resp.read()
        return json.loads(raw) if raw and resp.headers.get_content_type() == "application/json" else raw


@dataclass
class Standalone:
    base: str
    home: Path
    data_dir: Path  # WARWATCH_DATA_DIR of its tasks
    index_prefix: str  # WARWATCH_INDEX_PREFIX of its tasks
    sources: Path  # WARWATCH_SOURCES of its tasks: the demo site on 127.0.0.1

    def password(self) -> str:
        pw_file = self.home / "simple_auth_manager_passwords.json.generated"
        for _ in range(60):
            if pw_file.exists():
                return str(json.loads(pw_file.read_text())["admin"])
            time.sleep(1)
        pytest.fail(f"{pw_file} never appeared")

    def token(self) -> str:
        return str(call("POST", f"{self.base}/auth/token", {"username": "admin", "password": self.password()})
                   ["access_token"])

    def wait_for_dag(self, dag_id: str, token: str, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                call("GET", f"{self.base}/api/v2/dags/{dag_id}", token=token)
                return
            except (urllib.error.HTTPError, TimeoutError):
                time.sleep(2)
        pytest.fail(f"{dag_id} never appeared in the API")

    def wait_for_run(self, dag_id: str, run_id: str, token: str, timeout: float = 600) -> str:
        deadline = time.monotonic() + timeout
        state = None
        while time.monotonic() < deadline:
            try:
                state = call("GET", f"{self.base}/api/v2/dags/{dag_id}/dagRuns/{run_id}", token=token)["state"]
            except (TimeoutError, urllib.error.URLError):  # a slow answer is not an answer: ask again
                continue
            if state in {"success", "failed"}:
                return str(state)
            time.sleep(3)
        return str(state)


@pytest.fixture(scope="session")
def standalone(tmp_path_factory: pytest.TempPathFactory, es_url: str) -> Iterator[Standalone]:
    """`airflow standalone` on a free port of 127.0.0.1 running this project's DAGs against the demo
    site, with a data directory and an index prefix of its own; one for the session (its start
    costs a minute and more on a busy machine), shared by the REST and the browser test, which
    each look only at the runs they triggered. Its whole process group is stopped after."""
    from demo.server import render_sources, serve
    from tests.conftest import _cleanup_prefix, service_missing

    bin_dir = Path(sys.executable).parent
    if not (bin_dir / "airflow").exists():
        service_missing("airflow is not installed in this environment")
    root = tmp_path_factory.mktemp("airflow-standalone")
    data_dir = root / "data"
    data_dir.mkdir()
    prefix = f"ww-test-{uuid.uuid4().hex[:8]}-"
    try:
        with serve(REPO_ROOT / "demo" / "site", port=0) as server:
            sources = render_sources(server.base_url, data_dir / "sources.yaml")
            yield from _standalone(bin_dir, root, Standalone("", root / "airflow-home", data_dir, prefix, sources),
                                   es_url)
    finally:
        _cleanup_prefix(es_url, prefix)


def _standalone(bin_dir: Path, root: Path, spec: Standalone, es_url: str) -> Iterator[Standalone]:
    port = free_port()
    home = spec.home
    env = dict(
        os.environ,
        PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(DAGS),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__PARALLELISM="4",
        AIRFLOW__API__HOST="127.0.0.1",
        AIRFLOW__API__PORT=str(port),
        # Task workers talk to the api-server's execution API: it is not on the default port here.
        AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"http://127.0.0.1:{port}/execution/",
        AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="5",
        AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL="5",
        PYTHONPATH=str(REPO_ROOT),
        WARWATCH_ES_URL=es_url,
        WARWATCH_INDEX_PREFIX=spec.index_prefix,
        WARWATCH_DATA_DIR=str(spec.data_dir),
        # Unpausing also schedules the latest interval's run: it must crawl the local demo site
        # too, never the production sources on the internet.
        WARWATCH_SOURCES=str(spec.sources),
        # One scheduled feed poll (at unpause), not one every 5 minutes: each adds a batch, and
        # the REST test waits until every batch is processed - a race against the schedule.
        WARWATCH_PIPELINE__FEEDS_INTERVAL_MINUTES="1440",
        # Vectors are not under test here (tests/dags/test_dag_run.py runs the embed task): with
        # them, the scheduled warwatch_process run at unpause fails its embed task on the not yet
        # created articles index and retries it for two minutes, holding back (max_active_runs=1)
        # the run the asset event triggers.
        WARWATCH_EMBEDDINGS__BACKEND="none",
    )
    env.pop("AIRFLOW__CORE__UNIT_TEST_MODE", None)
    log_path = root / "standalone.log"
    log = log_path.open("wb")
    proc = subprocess.Popen([str(bin_dir / "airflow"), "standalone"], env=env, cwd=REPO_ROOT,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        # ~15 s on an idle machine; minutes on a busy shared one.
        deadline = time.monotonic() + 480
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"airflow standalone exited: {log_path.read_text()[-2000:]}")
            try:
                health = call("GET", f"{base}/api/v2/monitor/health")
                if health.get("metadatabase", {}).get("status") == "healthy":
                    break
            except (urllib.error.URLError, OSError, ValueError):
                pass
            time.sleep(2)
        else:
            pytest.fail("airflow standalone did not become healthy in 480 s")
        yield Standalone(base, home, spec.data_dir, spec.index_prefix, spec.sources)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
