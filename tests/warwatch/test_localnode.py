"""The local search node (warwatch.localnode): real nodes on spare ports, never on 9200.

The node tests start a real OpenSearch (and a bare Elasticsearch) under a temporary data dir; they
need Java 21+ and Maven (a missing one skips outside CI and fails in CI). The hardening tests plant
an unrelated process (``sleep``) where an older warwatch would have signalled it, symlinks where
root would have written through them, and a wrong archive where it would have been unpacked."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from indexing.errors import ConfigError
from indexing.settings import get_settings, reset_settings
from tests.conftest import BareNode, KnnNode, service_missing
from warwatch import localnode
from warwatch.localnode import LocalNodeError, engines, maven, node_dir, proc, user
from warwatch.localnode.engines import Plugin
from warwatch.localnode.nodeconfig import write_config
from warwatch.localnode.probe import port_in_use

START_TIMEOUT = "600"  # seconds; two cores shared with other work can make a JVM start slowly


def _free_port(preferred: int) -> int:
    for port in [preferred, *range(preferred + 10, preferred + 60)]:
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port")


def _call(url: str, method: str = "GET", body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as resp:  # noqa: S310 - loopback node
        return json.load(resp)


def _require_tools() -> None:
    try:
        localnode.find_java(21)
    except LocalNodeError as exc:
        service_missing(str(exc))
    if not shutil.which("mvn"):
        service_missing("Maven (mvn) is not installed")


@pytest.fixture(scope="module")
def node_data_dir() -> Iterator[Path]:
    """A data dir the unprivileged node user can reach (pytest's tmp_path is root-only)."""
    root = Path(tempfile.mkdtemp(prefix="ww-localnode-test-", dir="/tmp"))
    root.chmod(0o755)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WARWATCH_DATA_DIR", str(root / "data"))
        mp.setenv("WARWATCH_LOCAL_ES__START_TIMEOUT", START_TIMEOUT)
        reset_settings()
        yield root / "data"
    reset_settings()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def victim() -> Iterator[subprocess.Popen[bytes]]:
    """An unrelated process whose PID gets planted where the node's should be."""
    p = subprocess.Popen(["sleep", "3600"])  # noqa: S607 - killed at teardown
    try:
        yield p
    finally:
        p.kill()
        p.wait()


def _plant(port: int, pid: int, *, identity: dict[str, Any] | None = None) -> None:
    """A stale node.json naming ``pid`` (after a reboot, a PID is anybody's)."""
    ndir = node_dir(port)
    ndir.mkdir(parents=True, exist_ok=True)
    state = {"pid": pid, "engine": "opensearch", "port": port, "launcher": identity, "server": identity}
    (ndir / "node.json").write_text(json.dumps(state))


@pytest.fixture(scope="module")
def node(node_data_dir: Path, victim: subprocess.Popen[bytes]) -> Iterator[tuple[int, str]]:
    """A real OpenSearch node on a spare port (9251 if free) for this module, started over a stale
    node.json that names an unrelated live process."""
    _require_tools()
    port = _free_port(9251)
    _plant(port, victim.pid)
    url = localnode.start(port)
    try:
        yield port, url
    finally:
        localnode.stop(port)


# --- pure unit tests ------------------------------------------------------------------------


def test_unknown_engine_is_a_clear_error() -> None:
    with pytest.raises(LocalNodeError, match="unknown engine 'solr'"):
        localnode.fetch("solr")


def test_port_out_of_range() -> None:
    with pytest.raises(LocalNodeError, match="out of range"):
        localnode.status(80)


def test_missing_maven_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(engines, "CACHE_DIR", tmp_path / "cache")
    monkeypatch.setenv("PATH", str(tmp_path))  # no mvn here
    with pytest.raises(LocalNodeError, match=r"Maven \(mvn\) is required"):
        localnode.fetch("opensearch")


def test_missing_java_is_a_clear_error() -> None:
    with pytest.raises(LocalNodeError, match="Java 99\\+ is required"):
        localnode.find_java(99)


def test_status_of_a_free_port(data_dir: Path) -> None:
    port = _free_port(9281)
    st = localnode.status(port)
    assert st["running"] is False
    assert st["url"] == f"http://127.0.0.1:{port}"
    assert st["health"] is None
    assert Path(st["node_dir"]) == data_dir.resolve() / "search-node" / str(port)
    assert localnode.stop(port) is False


def test_config_paths_are_absolute_and_heap_from_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    (home / "config" / "jvm.options.d").mkdir(parents=True)
    (home / "config" / "jvm.options").write_text(
        "-Xms1g\n-Xmx1g\n-XX:HeapDumpPath=data\n-XX:ErrorFile=logs/hs_err_pid%p.log\n"
        "9-:-Xlog:gc*:file=logs/gc.log:utctime:filecount=32,filesize=64m\n"
        "21-:-javaagent:agent/opensearch-agent.jar\n"
    )
    (home / "config" / "log4j2.properties").write_text("x=1\n")
    monkeypatch.setenv("WARWATCH_LOCAL_ES__HEAP", "256m")
    monkeypatch.setenv("WARWATCH_LOCAL_ES__MAX_HEAP", "768m")
    reset_settings()
    ndir = tmp_path / "node"
    conf = write_config(localnode.ENGINES["opensearch"], home, ndir, 9333)
    jvm = (conf / "jvm.options").read_text()
    assert "-Xms1g" not in jvm and "-Xmx1g" not in jvm
    assert f"HeapDumpPath={ndir}/data" in jvm
    assert f"ErrorFile={ndir}/logs/hs_err" in jvm
    assert f"file={ndir}/logs/gc.log" in jvm and "filecount=4" in jvm
    assert f"-javaagent:{home}/agent/opensearch-agent.jar" in jvm
    assert (conf / "jvm.options.d" / "warwatch-heap.options").read_text().split() == ["-Xms256m", "-Xmx768m"]
    yml = (conf / "opensearch.yml").read_text()
    for line in ("network.host: 127.0.0.1", "http.port: 9333", "discovery.type: single-node",
                 f'path.data: "{ndir}/data"', f'path.logs: "{ndir}/logs"', "cluster.name: warwatch-local"):  # fmt: skip
        assert line in yml
    assert (conf / "log4j2.properties").read_text() == "x=1\n"
    # more JVM flags from the settings go to a file of their own; none: no file
    monkeypatch.setenv("WARWATCH_LOCAL_ES__JVM_OPTIONS", '["-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"]')
    reset_settings()
    conf = write_config(localnode.ENGINES["opensearch"], home, ndir, 9333)
    extra = (conf / "jvm.options.d" / "warwatch-extra.options").read_text().split()
    assert extra == ["-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"]
    monkeypatch.setenv("WARWATCH_LOCAL_ES__JVM_OPTIONS", "[]")
    reset_settings()
    conf = write_config(localnode.ENGINES["opensearch"], home, ndir, 9333)
    assert not (conf / "jvm.options.d" / "warwatch-extra.options").exists()
    monkeypatch.setenv("WARWATCH_LOCAL_ES__JVM_OPTIONS", '["-Xmx1g\\n-Dx=y"]')  # one flag per line, no injection
    with pytest.raises(ConfigError, match="jvm_options"):
        reset_settings()
        get_settings()


def test_taken_port_is_a_clear_error(data_dir: Path) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]  # ephemeral: always >= 1024, a port start() accepts
        with pytest.raises(LocalNodeError, match=f"port {port} on 127.0.0.1 is already in use") as err:
            localnode.start(port)
        assert "\n" not in str(err.value)


# --- a real OpenSearch node -----------------------------------------------------------------


def test_start_answers_and_is_at_least_yellow(node: tuple[int, str], node_data_dir: Path) -> None:
    port, url = node
    assert url == f"http://127.0.0.1:{port}"
    st = localnode.status(port)
    assert st["running"] and st["managed"] and st["ours"]
    assert st["engine"] == "opensearch"
    assert st["version"] == localnode.ENGINES["opensearch"].version
    assert st["health"] in {"yellow", "green"}
    ndir = node_data_dir.resolve() / "search-node" / str(port)
    assert Path(st["node_dir"]) == ndir
    assert (ndir / "data").is_dir() and any((ndir / "data").iterdir())
    assert (ndir / "logs" / "warwatch-local.log").stat().st_size > 0
    assert (ndir / "run" / "node.pid").read_text().strip() == str(st["pid"])
    assert st["runtime_dir"] == str(ndir)


def test_start_over_a_stale_state_leaves_the_planted_process_alive(
    node: tuple[int, str], victim: subprocess.Popen[bytes]
) -> None:
    port, _ = node
    assert victim.poll() is None
    assert localnode.status(port)["pid"] != victim.pid


def test_node_binds_loopback_only(node: tuple[int, str]) -> None:
    port, url = node
    info = _call(f"{url}/_nodes/_local/http")
    (node_info,) = info["nodes"].values()
    assert all(addr.startswith(("127.0.0.1:", "[::1]:")) for addr in node_info["http"]["bound_address"])


def test_node_runs_unprivileged(node: tuple[int, str]) -> None:
    port, _ = node
    pid = localnode.status(port)["pid"]
    uid_line = next(
        ln for ln in Path(f"/proc/{pid}/status").read_text().splitlines() if ln.startswith("Uid:")
    )
    uid = int(uid_line.split()[1])
    assert uid != 0
    if os.geteuid() == 0:
        import pwd

        assert pwd.getpwuid(uid).pw_name == localnode.NODE_USER


def test_start_is_idempotent(node: tuple[int, str]) -> None:
    port, url = node
    pid = localnode.status(port)["pid"]
    t0 = time.monotonic()
    assert localnode.start(port) == url
    assert time.monotonic() - t0 < 15
    assert localnode.status(port)["pid"] == pid


def test_other_engine_on_a_running_port_is_refused(node: tuple[int, str]) -> None:
    port, _ = node
    with pytest.raises(LocalNodeError, match="already runs on port"):
        localnode.start(port, engine="elasticsearch")


@pytest.mark.parametrize(
    ("analyzer", "text", "token"),
    [
        ("german", "Truppen", "trupp"),
        ("english", "troops", "troop"),
        ("french", "soldats", "soldat"),
        ("russian", "войсками", "войск"),
    ],
)
def test_language_analyzers(node: tuple[int, str], analyzer: str, text: str, token: str) -> None:
    _, url = node
    tokens = _call(f"{url}/_analyze", "POST", {"analyzer": analyzer, "text": text})["tokens"]
    assert [t["token"] for t in tokens] == [token]


def test_required_modules_are_loaded(node: tuple[int, str]) -> None:
    _, url = node
    info = _call(f"{url}/_nodes/plugins")
    (node_info,) = info["nodes"].values()
    modules = {m["name"] for m in node_info["modules"]}
    assert {"analysis-common", "percolator", "reindex", "lang-painless", "mapper-extras"} <= modules


def test_percolator_and_reindex_work(node: tuple[int, str]) -> None:
    _, url = node
    idx = f"ww-localnode-{os.getpid()}"
    try:
        _call(f"{url}/{idx}-q", "PUT", {"mappings": {"properties": {
            "query": {"type": "percolator"}, "body": {"type": "text", "analyzer": "german"}}}})  # fmt: skip
        _call(f"{url}/{idx}-q/_doc/nk?refresh=true", "PUT", {"query": {"match": {"body": "Truppe"}}})
        _call(f"{url}/{idx}-q/_doc/other?refresh=true", "PUT", {"query": {"match": {"body": "Wahl"}}})
        hits = _call(f"{url}/{idx}-q/_search", "POST", {"query": {"percolate": {
            "field": "query", "document": {"body": "Nordkoreanische Truppen an der Front"}}}})["hits"]["hits"]  # fmt: skip
        assert [h["_id"] for h in hits] == ["nk"]

        result = _call(
            f"{url}/_reindex?refresh=true",
            "POST",
            {"source": {"index": f"{idx}-q"}, "dest": {"index": f"{idx}-copy"}},
        )
        assert result["created"] == 2 and not result["failures"]
        assert _call(f"{url}/{idx}-copy/_count")["count"] == 2
    finally:
        req = urllib.request.Request(f"{url}/{idx}-*", method="DELETE")
        urllib.request.urlopen(req, timeout=30).read()  # noqa: S310 - wildcard delete is allowed here


def test_a_node_that_dies_gives_a_clear_error_with_log_tail(
    node_data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _require_tools()
    port = _free_port(9261)
    monkeypatch.setenv("WARWATCH_LOCAL_ES__MAX_HEAP", "notaheap")
    reset_settings()
    with pytest.raises(LocalNodeError) as err:
        localnode.start(port)
    first, *rest = str(err.value).splitlines()
    assert f"search node on port {port} exited" in first
    assert rest and all(line.startswith("    | ") for line in rest)
    assert localnode.status(port)["running"] is False
    assert not port_in_use(port)


def test_stop_really_stops(node: tuple[int, str]) -> None:
    """Runs after the other node tests (file order); the module fixture's stop is then a no-op."""
    port, url = node
    st = localnode.status(port)
    pid = st["pid"]
    assert localnode.stop(port) is True
    assert not proc.alive(pid)
    assert not port_in_use(port)
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url, timeout=3)  # noqa: S310
    assert localnode.status(port)["running"] is False
    assert localnode.stop(port) is False


# --- a bare Elasticsearch node: the Elasticsearch client path --------------------------------


def test_bare_elasticsearch_smoke(bare_elasticsearch_node: BareNode) -> None:
    """Elastic's integ-test distribution runs (without the analysis/percolator/reindex modules);
    the official client indexes and searches with highlights against it. Its data dir is under a
    0700 directory the node user cannot enter (as root): the node's files go to the fallback dir
    and the 0700 directory stays 0700. The session's shared node (tests/conftest.py), started
    that way; its stop is checked when the session ends."""
    from elasticsearch import Elasticsearch

    node = bare_elasticsearch_node
    with node.within():
        st = localnode.status(node.port)
    assert st["engine"] == "elasticsearch" and st["version"] == localnode.ENGINES["elasticsearch"].version
    assert node.data_dir.parent.stat().st_mode & 0o777 == 0o700
    if os.geteuid() == 0:
        assert Path(st["runtime_dir"]).parent == node.fallback / "nodes"
    assert st["managed"] and st["ours"] and st["pid"]
    family = [st["pid"], *proc.descendants(st["pid"])]
    assert all(proc.identify(pid) for pid in family)
    es = Elasticsearch(node.url, request_timeout=60)
    assert es.cluster.health()["status"] in {"yellow", "green"}
    index = f"smoke-{uuid.uuid4().hex[:8]}"
    es.indices.create(index=index, mappings={"properties": {"title": {"type": "text"}}})
    try:
        es.index(index=index, id="1", document={"title": "Nordkoreanische Truppen"}, refresh=True)
        res = es.search(index=index, query={"match": {"title": "truppen"}}, highlight={"fields": {"title": {}}})
        assert [h["_id"] for h in res["hits"]["hits"]] == ["1"]
        assert res["hits"]["hits"][0]["highlight"]["title"] == ["Nordkoreanische <em>Truppen</em>"]
    finally:
        es.indices.delete(index=index)
    modules = {m["name"] for m in next(iter(es.nodes.info(metric="plugins")["nodes"].values()))["modules"]}
    assert "analysis-common" not in modules  # why OpenSearch is the default local engine


# --- OpenSearch with the k-NN plugin: the engine's own vector search ---------------------------


def test_knn_opensearch_smoke(knn_opensearch_node: KnnNode) -> None:
    """The session's k-NN node (tests/conftest.py) runs OpenSearch 3.5.0 with the plugin listed;
    a Lucene HNSW ``knn_vector`` field (cosine) takes documents and the ``knn`` query returns the
    nearest first; ``local-es status`` names the engine it was started as."""
    url = knn_opensearch_node.url
    st = knn_opensearch_node.status()
    assert (st["engine"], st["version"], st["managed"]) == ("opensearch-knn", "3.5.0", True)
    with urllib.request.urlopen(f"{url}/_cat/plugins?h=component,version", timeout=30) as resp:  # noqa: S310
        plugins = resp.read().decode().split()
    assert plugins[plugins.index("opensearch-knn") + 1] == "3.5.0.0"
    index = f"knn-{uuid.uuid4().hex[:8]}"
    _call(f"{url}/{index}", "PUT", {
        "settings": {"index.knn": True, "number_of_shards": 1, "number_of_replicas": 0},
        "mappings": {"properties": {"vec": {"type": "knn_vector", "dimension": 4, "method": {
            "name": "hnsw", "engine": "lucene", "space_type": "cosinesimil"}}}},
    })  # fmt: skip
    try:
        for doc_id, vec in (("east", [1.0, 0.0, 0.0, 0.0]), ("north-east", [0.7, 0.7, 0.0, 0.0]),
                            ("up", [0.0, 0.0, 1.0, 0.0])):  # fmt: skip
            _call(f"{url}/{index}/_doc/{doc_id}?refresh=true", "PUT", {"vec": vec})
        res = _call(f"{url}/{index}/_search", "POST",
                    {"size": 2, "query": {"knn": {"vec": {"vector": [0.9, 0.2, 0.1, 0.0], "k": 2}}}})
        hits = res["hits"]["hits"]
        assert [h["_id"] for h in hits] == ["east", "north-east"]
        assert hits[0]["_score"] > hits[1]["_score"]
        mapping = _call(f"{url}/{index}/_mapping")[index]["mappings"]["properties"]["vec"]
        assert mapping["type"] == "knn_vector" and mapping["method"]["engine"] == "lucene"
    finally:
        _call(f"{url}/{index}", "DELETE")


def test_port_taken_by_a_non_http_service(data_dir: Path) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        port = listener.getsockname()[1]

        def serve() -> None:
            for _ in range(4):
                try:
                    conn, _addr = listener.accept()
                except OSError:
                    return
                with conn:
                    conn.sendall(b"This is not an HTTP port\n")

        threading.Thread(target=serve, daemon=True).start()
        with pytest.raises(LocalNodeError, match=f"port {port} on 127.0.0.1 is already in use"):
            localnode.start(port)
        assert localnode.status(port)["running"] is False


# --- only its own processes -----------------------------------------------------------------


class _FakeNode(BaseHTTPRequestHandler):
    """Answers like a warwatch node on its port, naming somebody else's PID."""

    port = 0
    pid = 0

    def do_GET(self) -> None:  # noqa: N802
        if self.path.startswith("/_nodes/_local"):
            body: dict[str, Any] = {"cluster_name": "warwatch-local", "nodes": {"x": {
                "name": f"warwatch-{self.port}", "version": "3.8.0", "process": {"id": self.pid}}}}  # fmt: skip
        else:
            body = {"status": "green"}
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-OpenSearch-Version", "3.8.0")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


def test_a_planted_pid_is_never_signalled(data_dir: Path, victim: subprocess.Popen[bytes]) -> None:
    """A stale node.json (old format, or one whose start time does not match) names a live
    unrelated process: stop leaves it alone and forgets the state."""
    port = _free_port(9291)
    _plant(port, victim.pid)
    assert localnode.status(port)["managed"] is False
    assert localnode.stop(port) is False
    real = proc.identify(victim.pid)
    assert real is not None
    for wrong in ({"start_ticks": real.start_ticks + 1}, {"boot_id": "another-boot"}, {"cmdline": ["java"]}):
        _plant(port, victim.pid, identity={**real.as_json(), **wrong})
        assert localnode.stop(port) is False
    assert victim.poll() is None
    assert not (node_dir(port) / "node.json").exists()
    # the recorded identity itself is a proof
    assert proc.same_process(real) and not proc.same_process(proc.Identity(**{**real.__dict__, "start_ticks": 1}))


def test_a_fake_cluster_answer_does_not_get_a_victim_killed(
    data_dir: Path, victim: subprocess.Popen[bytes]
) -> None:
    srv = HTTPServer(("127.0.0.1", 0), _FakeNode)
    port = srv.server_address[1]
    _FakeNode.port, _FakeNode.pid = port, victim.pid
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        _plant(port, victim.pid)
        st = localnode.status(port)
        assert st["running"] and not st["ours"] and not st["managed"] and st["pid"] is None
        with pytest.raises(LocalNodeError, match="not a process this tool started"):
            localnode.stop(port)
        with pytest.raises(LocalNodeError, match="not a node this tool started"):
            localnode.start(port)
        from warwatch.cli import main

        assert main(["local-es", "stop", "--port", str(port)]) == 1
    finally:
        srv.shutdown()
        srv.server_close()
    assert victim.poll() is None


# --- no permission changes outside the project, no writes through symlinks --------------------


def test_unreachable_data_dir_moves_the_node_files_and_changes_no_permission(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = Path(tempfile.mkdtemp(prefix="ww-traverse-", dir="/tmp"))  # pytest's tmp_path is 0700 itself
    try:
        base.chmod(0o755)
        locked = base / "locked"
        ndir = locked / "data" / "search-node" / "9333"
        ndir.mkdir(parents=True)
        locked.chmod(0o700)
        fallback = base / "fallback"
        monkeypatch.setattr(engines, "FALLBACK_ROOT", fallback)
        ids = (65533, 65533)  # a uid/gid owning nothing here
        assert not user.can_reach(ndir, ids)
        rundir = user.runtime_dir(ndir, 9333, ids)
        assert rundir.parent == fallback / "nodes" and rundir.name.startswith("9333-")
        assert user.can_reach(rundir, ids)
        assert locked.stat().st_mode & 0o777 == 0o700  # unchanged: no o+x
        assert base.stat().st_mode & 0o777 == 0o755
        assert user.runtime_dir(ndir, 9333, ids) == rundir  # the same place every time
        assert user.runtime_dir(base, 9333, ids) == base  # reachable: the node dir itself
        home = _tiny_distribution(locked / "search" / "opensearch-3.8.0")
        (home / "bin").mkdir()
        (home / ".warwatch-fetched.json").write_text("{}")
        copy = user.reachable_install(home, ids)  # the distribution, copied where the user can run it
        assert copy == fallback / "dist" / "opensearch-3.8.0" and (copy / "config" / "jvm.options").is_file()
        assert user.can_reach(copy / "bin", ids) and user.reachable_install(home, ids) == copy
        assert locked.stat().st_mode & 0o777 == 0o700
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _tiny_distribution(home: Path) -> Path:
    (home / "config").mkdir(parents=True)
    (home / "config" / "jvm.options").write_text("-Xms1g\n")
    (home / "config" / "log4j2.properties").write_text("x=1\n")
    return home


def test_config_is_not_written_through_a_planted_symlink(tmp_path: Path) -> None:
    victim_dir = tmp_path / "etc"
    victim_dir.mkdir()
    (victim_dir / "jvm.options").write_text("precious\n")
    home = _tiny_distribution(tmp_path / "home")
    rundir = tmp_path / "node"
    rundir.mkdir()
    (rundir / "config").symlink_to(victim_dir)  # what a node user could leave behind
    conf = write_config(localnode.ENGINES["opensearch"], home, rundir, 9333)
    assert not conf.is_symlink() and (conf / "opensearch.yml").is_file()
    assert sorted(p.name for p in victim_dir.iterdir()) == ["jvm.options"]
    assert (victim_dir / "jvm.options").read_text() == "precious\n"


def test_console_log_and_logs_are_not_followed(tmp_path: Path) -> None:
    secret = tmp_path / "shadow"
    secret.write_text("root:SECRET-HASH:19000::::::\n")
    rundir = tmp_path / "node"
    (rundir / "logs").mkdir(parents=True)
    (rundir / "console.log").symlink_to(secret)
    (rundir / "logs" / "warwatch-local.log").symlink_to(secret)
    os.close(user.create_fresh(rundir / "console.log", b"fresh\n"))
    assert secret.read_text() == "root:SECRET-HASH:19000::::::\n"  # not truncated, not appended to
    assert not (rundir / "console.log").is_symlink()
    (rundir / "console.log").unlink()
    (rundir / "console.log").symlink_to(secret)
    from warwatch.localnode.node import _log_tail

    assert "SECRET" not in _log_tail(rundir)  # an error message never shows a file the link names
    (rundir / "data").symlink_to(tmp_path)
    with pytest.raises(LocalNodeError, match="is not a directory"):
        user.ensure_node_subdir(rundir, "data", None)


# --- the engine archive is verified before it is unpacked -----------------------------------


def _fake_mvn(bin_dir: Path, archive: Path) -> None:
    """An `mvn` that "downloads" ``archive`` into -DoutputDirectory (no network)."""
    bin_dir.mkdir()
    script = bin_dir / "mvn"
    script.write_text(
        f"#!{sys.executable}\nimport shutil, sys\n"
        "out = next(a.split('=', 1)[1] for a in sys.argv if a.startswith('-DoutputDirectory='))\n"
        f"shutil.copy({str(archive)!r}, out)\n"
    )
    script.chmod(0o755)


def test_a_download_with_the_wrong_sha256_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    archive = tmp_path / "opensearch-3.8.0.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("opensearch-3.8.0/bin/opensearch", "#!/bin/sh\necho substituted\n")
        zf.writestr("opensearch-3.8.0/modules/analysis-common/x", "")
    _fake_mvn(tmp_path / "bin", archive)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    cache = tmp_path / "cache"
    monkeypatch.setattr(engines, "CACHE_DIR", cache)
    with pytest.raises(LocalNodeError, match="SHA-256 .* expected the pinned 196c3cf4") as err:
        localnode.fetch("opensearch")
    assert "refusing to unpack" in str(err.value)
    assert not (cache / "opensearch-3.8.0").exists()
    assert [p.name for p in cache.iterdir()] == [".fetch.lock"]  # nothing unpacked, no leftovers
    # an install unpacked before the pin (its marker names no SHA-256) is not trusted either
    old = cache / "opensearch-3.8.0"
    old.mkdir()
    (old / ".warwatch-fetched.json").write_text('{"engine": "opensearch", "version": "3.8.0"}')
    with pytest.raises(LocalNodeError, match="refusing to unpack"):
        localnode.fetch("opensearch")
    assert (old / ".warwatch-fetched.json").is_file()  # left as it was until a verified one replaces it


@pytest.mark.parametrize(
    "pinned", [a for spec in localnode.ENGINES.values() for a in (spec, *spec.plugins)], ids=lambda a: a.coordinates
)
def test_pinned_sha256_matches_the_maven_artifact(pinned: localnode.EngineSpec | Plugin) -> None:
    """The pins (engines and their plugins) are the artifacts Maven Central serves (checked on the
    copy `make install` put in ~/.m2)."""
    jar = (Path.home() / ".m2" / "repository" / pinned.group.replace(".", "/") / pinned.artifact / pinned.version
           / f"{pinned.artifact}-{pinned.version}.zip")  # fmt: skip
    if not jar.exists():
        service_missing(f"{jar} not fetched yet (make install)")
    maven.verify_sha256(jar, pinned.sha256)
    with pytest.raises(LocalNodeError, match="refusing to unpack"):
        maven.verify_sha256(jar, "0" * 64)


def test_cluster_config_has_its_own_name_seeds_and_transport_ports() -> None:
    from warwatch.localnode.engines import make_cluster
    from warwatch.localnode.nodeconfig import node_yml

    cluster = make_cluster(9231, 3)
    assert cluster.transport_ports == (9431, 9432, 9433)
    yml = node_yml(localnode.ENGINES["opensearch"], Path("/x"), 9232, cluster)
    assert "cluster.name: warwatch-local-9231" in yml and "transport.port: 9432" in yml
    assert 'discovery.seed_hosts: ["127.0.0.1:9431", "127.0.0.1:9432", "127.0.0.1:9433"]' in yml
    assert 'cluster.initial_cluster_manager_nodes: ["warwatch-9231", "warwatch-9232", "warwatch-9233"]' in yml
    assert "single-node" not in yml and "9300-9399" not in yml
    es = node_yml(localnode.ENGINES["elasticsearch"], Path("/x"), 9231, cluster)
    assert 'cluster.initial_master_nodes: ["warwatch-9231"' in es
    # a single node keeps its old config
    assert "discovery.type: single-node" in node_yml(localnode.ENGINES["opensearch"], Path("/x"), 9200)


@pytest.mark.parametrize("port,nodes,transport", [(9231, 1, None), (9231, 3, 9300), (9231, 3, 9232), (9100, 3, None)])
def test_cluster_ports_refused_when_they_clash(port: int, nodes: int, transport: int | None) -> None:
    from warwatch.localnode.engines import make_cluster

    with pytest.raises(localnode.LocalNodeError):
        make_cluster(port, nodes, transport)
