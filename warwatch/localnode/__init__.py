"""`warwatch local-es`: a real single-node search engine on 127.0.0.1, without Docker.

The distribution comes from Maven Central through ``mvn dependency:copy``, is checked against a
pinned SHA-256 and unpacked under the repository's ``.local/search/`` (gitignored). What was
found on Maven Central:

* Elastic's integration-test distribution
  (``org.elasticsearch.distribution.integ-test-zip:elasticsearch``, newest 9.x there: 9.2.4) is a
  genuine Elasticsearch but carries only the server, transport-netty4, apm and x-pack core/security:
  no ``analysis-common`` (language analyzers), no percolator, no reindex, and Elastic does not
  publish those modules to Maven Central (checked for 9.2.4 and 8.19.4). It still runs bare and is
  kept as ``engine="elasticsearch"`` so the Elasticsearch client path can be smoke-tested.
* OpenSearch's integration-test distribution
  (``org.opensearch.distribution.integ-test-zip:opensearch:3.8.0``) ships every module this
  product needs (analysis-common, percolator, reindex, lang-painless, mapper-extras, ...), so it
  is the default local engine. Production stays Elasticsearch (docker-compose).

The node runs as a dedicated unprivileged system user (Elasticsearch and OpenSearch refuse root);
its state lives in ``<data_dir>/search-node/<port>/``. It binds 127.0.0.1 only,
``discovery.type=single-node``, heap from ``settings.local_es``, no security plugin.

Stages, one module each: :mod:`.engines` (what can run, shared constants), :mod:`.maven` (fetch,
verify, unpack), :mod:`.java` (a JDK), :mod:`.user` (the node user, its directories, careful
file handling as root), :mod:`.nodeconfig` (the node's config dir), :mod:`.probe` (what answers
on a port), :mod:`.proc` (process identity), :mod:`.node` (start, stop, status). The command
line is ``warwatch local-es fetch|start|stop|status`` (warwatch/cli.py); ``start --nodes N``
starts a cluster of N nodes (:mod:`.cluster`: consecutive HTTP ports, transport ports outside the
single node's 9300-9399, a cluster name and seed hosts of its own), ``stop`` stops all of them.
"""

from warwatch.localnode.cluster import start_cluster, stop_cluster
from warwatch.localnode.engines import (
    CLUSTER_NAME,
    DEFAULT_ENGINE,
    ENGINES,
    NODE_USER,
    EngineSpec,
    LocalNodeError,
    node_dir,
)
from warwatch.localnode.java import find_java
from warwatch.localnode.maven import fetch, install_dir
from warwatch.localnode.node import start, status, stop

__all__ = [
    "CLUSTER_NAME", "DEFAULT_ENGINE", "ENGINES", "NODE_USER", "EngineSpec", "LocalNodeError",
    "fetch", "find_java", "install_dir", "node_dir", "start", "start_cluster", "status", "stop", "stop_cluster",
]  # fmt: skip
