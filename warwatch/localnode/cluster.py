"""Several local nodes forming one cluster: consecutive loopback HTTP ports, one data dir each
(``<data_dir>/search-node/<port>``), a cluster name and seed hosts of their own.

All nodes are spawned before any is waited for (a cluster node answers health only once enough
of the nodes to elect a cluster manager have met). Starting again is idempotent: the nodes that
answer are kept, a missing one (killed, crashed) is started and rejoins. ``stop_cluster`` stops
every node named in the first node's state.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
import urllib.error
import urllib.request
from typing import Any

from indexing.settings import get_settings
from warwatch.localnode import node, user
from warwatch.localnode.engines import Cluster, LocalNodeError, engine_spec, make_cluster, node_dir, url_of

logger = logging.getLogger(__name__)


def cluster_of(port: int) -> Cluster | None:
    """The cluster the node on ``port`` was started in (from its state), None for a single node."""
    return Cluster.from_json(node.read_state(node_dir(port)).get("cluster"))


def _cluster_health(port: int, timeout: float = 5.0) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(url_of(port) + "/_cluster/health?timeout=1s", timeout=timeout) as resp:  # noqa: S310
            body = json.load(resp)
    except (OSError, ValueError, urllib.error.URLError):
        return None
    return body if isinstance(body, dict) else None


def wait_for_nodes(cluster: Cluster, deadline: float, poll: float = 0.5) -> dict[str, Any]:
    """Until one node of the cluster reports every node joined; its health answer."""
    last: dict[str, Any] | None = None
    while True:
        for port in cluster.http_ports:
            last = _cluster_health(port)
            if last and int(last.get("number_of_nodes") or 0) >= len(cluster.http_ports):
                return last
        if time.monotonic() > deadline:
            raise LocalNodeError(f"cluster {cluster.name}: not every node joined in time (last health: {last})")
        time.sleep(poll)


def start_cluster(port: int | None = None, nodes: int = 3, engine: str | None = None,
                  transport_port: int | None = None) -> list[str]:
    """Start (idempotently) ``nodes`` nodes on ``port..port+nodes-1`` as one cluster and wait
    until all have joined. Returns their URLs."""
    first = port if port is not None else get_settings().local_es.port
    cluster = make_cluster(first, nodes, transport_port)
    spec = engine_spec(engine)
    timeout = get_settings().local_es.start_timeout
    launches: list[node.Launch] = []
    with contextlib.ExitStack() as locks:
        for p in cluster.http_ports:
            ndir = node_dir(p)
            user.ensure_root_dir(ndir)
            locks.enter_context(user.file_lock(ndir / ".lock"))
            known = Cluster.from_json(node.read_state(ndir).get("cluster"))
            if known is not None and known != cluster:
                raise LocalNodeError(f"the node on port {p} belongs to cluster {known.name}; stop it first")
        try:
            for p in cluster.http_ports:
                if not node.prepare_port(p, spec, engine, node_dir(p)):
                    launches.append(node._begin(p, spec, node_dir(p), cluster))
            deadline = time.monotonic() + timeout
            for launch in list(launches):
                node._finish(launch, deadline)
                launches.remove(launch)
        except BaseException:
            for launch in launches:
                with contextlib.suppress(LocalNodeError):
                    node.abandon(launch)
            raise
        health = wait_for_nodes(cluster, time.monotonic() + timeout)
    logger.info("cluster %s is up: %s nodes, %s", cluster.name, health.get("number_of_nodes"), health.get("status"))
    return [url_of(p) for p in cluster.http_ports]


def stop_cluster(port: int | None = None) -> list[int]:
    """Stop every node of the cluster the node on ``port`` belongs to (only that node when it
    is a single node). Returns the ports where a node was stopped."""
    first = port if port is not None else get_settings().local_es.port
    cluster = cluster_of(first)
    ports = cluster.http_ports if cluster is not None else (first,)
    return [p for p in ports if node.stop(p)]
