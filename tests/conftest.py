"""Shared fixtures. Services are real: the local search node started by `make test`,
Airflow's own dag.test(), HTTP servers on 127.0.0.1. Outside CI a test whose service is
missing skips; with CI=true it fails.

Markers follow from the fixtures a test asks for (``pytest_collection_modifyitems`` below), never
from a hand-written mark that can be forgotten: ``make test-fast`` deselects them all."""

from __future__ import annotations

import json
import os
import shutil
import socket
import tempfile
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from indexing.engine import Engine, connect
from indexing.settings import Settings, reset_settings

T = TypeVar("T")

REPO_ROOT = Path(__file__).resolve().parent.parent

# The search nodes tests start themselves live for seconds: without the JVM's optimising compiler
# a node starts on half the CPU (17 -> 9 CPU s here). The shared node `make test` starts before
# pytest keeps the defaults.
os.environ.setdefault("WARWATCH_LOCAL_ES__JVM_OPTIONS", '["-XX:TieredStopAtLevel=1"]')
# No test touches the indices of the developer's own node (the default prefix, "warwatch-"): a test
# that talks to the engine without the index_prefix fixture works under this session's prefix,
# removed when the session ends (xdist's workers inherit it from the controller).
SESSION_PREFIX = os.environ.setdefault("WARWATCH_INDEX_PREFIX", f"ww-test-session-{uuid.uuid4().hex[:8]}-")
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def pytest_sessionfinish(session: pytest.Session) -> None:
    url = os.environ.get("WARWATCH_ES_URL")
    if url and SESSION_PREFIX.startswith("ww-test-session-") and not hasattr(session.config, "workerinput"):
        _cleanup_prefix(url, SESSION_PREFIX)


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


#: marker -> the fixtures that imply it (directly or through the fixtures they depend on: pytest's
#: ``item.fixturenames`` is the closure, so ``index_prefix`` and ``engine`` imply ``es_url``).
FIXTURE_MARKERS: dict[str, frozenset[str]] = {
    "es": frozenset({"es_url"}),
    "airflow": frozenset({"airflow_db", "standalone"}),
    "browser": frozenset({"browser"}),
    # a search node of the test's own (a JVM started and stopped by the test or its module)
    "jvm": frozenset({"node_data_dir", "spare_node_dir", "bare_elasticsearch", "bare_elasticsearch_node",
                      "knn_opensearch", "knn_opensearch_node"}),
    # a real crawler subprocess (Scrapy) against a site served on 127.0.0.1
    "crawl": frozenset({"crawler", "hostile_crawl"}),
    # production-shape services of a session of their own (tests/production): `make test-production`
    "production": frozenset({"local_cluster", "secure_elasticsearch"}),
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        for marker, fixtures in FIXTURE_MARKERS.items():
            if used & fixtures:
                item.add_marker(marker)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    """``--dist loadfile`` by work unit, longest first (tests/scheduling.py)."""
    if config.getoption("dist", None) != "loadfile":
        return None
    from tests.scheduling import make_scheduler

    return make_scheduler(config, log)


# Property tests: the examples each @given test draws (tests set no max_examples of their own).
# CI runs the full count; the edit loop a smaller one.
hypothesis_settings.register_profile("ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
hypothesis_settings.register_profile("dev", max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if _in_ci() else "dev"))


def service_missing(reason: str) -> None:
    """Fail in CI, skip elsewhere."""
    if _in_ci():
        pytest.fail(f"required service missing in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def _fresh_settings() -> Iterator[None]:
    reset_settings()
    yield
    reset_settings()


@pytest.fixture(scope="session")
def es_url() -> str:
    url = os.environ.get("WARWATCH_ES_URL", "http://127.0.0.1:9200")
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 - loopback node
            json.load(resp)
    except Exception as exc:  # any failure means: no usable node
        service_missing(f"no search node at {url} ({exc}); run `warwatch local-es start`")
    return url


@pytest.fixture
def index_prefix(es_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A unique index prefix for one test; its indices and templates are removed afterwards."""
    prefix = f"ww-test-{uuid.uuid4().hex[:8]}-"
    monkeypatch.setenv("WARWATCH_ES_URL", es_url)
    monkeypatch.setenv("WARWATCH_INDEX_PREFIX", prefix)
    reset_settings()
    yield prefix
    _cleanup_prefix(es_url, prefix)


def _cleanup_prefix(es_url: str, prefix: str) -> None:
    def call(method: str, path: str) -> None:
        req = urllib.request.Request(es_url + path, method=method)
        try:
            urllib.request.urlopen(req, timeout=30).read()  # noqa: S310
        except Exception:
            pass

    call("DELETE", f"/{prefix}*?expand_wildcards=all")
    call("DELETE", f"/_index_template/{prefix}*")
    call("DELETE", f"/_component_template/{prefix}*")


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "data"
    d.mkdir()
    monkeypatch.setenv("WARWATCH_DATA_DIR", str(d))
    reset_settings()
    return d


@pytest.fixture
def settings(data_dir: Path) -> Settings:
    """The settings a test hands to the library: the layered ones (code defaults < settings.yaml <
    environment) with the test's own data dir. Change a value with ``settings.model_copy(update=...)``
    or a section's ``model_copy``, not through the environment."""
    return Settings(data_dir=data_dir)


@pytest.fixture
def es_settings(settings: Settings, index_prefix: str, es_url: str) -> Settings:
    """:func:`settings` on the test's search node with its own index prefix (``es``-marked)."""
    return settings.model_copy(update={"es_url": es_url, "index_prefix": index_prefix})


@pytest.fixture
def engine(es_settings: Settings) -> Iterator[Engine]:
    """A client of the test's search node (closed after the test); indices under its own prefix."""
    client = connect(es_settings)
    yield client
    client.close()


def count_docs(es_url: str, alias: str) -> int:
    """Documents behind an index or alias, after a refresh (so the last writes are counted)."""
    urllib.request.urlopen(urllib.request.Request(f"{es_url}/{alias}/_refresh", method="POST"), timeout=30).read()
    with urllib.request.urlopen(f"{es_url}/{alias}/_count", timeout=30) as resp:  # noqa: S310
        return int(json.load(resp)["count"])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _reachable_dir(prefix: str) -> Path:
    """A scratch dir the unprivileged node user can enter (pytest's tmp dirs are 0700)."""
    root = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    root.chmod(0o755)
    return root


@pytest.fixture
def spare_node_dir(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """WARWATCH_DATA_DIR for a search node the test starts (and stops) itself on a spare port."""
    root = _reachable_dir("ww-spare-node-")
    monkeypatch.setenv("WARWATCH_DATA_DIR", str(root))
    reset_settings()
    yield root
    shutil.rmtree(root, ignore_errors=True)


def _in_data_dir(root: Path, action: Callable[[], T]) -> T:
    """``action()`` with WARWATCH_DATA_DIR=root, the environment and settings restored after."""
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("WARWATCH_DATA_DIR", str(root))
            reset_settings()
            return action()
    finally:
        reset_settings()


@dataclass(frozen=True)
class BareNode:
    """The session's bare Elasticsearch node: its port and URL, and the data dir it was started
    with, a dir under a 0700 directory the node user cannot enter (as root), so the node's files
    live in the fallback dir (``engines.FALLBACK_ROOT``, here under ``root``)."""

    port: int
    url: str
    root: Path

    @property
    def data_dir(self) -> Path:
        return self.root / "locked" / "data"

    @property
    def fallback(self) -> Path:
        return self.root / "fallback"

    @contextmanager
    def within(self) -> Iterator[None]:
        """The data dir and fallback the node was started with (``localnode`` finds it by them)."""
        from warwatch.localnode import engines

        try:
            with pytest.MonkeyPatch.context() as mp:
                mp.setenv("WARWATCH_DATA_DIR", str(self.data_dir))
                mp.setattr(engines, "FALLBACK_ROOT", self.fallback)
                reset_settings()
                yield
        finally:
            reset_settings()


@pytest.fixture(scope="session")
def bare_elasticsearch_node() -> Iterator[BareNode]:
    """One bare Elasticsearch node (Elastic's integ-test-zip: no analysis-common) on a spare port
    for the whole session, shared by the tests of the elasticsearch client path (one JVM start
    for all of them: tests/scheduling.py runs them in one unit). Stopped at the end, which must
    succeed."""
    from warwatch import localnode

    root = _reachable_dir("ww-bare-es-")
    (root / "locked" / "data").mkdir(parents=True)
    (root / "locked").chmod(0o700)
    port = free_port()
    node = BareNode(port, "", root)
    try:
        with node.within():
            url = localnode.start(port=port, engine="elasticsearch")
        yield BareNode(port, url, root)
    finally:
        with node.within():
            stopped = localnode.stop(port=port)
        shutil.rmtree(root, ignore_errors=True)
    assert stopped, "the bare Elasticsearch node did not stop"


@pytest.fixture(scope="session")
def bare_elasticsearch(bare_elasticsearch_node: BareNode) -> str:
    """The bare Elasticsearch node's URL (:func:`bare_elasticsearch_node`)."""
    return bare_elasticsearch_node.url


@dataclass(frozen=True)
class KnnNode:
    """The session's OpenSearch node with the k-NN plugin: its port, URL and data dir."""

    port: int
    url: str
    data_dir: Path

    def status(self) -> dict[str, Any]:
        """``warwatch local-es status`` of the node, asked from the data dir it was started with."""
        from warwatch import localnode

        return _in_data_dir(self.data_dir, lambda: localnode.status(self.port))


#: the engine of :func:`knn_opensearch_node` (warwatch/localnode/engines.py)
KNN_ENGINE = "opensearch-knn"


def _knn_engine_available() -> None:
    """The JDK and the fetched engine (fetched now if Maven can): missing, the tests skip outside
    CI and fail in CI, where `make install` fetched it."""
    from warwatch import localnode

    try:
        localnode.find_java(localnode.ENGINES[KNN_ENGINE].min_java)
        localnode.fetch(KNN_ENGINE)
    except localnode.LocalNodeError as exc:
        service_missing(f"the {KNN_ENGINE} engine is not available ({exc}); run `make install`")


@pytest.fixture(scope="session")
def knn_opensearch_node() -> Iterator[KnnNode]:
    """One OpenSearch node with the k-NN plugin (engine ``opensearch-knn``: OpenSearch 3.5.0,
    ``knn_vector`` and the ``knn`` query; Lucene HNSW only) on a spare port for the whole session,
    shared by the tests of the engine's own vector search (one JVM start for all of them:
    tests/scheduling.py runs them in one unit). Stopped at the end, which must succeed."""
    from warwatch import localnode

    _knn_engine_available()
    root = _reachable_dir("ww-knn-os-")
    port = free_port()
    try:
        url = _in_data_dir(root, lambda: localnode.start(port=port, engine=KNN_ENGINE))
        yield KnnNode(port, url, root)
    finally:
        stopped = _in_data_dir(root, lambda: localnode.stop(port=port))
        shutil.rmtree(root, ignore_errors=True)
    assert stopped, "the k-NN OpenSearch node did not stop"


@pytest.fixture(scope="session")
def knn_opensearch(knn_opensearch_node: KnnNode) -> str:
    """The k-NN OpenSearch node's URL (:func:`knn_opensearch_node`)."""
    return knn_opensearch_node.url
