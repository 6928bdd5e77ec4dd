"""OpenSearch's own kNN (the k-NN plugin, Lucene HNSW) as the scalable vector path of issue #18 §4,
measured beside the client-side matrix (``indexing/embeddings/matrix.py``) on the same vectors.

Usage: python benchmarks/opensearch_knn.py [--docs 100000] [--vectors random|real] [--queries 200]
       [--k 200] [--ef-search 200] [--port 9285] [--heap 2g] [--keep] [--reuse]

The local engine (OpenSearch 3.8.0's integ-test-zip) has no k-NN plugin and Maven Central serves
``opensearch-knn`` only for 3.5.0; a plugin must match its engine exactly, so this runs
`warwatch local-es`'s engine ``opensearch-knn`` (OpenSearch 3.5.0 with ``opensearch-knn:3.5.0.0``,
both pinned by SHA-256 in ``warwatch/localnode/engines.py``, the plugin installed at fetch time):
a node of its own on 127.0.0.1:``--port`` (data dir /tmp/osknn-PORT, heap ``--heap``), stopped at
the end unless ``--keep``. Only the ``lucene`` engine (pure Java): the plugin zip on Maven Central
carries no native libraries, and the first document indexed into a ``faiss`` field stopped the
node (``UnsatisfiedLinkError``, fatal: 7 December 2026).

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
import json
import math
import os
import statistics
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

#: warwatch/localnode's engine: OpenSearch 3.5.0 with the k-NN plugin, both pinned by SHA-256
KNN_ENGINE = "opensearch-knn"
DIM = 384
FIELD = "vec"
INDEX = "osknn-bench"
TOP = 30
BULK_DOCS = 500
PROGRESS_EVERY = 50_000  # documents between progress lines of the load


# --------------------------------------------------------------------------- the node
def use_node_dir(port: int, heap: str) -> Path:
    """The settings `warwatch local-es` reads for this run: data dir /tmp/osknn-<port> (the node's
    files under search-node/<port>, kept between runs: ``--restart``), heap ``heap``."""
    from indexing.settings import reset_settings

    data = Path(f"/tmp/osknn-{port}")
    data.mkdir(exist_ok=True)
    data.chmod(0o755)  # the unprivileged node user enters it
    os.environ.update({"WARWATCH_DATA_DIR": str(data), "WARWATCH_LOCAL_ES__HEAP": heap,
                       "WARWATCH_LOCAL_ES__MAX_HEAP": heap})  # fmt: skip
    reset_settings()
    return data


def start_node(port: int) -> str:
    """The engine fetched (verified, plugin installed) and started on 127.0.0.1:port by
    warwatch/localnode, as `warwatch local-es start --engine opensearch-knn` does; its URL."""
    from warwatch import localnode

    return localnode.start(port=port, engine=KNN_ENGINE)


def server_pid(port: int) -> int | None:
    from warwatch import localnode

    pid = localnode.status(port).get("pid")
    return pid if isinstance(pid, int) else None


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


def node_memory(url: str, pid: int | None) -> dict[str, float]:
    """The index's size on disk, the segments searched, and the node's resident memory (anonymous:
    heap and native; file: mapped index files) of its server process, when known."""
    stats = request(url, "GET", f"/{INDEX}/_stats/store")
    out = {"store_mb": stats["_all"]["primaries"]["store"]["size_in_bytes"] / 2**20,
           "segments": float(searched_segments(url))}  # fmt: skip
    names = {"VmRSS:": "rss_mb", "RssAnon:": "rss_anon_mb", "RssFile:": "rss_file_mb"}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
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
    started = False
    url = f"http://127.0.0.1:{args.port}"
    data = use_node_dir(args.port, args.heap)
    if not args.reuse:
        url, started = start_node(args.port), True
        print(f"node up at {url} (pid {server_pid(args.port)}, files in {data})")
    try:
        if not (args.reuse or args.restart):
            times = load(url, rows, args.m, args.ef_construction, merge=not args.no_merge)
            print("load: " + ", ".join(f"{k} {v:.1f}" for k, v in times.items()) + f"; load average {os.getloadavg()}")
        pid = server_pid(args.port)
        print("memory: " + ", ".join(f"{k} {v:.0f}" for k, v in node_memory(url, pid).items()))
        matrix = None
        if not args.no_matrix:
            from indexing.embeddings.matrix import VectorMatrix

            matrix = VectorMatrix("bench", "bench", DIM)
            matrix.load([str(i) for i in range(len(rows))], rows)
        for ef in args.ef_search:
            report(measure(url, rows, queries, args.k, ef, matrix), ef, args.k)
            print(f"load average {os.getloadavg()}")
        print("memory after the queries: " + ", ".join(f"{k} {v:.0f}" for k, v in node_memory(url, pid).items()))
    finally:
        if started and not args.keep:
            from warwatch import localnode

            localnode.stop(args.port)
            print("node stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
