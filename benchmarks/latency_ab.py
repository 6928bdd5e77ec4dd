"""Search latency of two checkouts side by side, alternating search by search on the same index
and load: a worker process per checkout (its own ``indexing``, imported from its directory), the
driver sends each the same query and mode in turn (order swapped every round) and collects the
milliseconds. On a shared machine whose load changes by the minute, this compares what a run of
each checkout after the other cannot (benchmarks/README.md, "Search latency").

Usage: python benchmarks/latency_ab.py OLD_CHECKOUT NEW_CHECKOUT [--rounds 5] [--prefix bench-search-] [--no-anchor]
on an index ``search_latency.py --hybrid --keep`` left (WARWATCH_ES_URL pointing at its node).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

MODES = ("keyword", "hybrid, query vector cached", "hybrid, model per query")


def worker(checkout: str, prefix: str) -> None:
    """Answer ``[query, mode]`` lines on stdin with the search's milliseconds (as search_latency.py
    times them: the query's cached vector dropped first for "model per query")."""
    sys.path.insert(0, checkout)
    from benchmarks.bare_es import BareSearchEngine, is_bare
    from benchmarks.common import engine_for_prefix
    from indexing.embeddings import retrieval
    from indexing.search import neutralise_colons, search
    from indexing.settings import get_settings
    from tests.indexing.search_corpus import search_options

    assert Path(sys.modules["indexing"].__file__ or "").resolve().is_relative_to(Path(checkout).resolve())
    raw = engine_for_prefix(prefix)
    engine: Any = BareSearchEngine(raw) if is_bare(raw) else raw
    options = search_options(get_settings())
    for line in sys.stdin:
        query, mode = json.loads(line)
        if mode == MODES[2]:
            for key in [k for k in retrieval._QUERY_CACHE if k[1] == " ".join(neutralise_colons(query).split())]:
                del retrieval._QUERY_CACHE[key]
        t = time.perf_counter()
        res = search(query, engine=engine, hybrid=mode != MODES[0], **options)
        ms = (time.perf_counter() - t) * 1000
        assert mode == MODES[0] or res.retrieval == "hybrid", (query, mode)
        print(json.dumps(ms), flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkouts", nargs=2)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--prefix", default="bench-search-")
    parser.add_argument("--no-anchor", action="store_true", help="queries without an anchor (NO_ANCHOR_QUERIES)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.checkouts[0], args.prefix)
        return 0
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from benchmarks.search_latency import NO_ANCHOR_QUERIES, QUERIES, _percentile

    queries = NO_ANCHOR_QUERIES if args.no_anchor else QUERIES

    procs = [subprocess.Popen([sys.executable, __file__, c, c, "--worker", "--prefix", args.prefix],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=c)
             for c in args.checkouts]

    def ask(proc: subprocess.Popen[str], query: str, mode: str) -> float:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(json.dumps([query, mode]) + "\n")
        proc.stdin.flush()
        return float(json.loads(proc.stdout.readline()))

    times: dict[tuple[int, str], list[float]] = {(n, m): [] for n in range(2) for m in MODES}
    try:
        for r in range(args.rounds + 2):  # two warm-up rounds
            for qn, q in enumerate(queries):
                for mode in MODES:
                    for n in ((0, 1) if (r + qn) % 2 else (1, 0)):
                        ms = ask(procs[n], q, mode)
                        if r >= 2:
                            times[(n, mode)].append(ms)
    finally:
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.close()
            proc.wait(timeout=60)
    print(f"p50 / p95 ms over {args.rounds * len(queries)} searches per mode, alternating search by search:")
    for mode in MODES:
        cells = [f"{_percentile(times[(n, mode)], 50):6.1f} / {_percentile(times[(n, mode)], 95):6.1f}"
                 for n in range(2)]
        print(f"  {mode:<28} {Path(args.checkouts[0]).name}: {cells[0]}   {Path(args.checkouts[1]).name}: {cells[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
