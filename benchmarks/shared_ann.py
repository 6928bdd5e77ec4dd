"""A vector index shared by search processes, for an engine without kNN (core OpenSearch):
what it would cost at 1,000,000 articles, next to the client-side matrix it would replace.

Usage: pip install usearch; python benchmarks/shared_ann.py [--rows 1000000] [--queries 200] [--dir /tmp/ann]

An HNSW graph over float16 rows in one file (usearch), built once (``--threads``), then opened by
a fresh process *memory-mapped* (``view=True``): the operating system's page cache holds it once
for every process that maps it, nothing is loaded or copied per process. Reported: build time
and file size; the open (cold start) and the resident memory it adds to the process; per-query
latency of the ``k=200`` candidates (what the refined ranking re-scores) and their recall of the
exact top 30 (numpy over all rows). Rows are random unit vectors, as in ``search_latency.py``
(the cost of the graph search does not depend on their values much; recall on real embeddings,
which cluster, is usually higher). A measurement of the path, not wired into search.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

DIM = 384


def rows(n: int, seed: int = 13, chunk: int = 100_000) -> np.ndarray:
    out = np.empty((n, DIM), dtype=np.float32)
    rng = np.random.default_rng(seed)
    for start in range(0, n, chunk):
        part = rng.standard_normal((min(chunk, n - start), DIM), dtype=np.float32)
        out[start: start + len(part)] = part / np.linalg.norm(part, axis=1, keepdims=True)
    return out


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20


def build(path: Path, n: int, threads: int) -> None:
    from usearch.index import Index

    data = rows(n)
    index = Index(ndim=DIM, metric="cos", dtype="f16", connectivity=16, expansion_add=128)
    t = time.perf_counter()
    index.add(np.arange(n, dtype=np.uint64), data, threads=threads)
    secs = time.perf_counter() - t
    index.save(str(path))
    print(f"built {n} rows in {secs:.0f}s ({n / secs:.0f} rows/s, {threads} thread(s)); "
          f"file {path.stat().st_size / 2**20:.0f} MiB", flush=True)


def query(path: Path, n: int, queries: int, k: int = 200, ef: int = 400) -> None:
    from usearch.index import Index

    before, t = _rss_mib(), time.perf_counter()
    index = Index.restore(str(path), view=True)
    assert index is not None
    opened = (time.perf_counter() - t) * 1000
    index.expansion_search = ef
    qs = np.random.default_rng(99).standard_normal((queries, DIM), dtype=np.float32)
    qs /= np.linalg.norm(qs, axis=1, keepdims=True)
    lat, found = [], []
    for q in qs:
        t = time.perf_counter()
        keys = index.search(q, k, threads=1).keys
        lat.append((time.perf_counter() - t) * 1000)
        found.append(keys)
    print(f"opened memory-mapped in {opened:.1f} ms; resident +{_rss_mib() - before:.0f} MiB after "
          f"{queries} queries; k={k}, ef={ef}: p50 {np.percentile(lat, 50):.2f} ms, "
          f"p95 {np.percentile(lat, 95):.2f} ms", flush=True)
    data = rows(n)
    recall = []
    for q, keys in list(zip(qs, found, strict=True))[:50]:
        exact = set(np.argpartition(-(data @ q), 30)[:30].tolist())
        recall.append(len(exact & set(int(x) for x in keys)) / 30)
    print(f"the exact top 30 among the {k} candidates: mean {np.mean(recall):.3f}, min {np.min(recall):.3f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--dir", default="/tmp/warwatch-ann")
    parser.add_argument("--query-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    path = Path(args.dir) / f"rows-{args.rows}.usearch"
    if args.query_only:
        query(path, args.rows, args.queries)
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        build(path, args.rows, args.threads)
    # a fresh process: nothing of the build in its memory, as a search process starting up
    return subprocess.call([sys.executable, __file__, "--rows", str(args.rows), "--queries", str(args.queries),
                            "--dir", args.dir, "--query-only"])


if __name__ == "__main__":
    sys.exit(main())
