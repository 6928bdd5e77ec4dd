"""Production-shape services, started once per session and stopped afterwards: a 3-node local
cluster (ports 9231-9233, transport 9431-9433: outside the single node's 9300-9399). These tests
carry the ``production`` marker (from their fixtures, tests/conftest.py) and run under
``make test-production``, not ``make test``."""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import _in_data_dir, _reachable_dir

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
