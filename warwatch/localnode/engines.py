"""The engines the local node can run, the constants every stage shares, and its error type."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from indexing.settings import get_settings

#: The unprivileged system user that runs the node when we are root.
NODE_USER = "warwatch-search"
#: cluster.name of every node started here; used to recognise our own nodes on a port.
CLUSTER_NAME = "warwatch-local"
#: Where distributions are unpacked (gitignored; the project's own directory).
CACHE_DIR = Path(__file__).resolve().parents[2] / ".local" / "search"  # the checkout's .local/ (make install)
#: Where the node's files go when the node user cannot reach the project or data dir (as root):
#: a root-owned directory of our own; ancestors of the project are never made traversable.
FALLBACK_ROOT = Path("/var/lib/warwatch-search")
HOST = "127.0.0.1"
STATE_FILE = "node.json"
LOG_TAIL_LINES = 12


class LocalNodeError(RuntimeError):
    """The local node cannot be fetched, started or stopped; the message is one clear line,
    optionally followed by the last lines of the node's log."""


@dataclass(frozen=True)
class Plugin:
    """A plugin zip on Maven Central that fetch installs into its engine (a plugin loads only into
    the exact engine version it was built for)."""

    group: str
    artifact: str  # also the plugin's directory under plugins/ once installed
    version: str
    #: SHA-256 of the plugin zip; a download that does not match is refused before it is installed
    sha256: str

    @property
    def coordinates(self) -> str:
        return f"{self.group}:{self.artifact}:{self.version}:zip"


@dataclass(frozen=True)
class EngineSpec:
    """One engine distribution on Maven Central, with the plugins installed into it at fetch time."""

    name: str
    #: the product as the node reports itself (probe.py): ``opensearch-knn`` is an ``opensearch``
    product: str
    version: str
    group: str
    artifact: str
    #: SHA-256 of the zip; a download that does not match is refused before it is unpacked
    sha256: str
    launcher: str  # relative to the install dir
    #: the Java main class of the server process (how a process is recognised as a node)
    main_class: str
    env_prefix: str  # OPENSEARCH_ / ES_ (…_JAVA_HOME, …_PATH_CONF, …_TMPDIR)
    config_file: str
    min_java: int
    #: modules the product needs; fetch() fails if one is missing (empty: a bare engine)
    required_modules: tuple[str, ...] = ()
    #: extra lines for the node's yml
    extra_settings: tuple[tuple[str, str], ...] = ()
    #: the setting naming the nodes that may bootstrap a new cluster (OpenSearch renamed "master")
    initial_managers_key: str = "cluster.initial_master_nodes"
    #: plugins installed at fetch time; the install is marked complete only once all are in
    plugins: tuple[Plugin, ...] = ()

    @property
    def coordinates(self) -> str:
        return f"{self.group}:{self.artifact}:{self.version}:zip"

    @property
    def plugin_tool(self) -> str:
        """The distribution's plugin installer, relative to the install dir (bin/opensearch-plugin)."""
        return f"{self.launcher}-plugin"

    @property
    def dirname(self) -> str:
        return f"{self.name}-{self.version}"


def _integ_test_zip(product: str, version: str, sha256: str, main_class: str, env_prefix: str, *,
                    name: str | None = None, **extra: Any) -> EngineSpec:
    """An engine's integration-test distribution: ``org.<product>.distribution.integ-test-zip:<product>``."""
    return EngineSpec(name=name or product, product=product, version=version,
                      group=f"org.{product}.distribution.integ-test-zip", artifact=product, sha256=sha256,
                      launcher=f"bin/{product}", main_class=main_class, env_prefix=env_prefix,
                      config_file=f"{product}.yml", min_java=21, **extra)  # fmt: skip


#: what every OpenSearch engine here shares: the modules the product needs, the bootstrap setting
_OPENSEARCH: dict[str, Any] = {
    "main_class": "org.opensearch.bootstrap.OpenSearch", "env_prefix": "OPENSEARCH",
    "required_modules": ("analysis-common", "percolator", "reindex", "lang-painless", "mapper-extras"),
    "initial_managers_key": "cluster.initial_cluster_manager_nodes",
}  # fmt: skip

# SHA-256 computed from the zips Maven Central served in November 2026 (OpenSearch's matched the
# .sha1 published next to it); opensearch-knn's in December 2026 (the plugin's matched the .sha1
# and .sha512 published next to it; the 3.5.0 engine zip has none published).
ENGINES: dict[str, EngineSpec] = {
    "opensearch": _integ_test_zip(
        "opensearch", "3.8.0", "196c3cf4602c394f2e40e6174ccbf2a924eae37246f08fa6bbb6b75f9fd5ff1f", **_OPENSEARCH,
    ),
    # OpenSearch with its own vector search (the k-NN plugin: `knn_vector`, the `knn` query): the
    # plugin is on Maven Central only for 3.5.0, and loads only into that exact engine version.
    # Only the `lucene` HNSW engine works: the plugin zip carries no native libraries, so the first
    # document indexed into a `faiss` (or `nmslib`) field kills the node (UnsatisfiedLinkError).
    "opensearch-knn": _integ_test_zip(
        "opensearch", "3.5.0", "b676ad392c95a94d8d2bd8785b8b922c7811536daf6a9ec0c7277a34bd8a17a9", **_OPENSEARCH,
        name="opensearch-knn",
        plugins=(Plugin("org.opensearch.plugin", "opensearch-knn", "3.5.0.0",
                        "99fdf3ac9ef95974e276298b83a58532bf21ba13bd5fd96a4b59465b7e613309"),),
    ),
    "elasticsearch": _integ_test_zip(
        "elasticsearch", "9.2.4", "af7b81fe31627c7523b2546351cd4e47310faa6a72c8db8dc8f7a191e871cfaf",
        "org.elasticsearch.bootstrap.Elasticsearch", "ES", extra_settings=(("xpack.security.enabled", "false"),),
    ),
}
DEFAULT_ENGINE = "opensearch"


#: The transport port range of a single node (``transport.port: "9300-9399"``, nodeconfig.py):
#: a cluster's transport ports stay outside it, so its nodes never meet a single node.
SINGLE_NODE_TRANSPORT = range(9300, 9400)
#: A cluster's transport ports by default: its HTTP ports plus this (9231 -> 9431).
TRANSPORT_OFFSET = 200
MAX_NODES = 9


@dataclass(frozen=True)
class Cluster:
    """Several local nodes on consecutive loopback ports forming one cluster of their own:
    its own ``cluster.name``, explicit seed hosts (its own transport ports only)."""

    http_ports: tuple[int, ...]
    transport_ports: tuple[int, ...]

    @property
    def name(self) -> str:
        return f"{CLUSTER_NAME}-{self.http_ports[0]}"

    def transport_of(self, port: int) -> int:
        return self.transport_ports[self.http_ports.index(port)]

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "http_ports": list(self.http_ports), "transport_ports": list(self.transport_ports)}

    @classmethod
    def from_json(cls, data: Any) -> Cluster | None:
        if not isinstance(data, dict):
            return None
        try:
            return make_cluster(int(data["http_ports"][0]), len(data["http_ports"]), int(data["transport_ports"][0]))
        except (KeyError, IndexError, TypeError, ValueError, LocalNodeError):
            return None


def make_cluster(port: int, nodes: int, transport_port: int | None = None) -> Cluster:
    """``nodes`` nodes on HTTP ports ``port..port+nodes-1`` and transport ports from
    ``transport_port`` (default ``port + 200``); refuses ports a single node or HTTP might use."""
    if not 2 <= nodes <= MAX_NODES:
        raise LocalNodeError(f"a cluster has 2 to {MAX_NODES} nodes, not {nodes}")
    http = tuple(check_port(port + i) for i in range(nodes))
    first = port + TRANSPORT_OFFSET if transport_port is None else transport_port
    transport = tuple(check_port(first + i) for i in range(nodes))
    clash = sorted((set(transport) & set(SINGLE_NODE_TRANSPORT)) | (set(transport) & set(http)))
    if clash:
        raise LocalNodeError(f"transport ports {clash} clash with the HTTP ports or with a single node's "
                             "transport range 9300-9399; choose others with --transport-port")
    return Cluster(http, transport)


def engine_spec(engine: str | None) -> EngineSpec:
    name = (engine or getattr(get_settings().local_es, "engine", None) or DEFAULT_ENGINE).lower()
    try:
        return ENGINES[name]
    except KeyError:
        raise LocalNodeError(f"unknown engine {name!r}; choose one of {', '.join(sorted(ENGINES))}") from None


def check_port(port: int | None) -> int:
    p = int(port if port is not None else get_settings().local_es.port)
    if not 1024 <= p <= 65535:
        raise LocalNodeError(f"port {p} is out of range (1024-65535)")
    return p


def is_our_cluster_name(name: Any) -> bool:
    """The cluster name of a node started here: the single node's or a local cluster's."""
    return name == CLUSTER_NAME or (isinstance(name, str) and re.fullmatch(rf"{CLUSTER_NAME}-\d+", name) is not None)


def node_dir(port: int | None = None) -> Path:
    """``<data_dir>/search-node/<port>``, absolute (data_dir is resolved against the cwd): the
    node's state (``node.json``) and, when the node user can reach it, its files."""
    return get_settings().data_dir.expanduser().resolve() / "search-node" / str(check_port(port))


def url_of(port: int) -> str:
    return f"http://{HOST}:{port}"
