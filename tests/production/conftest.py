"""The production shape, started for real on this machine: `make test-production` runs these
tests (`pytest -m production tests/production`); `make test` does not (they are skipped unless
``-m production`` selects them: starting the topology costs minutes).

Every test under this directory is marked ``production``. A failed test's report carries the tail
of every service's log. The services: Postgres, Redis and Airflow with Celery workers (``topology``);
a 3-node local cluster (``local_cluster``: ports 9231-9233, transport 9431-9433, outside the single
node's 9300-9399); a secured Elasticsearch node (``secure_elasticsearch``).
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, _in_data_dir, _reachable_dir
from tests.production import services
from tests.production.s3proxy import S3Proxy, fetch

HERE = Path(__file__).resolve().parent
#: Crawl workers (queue ``crawl``) and the default-queue worker: name -> (queue, concurrency).
WORKERS = {"crawl-a": ("crawl", 2), "crawl-b": ("crawl", 2), "default-1": ("default", 2)}
#: Sources of the local news sites: four quick ones, and slow ones (server latency per request)
#: for the worker-loss checks, which need a crawl still running when they strike.
QUICK_SOURCES = ("site-a", "site-b", "site-c", "site-d")
SLOW_SOURCES = ("site-kill", "site-warm")
SLOW_LATENCY = 0.6


def _under_here(item: pytest.Item) -> bool:
    return HERE in Path(str(item.fspath)).resolve().parents


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    selected = "production" in (config.getoption("markexpr") or "")
    skip = pytest.mark.skip(reason="production-shape checks: run them with `make test-production`")
    for item in items:
        if _under_here(item):
            item.add_marker("production")
            if not selected:
                item.add_marker(skip)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    topology = getattr(item, "funcargs", {}).get("topology")
    if report.failed and isinstance(topology, Topology):
        report.sections.append(("service logs", topology.airflow.log_tails()))


@dataclass
class Topology:
    airflow: services.Airflow
    data_dir: Path
    index_prefix: str
    es_url: str
    base_urls: dict[str, str]  # source id -> its site's base URL

    def token(self) -> str:
        answer = services.call("POST", f"{self.airflow.base}/auth/token",
                               {"username": services.ADMIN, "password": self.airflow.password()})
        assert isinstance(answer, dict)
        return str(answer["access_token"])


def _sources_yaml(base_urls: dict[str, str]) -> str:
    """The demo site's sources entry once per site, each with its own id and base URL."""
    from demo.server import SOURCES_TEMPLATE

    template = SOURCES_TEMPLATE.read_text()
    entry = template[template.index("sources:\n") + len("sources:\n"):]
    first_id = entry.split("id:", 1)[1].split()[0]
    out = ["sources:\n"]
    for source_id, base in base_urls.items():
        out.append(entry.replace(f"id: {first_id}", f"id: {source_id}").replace("{{BASE_URL}}", base))
    return "".join(out)


def _run_dir() -> Path:
    """``WARWATCH_PRODUCTION_RUN_DIR`` (set by `make test-production`, which cleans up after) or
    a new temporary directory; readable by the services' unprivileged users."""
    given = os.environ.get("WARWATCH_PRODUCTION_RUN_DIR")
    run_dir = Path(given) if given else Path(tempfile.mkdtemp(prefix="warwatch-production-"))
    run_dir.mkdir(parents=True, exist_ok=True)
    run_dir.chmod(0o755)
    return run_dir


@pytest.fixture(scope="session")
def topology(es_url: str) -> Iterator[Topology]:
    """Postgres, Redis and Airflow as deployed (api-server, scheduler, dag-processor, two `crawl`
    workers and a `default` one), running this project's DAGs against local news sites and the
    search node with an index prefix of its own; all stopped afterwards, even on failure."""
    from demo.server import SITE_ROOT, serve
    from tests.conftest import _cleanup_prefix

    run_dir = _run_dir()
    registry = services.Registry(run_dir / "processes.json")
    data_dir = run_dir / "data"
    data_dir.mkdir()
    prefix = f"ww-prod-{uuid.uuid4().hex[:8]}-"
    with ExitStack() as stack:
        stack.callback(_cleanup_prefix, es_url, prefix)
        base_urls = {}
        for source_id in QUICK_SOURCES + SLOW_SOURCES:
            latency = SLOW_LATENCY if source_id in SLOW_SOURCES else 0.0
            base_urls[source_id] = stack.enter_context(serve(SITE_ROOT, port=0, latency=latency)).base_url
        sources = data_dir / "sources.yaml"
        sources.write_text(_sources_yaml(base_urls))
        pg = services.start_postgres(run_dir)
        stack.callback(pg.stop)
        redis = services.start_redis(run_dir, registry)
        stack.callback(services.stop, registry, redis.proc)
        extra = {
            "WARWATCH_ES_URL": es_url,
            "WARWATCH_INDEX_PREFIX": prefix,
            "WARWATCH_DATA_DIR": str(data_dir),
            "WARWATCH_SOURCES": str(sources),
            "WARWATCH_EMBEDDINGS__BACKEND": "none",  # vectors are not under test here
            "WARWATCH_CRAWL__AUTOTHROTTLE": "false",
            "WARWATCH_PIPELINE__CRAWL_GRACE_SECONDS": "5",
            # Runs only when the tests trigger them (no scheduled run at unpause crawling every
            # source, no asset-triggered processing racing the one the test starts).
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
            # A lost worker's task is failed (then retried) after this long without a heartbeat
            # (default 300 s).
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "45",
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
        }
        started = time.monotonic()
        airflow = services.create_airflow(run_dir, pg, redis, registry, extra, WORKERS)
        stack.callback(airflow.stop_all)
        services.boot_airflow(airflow)
        print(f"production topology up in {time.monotonic() - started:.0f} s ({run_dir})")  # noqa: T201
        yield Topology(airflow, data_dir, prefix, es_url, base_urls)


#: the shared-state tests' own Postgres (the Airflow topology's port is left alone)
STATE_PG_PORT = int(os.environ.get("WARWATCH_TEST_STATE_PG_PORT", "55442"))


@pytest.fixture(scope="session")
def postgres() -> Iterator[services.Postgres]:
    """One Postgres for the shared-state tests (initdb + start: a few seconds), stopped afterwards."""
    run_dir = Path(tempfile.mkdtemp(prefix="ww-pgstate-"))
    run_dir.chmod(0o755)
    pg = services.start_postgres(run_dir, port=STATE_PG_PORT)
    try:
        yield pg
    finally:
        pg.stop()
        shutil.rmtree(run_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def s3proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Proxy]:
    """One S3-compatible server for the session (each test file its own bucket), stopped after."""
    server = S3Proxy(fetch(REPO_ROOT / ".local" / "s3proxy"), tmp_path_factory.mktemp("s3proxy") / "blobs")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def use_bucket(monkeypatch: pytest.MonkeyPatch, server: S3Proxy, bucket: str, prefix: str,
               **more: str) -> None:
    """Settings pointing storage at ``bucket``/``prefix`` of ``server`` (plus ``more``
    WARWATCH_* variables), and the bucket created if it is not there yet."""
    from indexing.settings import get_settings, reset_settings
    from indexing.storage import s3_client

    env = {"WARWATCH_STORAGE__BACKEND": "s3", "WARWATCH_STORAGE__BUCKET": bucket, "WARWATCH_STORAGE__PREFIX": prefix,
           "WARWATCH_STORAGE__ENDPOINT_URL": server.endpoint, "WARWATCH_STORAGE__ACCESS_KEY_ID": server.access_key,
           "WARWATCH_STORAGE__SECRET_ACCESS_KEY": server.secret_key, "WARWATCH_STORAGE__MAX_ATTEMPTS": "2",
           "WARWATCH_CRAWL__DOWNLOAD_DELAY": "0", "WARWATCH_CRAWL__AUTOTHROTTLE": "false", **more}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    reset_settings()
    client = s3_client(get_settings().storage)
    if bucket not in {b["Name"] for b in client.list_buckets().get("Buckets", [])}:
        client.create_bucket(Bucket=bucket)


def fresh_schema(pg: services.Postgres) -> str:
    """A DSN whose tables live in a new schema of their own (one per test: nothing shared)."""
    import psycopg2

    schema = f"t_{uuid.uuid4().hex[:12]}"
    conn = psycopg2.connect(pg.dsn)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"CREATE SCHEMA {schema}")
    conn.close()
    return f"{pg.dsn}?options=-csearch_path%3D{schema}"


CLUSTER_PORT = int(os.environ.get("WARWATCH_TEST_CLUSTER_PORT", "9231"))
CLUSTER_NODES = 3


@dataclass
class LocalCluster:
    """The running cluster: its node URLs, and the loss and return of one node."""

    root: Path
    ports: tuple[int, ...]

    @property
    def urls(self) -> list[str]:
        return [f"http://127.0.0.1:{p}" for p in self.ports]

    @property
    def es_url(self) -> str:
        return ",".join(self.urls)

    def kill(self, port: int) -> int:
        """SIGKILL the node on ``port`` (the server JVM this tool started; proven by its state)."""
        from warwatch import localnode
        from warwatch.localnode import node, proc

        def server() -> proc.Identity:
            state = node.read_state(localnode.node_dir(port))
            alive = node.proven_processes(state)
            assert alive, f"no node of ours on port {port}"
            return alive[-1]

        ident = _in_data_dir(self.root, server)
        assert proc.signal_if_same(ident, signal.SIGKILL)
        return ident.pid

    def restart(self) -> list[str]:
        """Start the cluster again: nodes that run are kept, a killed one comes back."""
        from warwatch import localnode

        return _in_data_dir(self.root, lambda: localnode.start_cluster(port=self.ports[0], nodes=len(self.ports)))


@pytest.fixture(scope="session")
def local_cluster() -> Iterator[LocalCluster]:
    from warwatch import localnode

    root = _reachable_dir("ww-cluster-")
    cluster = LocalCluster(root, tuple(CLUSTER_PORT + i for i in range(CLUSTER_NODES)))
    try:
        _in_data_dir(root, lambda: localnode.start_cluster(port=CLUSTER_PORT, nodes=CLUSTER_NODES))
        yield cluster
    finally:
        _in_data_dir(root, lambda: localnode.stop_cluster(port=CLUSTER_PORT))
        shutil.rmtree(root, ignore_errors=True)


SECURE_PORT = int(os.environ.get("WARWATCH_TEST_SECURE_PORT", "9236"))
SECURE_PREFIX = "ww-sec-"


@dataclass
class SecureNode:
    """A secured Elasticsearch node: its URL and the files under its node dir (secure.py)."""

    url: str
    secure_dir: Path

    def secret(self, name: str) -> str:
        return (self.secure_dir / name).read_text(encoding="utf-8").strip()


@pytest.fixture(scope="session")
def secure_elasticsearch() -> Iterator[SecureNode]:
    """Elasticsearch (integ-test-zip) with security on: TLS on HTTP, the elastic bootstrap
    password, a file-realm user limited to ``ww-sec-*`` (roles.yml)."""
    from warwatch import localnode
    from warwatch.localnode import secure

    root = _reachable_dir("ww-secure-es-")

    def start() -> SecureNode:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("WARWATCH_INDEX_PREFIX", SECURE_PREFIX)
            from indexing.settings import reset_settings

            reset_settings()
            url = localnode.start(port=SECURE_PORT, engine="elasticsearch", secured=True)
        return SecureNode(url, secure.secure_dir(localnode.node_dir(SECURE_PORT)))

    try:
        yield _in_data_dir(root, start)
    finally:
        _in_data_dir(root, lambda: localnode.stop(port=SECURE_PORT))
        shutil.rmtree(root, ignore_errors=True)
