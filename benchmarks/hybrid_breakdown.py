"""Where a hybrid search's time goes, request by request, on an index ``search_latency.py --keep``
left behind (its prefix): every engine request of ``search()`` timed (wall and the engine's
``took``) and classed (keyword ranking, kNN, candidate vectors, hydration), the query embedding
timed alone; then, on an engine with kNN, the kNN request alone for several ``num_candidates``,
with and without the candidates' vectors in the response.

Usage: python benchmarks/hybrid_breakdown.py [--prefix bench-search-] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.search_latency import QUERIES, _percentile  # noqa: E402


def _kind(body: dict[str, Any]) -> str:
    if "knn" in body:
        return "knn, feedback query on the candidates" if '"ids"' in json.dumps(body["knn"]) else "knn"
    query = json.dumps(body.get("query", {}))
    src = body.get("_source")
    if '"ids"' in query and (isinstance(src, dict) or (isinstance(src, list) and "embedding" in src)):
        fields = src.get("includes", []) if isinstance(src, dict) else src
        if "embedding" not in fields:
            return "title vectors (fusion)"
        if "title_embedding" in fields:
            return "candidate vectors + title vectors (fusion)"
        return "feedback vectors" if body.get("size", 0) <= 5 else "candidate vectors (fusion)"
    if src == ["language"] or (src is False and body.get("docvalue_fields") == ["language"]):
        return "keyword ranking"
    if "sort" in body and "embedded_at" in json.dumps(body["sort"]):
        return "language means"
    return "hydration"


class Timed:
    """Records (kind, wall ms, took ms) of every search through the wrapped engine."""

    def __init__(self, engine: Any) -> None:
        self._engine = engine
        self.log: list[tuple[str, float, float]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)

    def search(self, index: str, body: Any, **params: Any) -> dict[str, Any]:
        t = time.perf_counter()
        resp = self._engine.search(index, body, **params)
        self.log.append((_kind(dict(body)), (time.perf_counter() - t) * 1000, float(resp.get("took") or 0)))
        return resp


def _summary(name: str, walls: list[float], tooks: list[float] | None = None) -> str:
    out = f"{name:<34} n={len(walls):<4} wall p50 {_percentile(walls, 50):6.1f} p95 {_percentile(walls, 95):6.1f} ms"
    if tooks:
        out += f"   took p50 {_percentile(tooks, 50):5.1f} p95 {_percentile(tooks, 95):5.1f} ms"
    return out


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20


def _matrix_cold_start(engine: Any, alias: str, embedder: Any) -> None:
    """What a search process pays for the client-side matrix before its first hybrid search:
    the whole index's vectors fetched and held (time, resident memory)."""
    from indexing.embeddings.matrix import matrix_for

    before, t = _rss_mib(), time.perf_counter()
    matrix = matrix_for(engine, alias, embedder.name, embedder.dim)
    secs, store = time.perf_counter() - t, matrix._store
    arrays = (store.rows.nbytes + store.proj.nbytes + store.lang.nbytes) / 2**20
    print(f"matrix cold start: {len(matrix)} rows in {secs:.1f}s ({len(matrix) / max(secs, 1e-9):.0f} rows/s); "
          f"resident +{_rss_mib() - before:.0f} MiB (arrays {arrays:.0f} MiB)", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prefix", default="bench-search-")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    from benchmarks.bare_es import BareSearchEngine, is_bare
    from benchmarks.common import engine_for_prefix
    from indexing.embeddings import get_embedder
    from indexing.embeddings.knn import RESCORE
    from indexing.embeddings.vectors import native_knn
    from indexing.index.templates import EMBEDDING_FIELD
    from indexing.search import search
    from indexing.settings import get_settings
    from tests.indexing.search_corpus import search_options

    raw = engine_for_prefix(args.prefix)
    engine = Timed(BareSearchEngine(raw) if is_bare(raw) else raw)
    embedder = get_embedder(get_settings().embeddings)
    assert embedder is not None
    if not native_knn(raw):
        _matrix_cold_start(raw, get_settings().articles_alias, embedder)
    for q in QUERIES:  # warm-up (and the query vectors cached)
        search(q, engine=engine, hybrid=True, **search_options(get_settings()))
    engine.log.clear()
    totals: list[float] = []
    for _ in range(args.rounds):
        for q in QUERIES:
            t = time.perf_counter()
            search(q, engine=engine, hybrid=True, **search_options(get_settings()))
            totals.append((time.perf_counter() - t) * 1000)
    by_kind: dict[str, tuple[list[float], list[float]]] = defaultdict(lambda: ([], []))
    for kind, wall, took in engine.log:
        by_kind[kind][0].append(wall)
        by_kind[kind][1].append(took)
    print(_summary("hybrid search, vector cached", totals))
    for kind, (walls, tooks) in sorted(by_kind.items()):
        print(_summary(f"  {kind}", walls, tooks))
    embeds = []
    for q in QUERIES * args.rounds:
        t = time.perf_counter()
        embedder.embed([q], query=True)
        embeds.append((time.perf_counter() - t) * 1000)
    print(_summary("query embedding (model)", embeds))
    if native_knn(raw):
        alias = get_settings().articles_alias
        vecs = embedder.embed(QUERIES, query=True)
        for k, cands, with_vectors in ((200, 800, True), (200, 800, False), (200, 400, False), (200, 200, False),
                                       (100, 400, False), (100, 200, False)):
            walls, tooks = [], []
            for _ in range(args.rounds):
                for v in vecs:
                    body = {"knn": {"field": EMBEDDING_FIELD, "query_vector": v.tolist(), "k": k,
                                    "num_candidates": cands, "rescore_vector": {"oversample": RESCORE}}, "size": k}
                    t = time.perf_counter()
                    src: Any = {"includes": [EMBEDDING_FIELD, "language"], "exclude_vectors": False} \
                        if with_vectors else ["language"]
                    resp = raw.search(alias, {**body, "_source": src})
                    walls.append((time.perf_counter() - t) * 1000)
                    tooks.append(float(resp.get("took") or 0))
            print(_summary(f"knn k={k} num_candidates={cands}{' +vectors' if with_vectors else ''}", walls, tooks))
    return 0


if __name__ == "__main__":
    sys.exit(main())
