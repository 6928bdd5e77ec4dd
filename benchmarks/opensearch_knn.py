"""OpenSearch's own kNN (the k-NN plugin, Lucene HNSW) as the scalable vector path of issue #18 §4,
measured beside the client-side matrix (``indexing/embeddings/matrix.py``) on the same vectors.

Usage: python benchmarks/opensearch_knn.py [--docs 100000] [--vectors random|real] [--queries 200]
       [--k 200] [--ef-search 200] [--port 9285] [--heap 2g] [--keep] [--reuse]

The local engine (OpenSearch 3.8.0's integ-test-zip) has no k-NN plugin and Maven Central serves
``opensearch-knn`` only for other versions; a plugin must match its engine exactly, so this fetches
the OpenSearch **3.5.0** integ-test-zip and ``opensearch-knn:3.5.0.0`` from Maven Central into
``.local/search/`` (SHA-256 printed, checked against the ``.sha512``/``.sha1`` published next to an
artifact when there is one), installs the plugin into a copy of the engine, and starts a node of its
own on 127.0.0.1:``--port`` (transport ``--port + 200``, security none, data under /tmp), stopped at
the end unless ``--keep``. Nothing here is used outside ``benchmarks/``. Only the ``lucene`` engine
(pure Java): the plugin zip on Maven Central carries no native libraries, and the first document
indexed into a ``faiss`` field stopped the node (``UnsatisfiedLinkError``, fatal: 7 December 2026).

Vectors (dimension 384, unit): ``random`` - uniform on the sphere, the hardest case for HNSW recall
(what ``search_latency.py`` indexes); ``real`` - the model's vectors of the crosslingual fixture's
articles plus rows drawn from a Gaussian with their mean and covariance, queries the fixture's
queries embedded by the model (``vector_recall.py``'s construction). Loaded with refresh off, then
refreshed and force-merged to one segment (timed apart). Then, query by query in turn on the same
machine: the kNN query (``k`` candidates, ``method_parameters.ef_search``; wall and ``took``), the
client-side matrix's two-step ranking (CPU), and the exact top 30 (numpy over the same float32 rows);
recall of each top 30 against the exact one.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

MAVEN = "https://repo1.maven.org/maven2"
ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".local" / "search"
DIM = 384
FIELD = "vec"
INDEX = "osknn-bench"
TOP = 30
MAX_DOWNLOAD = 512 << 20  # bytes: the engine's zip is ~190 MB
BULK_DOCS = 500
PROGRESS_EVERY = 50_000  # documents between progress lines of the load
START_TIMEOUT = 180.0


@dataclass(frozen=True)
class Artifact:
    group: str
    artifact: str
    version: str
    ext: str = "zip"

    @property
    def filename(self) -> str:
        return f"{self.artifact}-{self.version}.{self.ext}"

    @property
    def url(self) -> str:
        return f"{MAVEN}/{self.group.replace('.', '/')}/{self.artifact}/{self.version}/{self.filename}"


ENGINE = Artifact("org.opensearch.distribution.integ-test-zip", "opensearch", "3.5.0")
KNN_PLUGIN = Artifact("org.opensearch.plugin", "opensearch-knn", "3.5.0.0")
#: a plugin installs only into the engine version it was built for: "3.5.0.0" -> "3.5.0"
assert KNN_PLUGIN.version.rsplit(".", 1)[0] == ENGINE.version


# --------------------------------------------------------------------------- fetch and install
def _get(url: str, limit: int) -> bytes | None:
    """The body at ``url`` (None on 404), at most ``limit`` bytes."""
    try:
        with urllib.request.urlopen(url, timeout=60) as resp:  # noqa: S310 - fixed https URL
            data = resp.read(limit + 1)
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise
    if len(data) > limit:
        raise RuntimeError(f"{url} is larger than {limit} bytes; refusing it")
    return bytes(data)


def digests(path: Path) -> dict[str, str]:
    """sha256, sha512 and sha1 of a file (read once)."""
    hs = {name: hashlib.new(name) for name in ("sha256", "sha512", "sha1")}
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            for h in hs.values():
                h.update(block)
    return {name: h.hexdigest() for name, h in hs.items()}


def check_published(computed: dict[str, str], published: dict[str, str]) -> list[str]:
    """The algorithms whose published checksum matches; raises on a mismatch. A checksum file
    may carry the file name after the digest (``<hex>  name``): only the first word counts."""
    checked = []
    for algo, text in published.items():
        words = text.split()
        if not words:
            continue
        if words[0].lower() != computed[algo]:
            raise RuntimeError(f"published {algo} {words[0]} != computed {computed[algo]}")
        checked.append(algo)
    return checked


def fetch(art: Artifact) -> Path:
    """The artifact under ``.local/search/downloads``, downloaded once; its SHA-256 printed and
    any published .sha512/.sha1 checked (a mismatch deletes the file and stops)."""
    dest = CACHE / "downloads" / art.filename
    dest.parent.mkdir(parents=True, exist_ok=True)
    if not dest.exists():
        data = _get(art.url, MAX_DOWNLOAD)
        if data is None:
            raise RuntimeError(f"{art.url} is not on Maven Central")
        tmp = dest.with_suffix(".part")
        tmp.write_bytes(data)
        os.replace(tmp, dest)
    computed = digests(dest)
    published = {algo: text.decode("ascii", "replace") for algo in ("sha512", "sha1")
                 if (text := _get(f"{art.url}.{algo}", 4096)) is not None}  # fmt: skip
    try:
        checked = check_published(computed, published)
    except RuntimeError as exc:
        dest.unlink()
        raise RuntimeError(f"{art.filename}: {exc}; deleted it") from exc
    print(f"{art.filename}: sha256 {computed['sha256']} "
          f"({'matches the published ' + ', '.join(checked) if checked else 'no checksum published'})")
    return dest


def install(engine_zip: Path, plugin_zip: Path) -> Path:
    """A copy of the engine with the k-NN plugin installed: ``.local/search/opensearch-3.5.0-knn``
    (idempotent: a marker names the two SHA-256s it was built from)."""
    from warwatch.localnode.maven import make_world_readable, unzip

    home = CACHE / f"opensearch-{ENGINE.version}-knn"
    marker = {"engine": digests(engine_zip)["sha256"], "plugin": digests(plugin_zip)["sha256"]}
    mfile = home / ".osknn.json"
    if mfile.exists() and json.loads(mfile.read_text()) == marker:
        return home
    shutil.rmtree(home, ignore_errors=True)
    staging = CACHE / ".osknn-unpack"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    unzip(engine_zip, staging)
    (root,) = [p for p in staging.iterdir() if p.is_dir()]
    java = _java()
    env = {**os.environ, "OPENSEARCH_JAVA_HOME": str(java)}
    proc = subprocess.run([str(root / "bin" / "opensearch-plugin"), "install", "--batch", plugin_zip.resolve().as_uri()],
                          env=env, capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
    if proc.returncode != 0:
        raise RuntimeError(f"opensearch-plugin install failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    make_world_readable(root)
    os.replace(root, home)
    shutil.rmtree(staging, ignore_errors=True)
    mfile.write_text(json.dumps(marker) + "\n")
    print(f"installed {KNN_PLUGIN.filename} into {home}")
    return home


def _java() -> Path:
    from warwatch.localnode.java import find_java

    return find_java(21)


# --------------------------------------------------------------------------- the node
def node_yml(rundir: Path, port: int) -> str:
    return "\n".join([
        "cluster.name: osknn-bench", f"node.name: osknn-{port}", "network.host: 127.0.0.1",
        f"http.port: {port}", f"transport.port: {port + 200}", "discovery.type: single-node",
        f'path.data: "{rundir / "data"}"', f'path.logs: "{rundir / "logs"}"',
        "cluster.routing.allocation.disk.threshold_enabled: false", "",
    ])  # fmt: skip


@dataclass
class Node:
    child: subprocess.Popen[bytes]
    rundir: Path
    url: str

    def server_pid(self) -> int:
        try:
            return int((self.rundir / "run" / "node.pid").read_text().strip())
        except (OSError, ValueError):
            return self.child.pid

    def stop(self) -> None:
        """SIGTERM to the node's own process group (started with a new session), then SIGKILL."""
        if self.child.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, 60.0), (signal.SIGKILL, 10.0)):
            os.killpg(self.child.pid, sig)
            try:
                self.child.wait(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                continue


def start_node(home: Path, port: int, heap: str, fresh: bool = True) -> Node:
    """The node on 127.0.0.1:port as the unprivileged node user (engines refuse root), files under
    /tmp/osknn-<port> (``fresh=False``: the data of the last node there kept); waits until it
    answers green or yellow."""
    from warwatch.localnode.nodeconfig import jvm_options
    from warwatch.localnode.user import chown_tree, ensure_user

    ids = ensure_user()
    rundir = Path(f"/tmp/osknn-{port}")
    for sub in ("config", "logs", "tmp", "run", "console.log") if not fresh else ("",):
        target = rundir / sub
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
    conf = rundir / "config"
    shutil.copytree(home / "config", conf)
    (conf / "jvm.options").write_text(jvm_options(home, rundir))
    (conf / "jvm.options.d").mkdir(exist_ok=True)
    (conf / "jvm.options.d" / "heap.options").write_text(f"-Xms{heap}\n-Xmx{heap}\n")
    (conf / "opensearch.yml").write_text(node_yml(rundir, port))
    for sub in ("data", "logs", "tmp", "run"):
        (rundir / sub).mkdir(exist_ok=True)
    if ids is not None:
        chown_tree(rundir, ids)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "HOME": str(rundir / "tmp"),
           "OPENSEARCH_JAVA_HOME": str(_java()), "OPENSEARCH_PATH_CONF": str(conf),
           "OPENSEARCH_TMPDIR": str(rundir / "tmp")}  # fmt: skip
    kw: dict[str, Any] = {"user": ids[0], "group": ids[1], "extra_groups": []} if ids else {}
    with open(rundir / "console.log", "wb") as console:
        child = subprocess.Popen([str(home / "bin" / "opensearch"), "-p", str(rundir / "run" / "node.pid")],  # noqa: S603
                                 cwd=home, env=env, stdin=subprocess.DEVNULL, stdout=console,
                                 stderr=subprocess.STDOUT, start_new_session=True, **kw)  # fmt: skip
    node = Node(child, rundir, f"http://127.0.0.1:{port}")
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise RuntimeError(f"the node exited ({child.returncode}); see {rundir}/logs and console.log")
        try:
            if request(node.url, "GET", "/_cluster/health")["status"] in ("green", "yellow"):
                return node
        except OSError:
            pass
        time.sleep(1.0)
    node.stop()
    raise RuntimeError(f"the node was not ready in {START_TIMEOUT:.0f}s; see {rundir}/logs")


def request(base: str, method: str, path: str, body: Any = None, ndjson: bytes | None = None,
            timeout: float = 600.0) -> Any:
    data = ndjson if ndjson is not None else (json.dumps(body).encode() if body is not None else None)
    ctype = "application/x-ndjson" if ndjson is not None else "application/json"
    req = urllib.request.Request(base + path, data=data, method=method, headers={"Content-Type": ctype})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - our loopback node
            return json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        raise RuntimeError(f"{method} {path}: {exc.code} {exc.read()[:500]!r}") from exc


# --------------------------------------------------------------------------- vectors
def random_unit(n: int, dim: int = DIM, seed: int = 11) -> np.ndarray:
    rng = np.random.default_rng(seed)
    rows = rng.standard_normal((n, dim), dtype=np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def as_sent(rows: np.ndarray) -> np.ndarray:
    """The rows as the engine stores them: 7 decimals in JSON (short numbers), read as float32."""
    return np.round(rows.astype(np.float64), 7).astype(np.float32)


def vectors(kind: str, n: int, queries: int) -> tuple[np.ndarray, np.ndarray]:
    """(rows, query vectors) of the given kind (module docstring)."""
    if kind == "random":
        return as_sent(random_unit(n)), random_unit(queries, seed=12)
    from benchmarks.vector_recall import background, fixture_vectors

    _, docs, pairs, _ = fixture_vectors()
    rows = np.vstack([docs, background(docs, max(0, n - len(docs)))])[:n]
    qs = np.array([q for _, q in pairs], dtype=np.float32)
    return as_sent(rows), np.resize(qs, (max(queries, len(qs)), qs.shape[1]))


def exact_top(rows: np.ndarray, query: np.ndarray, k: int) -> list[int]:
    """Row numbers of the ``k`` best cosines (rows and query unit), best first."""
    scores = rows @ query
    k = min(k, len(scores))
    part = np.argpartition(-scores, k - 1)[:k]
    return [int(i) for i in part[np.argsort(-scores[part], kind="stable")]]


def recall(found: Sequence[Any], exact: Sequence[Any], k: int = TOP) -> float:
    """Share of the exact top ``k`` found in the first ``k`` of ``found``."""
    want = set(exact[:k])
    return len(want & set(found[:k])) / len(want) if want else 1.0


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty sequence."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(len(ordered) * q / 100) - 1)] if ordered else float("nan")


# --------------------------------------------------------------------------- load and measure
def mapping(m: int, ef_construction: int) -> dict[str, Any]:
    return {
        "settings": {"index": {"knn": True, "number_of_shards": 1, "number_of_replicas": 0,
                               "refresh_interval": "-1", "translog.durability": "async"}},
        "mappings": {"properties": {FIELD: {
            "type": "knn_vector", "dimension": DIM,
            "method": {"name": "hnsw", "space_type": "cosinesimil", "engine": "lucene",
                       "parameters": {"m": m, "ef_construction": ef_construction}},
        }}},
    }  # fmt: skip


def bulk_bodies(rows: np.ndarray, batch: int = BULK_DOCS) -> Iterator[tuple[int, bytes]]:
    """(documents, NDJSON body) per batch; document ids are the row numbers."""
    for start in range(0, len(rows), batch):
        lines = []
        for i, vec in enumerate(rows[start:start + batch].astype(np.float64).tolist(), start):
            lines.append(json.dumps({"index": {"_id": str(i)}}))
            lines.append(json.dumps({FIELD: vec}))
        yield min(batch, len(rows) - start), ("\n".join(lines) + "\n").encode()


def load(url: str, rows: np.ndarray, m: int, ef_construction: int, merge: bool = True) -> dict[str, float]:
    """Index ``rows`` (a fresh index), two bulk requests in flight; refresh, then force-merge
    (``merge=False``: searched as the load left its segments)."""
    request(url, "DELETE", f"/{INDEX}?ignore_unavailable=true")
    request(url, "PUT", f"/{INDEX}", mapping(m, ef_construction))
    t0 = time.monotonic()
    errors = 0
    with ThreadPoolExecutor(2) as pool:
        pending: list[Any] = []
        for done, (_, body) in enumerate(bulk_bodies(rows), 1):
            pending.append(pool.submit(request, url, "POST", f"/{INDEX}/_bulk", None, body))
            if done * BULK_DOCS % PROGRESS_EVERY == 0:
                print(f"  sent {done * BULK_DOCS} at {time.monotonic() - t0:.0f} s", flush=True)
            if len(pending) >= 4:
                errors += sum(1 for it in pending.pop(0).result()["items"] if it["index"].get("error"))
        for fut in pending:
            errors += sum(1 for it in fut.result()["items"] if it["index"].get("error"))
    t_load = time.monotonic() - t0
    t0 = time.monotonic()
    request(url, "POST", f"/{INDEX}/_refresh")
    t_refresh = time.monotonic() - t0
    count = request(url, "GET", f"/{INDEX}/_count")["count"]
    t0 = time.monotonic()
    if merge:
        request(url, "POST", f"/{INDEX}/_forcemerge?max_num_segments=1", timeout=7200)
        # with refresh off the merged segment is committed but not searched until a refresh
        request(url, "POST", f"/{INDEX}/_refresh")
    t_merge = time.monotonic() - t0
    if errors or count != len(rows):
        raise RuntimeError(f"loaded {count} of {len(rows)} documents, {errors} bulk errors")
    return {"load_s": t_load, "refresh_s": t_refresh, "merge_s": t_merge, "docs_per_s": len(rows) / t_load}


def knn_body(query: np.ndarray, k: int, ef_search: int) -> dict[str, Any]:
    return {"size": k, "_source": False,
            "query": {"knn": {FIELD: {"vector": query.astype(np.float64).tolist(), "k": k,
                                      "method_parameters": {"ef_search": ef_search}}}}}  # fmt: skip


def measure(url: str, rows: np.ndarray, queries: np.ndarray, k: int, ef_search: int,
            matrix: Any) -> dict[str, list[float]]:
    """Per query, in turn: the kNN request, the matrix's two-step and exact rankings, numpy's
    exact top 30. Warm-up: the first 10 queries are run once unmeasured."""
    for q in queries[:10]:
        request(url, "POST", f"/{INDEX}/_search", knn_body(q, k, ef_search))
    out: dict[str, list[float]] = {n: [] for n in ("wall", "took", "knn_recall", "matrix_cpu", "matrix_recall",
                                                   "matrix_plain_recall", "hits")}  # fmt: skip
    for q in queries:
        exact = exact_top(rows, q, TOP)
        t = time.perf_counter()
        res = request(url, "POST", f"/{INDEX}/_search", knn_body(q, k, ef_search))
        out["wall"].append((time.perf_counter() - t) * 1000)
        out["took"].append(float(res["took"]))
        hits = [int(h["_id"]) for h in res["hits"]["hits"]]
        out["hits"].append(float(len(hits)))
        out["knn_recall"].append(recall(hits, exact))
        if matrix is None:
            continue
        t = time.process_time()
        two = [int(i) for i, _ in matrix.nearest(q, TOP)]
        out["matrix_cpu"].append((time.process_time() - t) * 1000)
        full = [int(i) for i, _ in matrix.nearest(q, TOP, exact=True)]
        out["matrix_recall"].append(recall(two, full))
        plain = [int(i) for i, _ in matrix.nearest(q, TOP, feedback=0, centred=False)]
        out["matrix_plain_recall"].append(recall(plain, exact))
    return out


def searched_segments(url: str) -> int:
    """How many segments a search of the index reads (searchable ones)."""
    rows = request(url, "GET", f"/_cat/segments/{INDEX}?format=json&h=segment,searchable")
    return sum(1 for r in rows if r.get("searchable") == "true")


def node_memory(url: str, pid_file: Path) -> dict[str, float]:
    """The index's size on disk, the segments searched, and the node's resident memory (anonymous:
    heap and native; file: mapped index files) from its pid file, when readable."""
    stats = request(url, "GET", f"/{INDEX}/_stats/store")
    out = {"store_mb": stats["_all"]["primaries"]["store"]["size_in_bytes"] / 2**20,
           "segments": float(searched_segments(url))}  # fmt: skip
    names = {"VmRSS:": "rss_mb", "RssAnon:": "rss_anon_mb", "RssFile:": "rss_file_mb"}
    try:
        for line in Path(f"/proc/{int(pid_file.read_text().strip())}/status").read_text().splitlines():
            key = line.split(":")[0] + ":"
            if key in names:
                out[names[key]] = int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return out


def report(figs: dict[str, list[float]], ef_search: int, k: int) -> None:
    def ms(name: str) -> str:
        v = figs[name]
        return f"p50 {percentile(v, 50):.1f} / p95 {percentile(v, 95):.1f} ms"

    print(f"kNN k={k} ef_search={ef_search}, {len(figs['wall'])} queries: wall {ms('wall')}, took {ms('took')}; "
          f"top-{TOP} recall mean {statistics.mean(figs['knn_recall']):.3f} min {min(figs['knn_recall']):.3f}; "
          f"hits per query min {min(figs['hits']):.0f}")
    if figs["matrix_cpu"]:
        print(f"client-side matrix: CPU {ms('matrix_cpu')}; two-step finds of its exact top {TOP}: mean "
              f"{statistics.mean(figs['matrix_recall']):.3f} min {min(figs['matrix_recall']):.3f}; plain cosine "
              f"two-step vs numpy exact: mean {statistics.mean(figs['matrix_plain_recall']):.3f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--vectors", choices=("random", "real"), default="random")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--k", type=int, default=200)
    parser.add_argument("--ef-search", type=int, nargs="+", default=[200])
    parser.add_argument("--m", type=int, default=16)
    parser.add_argument("--ef-construction", type=int, default=100)
    parser.add_argument("--port", type=int, default=9285)
    parser.add_argument("--heap", default="2g")
    parser.add_argument("--no-matrix", action="store_true", help="skip the client-side matrix")
    parser.add_argument("--no-merge", action="store_true", help="search the segments the load left")
    parser.add_argument("--keep", action="store_true", help="leave the node running")
    parser.add_argument("--reuse", action="store_true", help="use the node and index already on --port")
    parser.add_argument("--restart", action="store_true",
                        help="start the node on the index the last run left in /tmp/osknn-PORT (no load)")
    args = parser.parse_args(argv)
    if not 1 <= args.docs <= 10_000_000 or not 1 <= args.queries <= 100_000:
        parser.error("--docs 1..10,000,000 and --queries 1..100,000")
    rows, queries = vectors(args.vectors, args.docs, args.queries)
    print(f"{len(rows)} rows ({args.vectors}), {len(queries)} queries; load average {os.getloadavg()}")
    node = None
    url = f"http://127.0.0.1:{args.port}"
    if not args.reuse:
        home = install(fetch(ENGINE), fetch(KNN_PLUGIN))
        node = start_node(home, args.port, args.heap, fresh=not args.restart)
        print(f"node up at {url} (pid {node.server_pid()}, files in {node.rundir})")
    try:
        if not (args.reuse or args.restart):
            times = load(url, rows, args.m, args.ef_construction, merge=not args.no_merge)
            print("load: " + ", ".join(f"{k} {v:.1f}" for k, v in times.items()) + f"; load average {os.getloadavg()}")
        pid_file = Path(f"/tmp/osknn-{args.port}/run/node.pid")
        print("memory: " + ", ".join(f"{k} {v:.0f}" for k, v in node_memory(url, pid_file).items()))
        matrix = None
        if not args.no_matrix:
            from indexing.embeddings.matrix import VectorMatrix

            matrix = VectorMatrix("bench", "bench", DIM)
            matrix.load([str(i) for i in range(len(rows))], rows)
        for ef in args.ef_search:
            report(measure(url, rows, queries, args.k, ef, matrix), ef, args.k)
            print(f"load average {os.getloadavg()}")
        print("memory after the queries: " + ", ".join(f"{k} {v:.0f}" for k, v in node_memory(url, pid_file).items()))
    finally:
        if node is not None and not args.keep:
            node.stop()
            print("node stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
