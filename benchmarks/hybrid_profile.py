"""One hybrid search's wall time split into its parts, on an index ``search_latency.py --keep``
left behind (its prefix): per engine request the engine's ``took``, the HTTP client's time (wall
minus ``took`` minus JSON) and JSON (request encoding, response decoding); the main thread's
wait for the vector side; our Python (expansion and request building, fusion, hit parsing, the
rest); the query's embedding (model per query). Also the requests per search, by kind, in the
order they ran and on which thread (``kw``: main thread before the vector side is joined,
``vec``: the vector side's thread, ``post``: main thread after the join: sequential).

Usage: python benchmarks/hybrid_profile.py [--prefix bench-search-] [--rounds 3] [--model] [--no-anchor]
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.hybrid_breakdown import _kind  # noqa: E402
from benchmarks.search_latency import NO_ANCHOR_QUERIES, QUERIES, _percentile  # noqa: E402


class Profile:
    """Per search: request records (thread tag, kind, wall, took, json ms) and timed sections."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, float, float, float]] = []
        self.sections: dict[str, float] = defaultdict(float)
        self.json_ms: dict[int, float] = defaultdict(float)  # per thread, reset per request
        self.joined = False
        self.lock = threading.Lock()

    def tag(self) -> str:
        if threading.current_thread() is not threading.main_thread():
            return "vec"
        return "post" if self.joined else "kw"


def _timed(profile: Profile, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            with profile.lock:
                profile.sections[name] += (time.perf_counter() - t) * 1000

    return wrapper


class Recorded:
    """The engine, every ``search`` recorded into the current :class:`Profile`."""

    def __init__(self, engine: Any) -> None:
        self._engine = engine
        self.profile = Profile()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)

    def search(self, index: str, body: Any, **params: Any) -> dict[str, Any]:
        profile, ident = self.profile, threading.get_ident()
        profile.json_ms[ident] = 0.0
        t = time.perf_counter()
        resp = self._engine.search(index, body, **params)
        wall = (time.perf_counter() - t) * 1000
        with profile.lock:
            profile.requests.append((profile.tag(), _kind(dict(body)), wall, float(resp.get("took") or 0),
                                     profile.json_ms[ident]))
        return resp


def _wrap_json(raw: Any, profile_of: Callable[[], Profile]) -> None:
    """Time the client's JSON encoding and decoding (per thread, into the current profile)."""
    for serializer in {id(s): s for s in raw.client.transport.serializers.serializers.values()}.values():
        for name in ("loads", "dumps"):
            fn = getattr(serializer, name)

            def timed(*args: Any, _fn: Callable[..., Any] = fn, **kwargs: Any) -> Any:
                t = time.perf_counter()
                try:
                    return _fn(*args, **kwargs)
                finally:
                    profile_of().json_ms[threading.get_ident()] += (time.perf_counter() - t) * 1000

            setattr(serializer, name, timed)


def _bare_search(prof: Callable[[], Profile]) -> Callable[..., Any]:
    """BareSearchEngine.search with its body rewrite (benchmarks only) timed apart."""
    from benchmarks.bare_es import strip_rank_feature

    def search(self: Any, index: str, body: Any, **params: Any) -> dict[str, Any]:
        stripped = _timed(prof(), "bare_es body rewrite (bench only)", strip_rank_feature)(dict(body))
        return self._engine.search(index, stripped, **params)  # type: ignore[no-any-return]

    return search


@contextlib.contextmanager
def _sections(engine: Recorded) -> Iterator[None]:
    """Our Python timed by section (each patched where it is looked up at call time)."""
    from concurrent.futures import Future

    import indexing.embeddings.fusion as fusion
    import indexing.search as search_pkg
    import indexing.search.hybrid as hybrid
    import indexing.search.query as query
    from benchmarks import bare_es

    def prof() -> Profile:
        return engine.profile

    original_result = Future.result

    def result(self: Future[Any], timeout: float | None = None) -> Any:
        t = time.perf_counter()
        try:
            return original_result(self, timeout)
        finally:
            prof().sections["waiting on the vector thread"] += (time.perf_counter() - t) * 1000
            prof().joined = True

    def lazy(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        return lambda *a, **k: _timed(prof(), name, fn)(*a, **k)

    with mock.patch.object(Future, "result", result), \
            mock.patch.object(search_pkg, "expand", lazy("expansion", search_pkg.expand)), \
            mock.patch.object(query, "build_request", lazy("request bodies", query.build_request)), \
            mock.patch.object(fusion, "fuse", lazy("fuse() itself", fusion.fuse)), \
            mock.patch.object(hybrid, "_fused", lazy("fusion incl. its requests", hybrid._fused)), \
            mock.patch.object(hybrid, "parse_hit", lazy("parse hits", hybrid.parse_hit)), \
            mock.patch.object(bare_es.BareSearchEngine, "search", _bare_search(prof)):
        yield


def _one(recorded: Recorded, engine: Any, q: str, search: Callable[..., Any], options: dict[str, Any],
         model: bool) -> dict[str, float]:
    from indexing.embeddings import retrieval
    from indexing.search import neutralise_colons

    recorded.profile = Profile()
    if model:
        for key in [k for k in retrieval._QUERY_CACHE if k[1] == " ".join(neutralise_colons(q).split())]:
            del retrieval._QUERY_CACHE[key]
    embed = retrieval._query_vector
    with mock.patch.object(retrieval, "_query_vector", lambda e, s: _timed(recorded.profile, "query embedding",
                                                                          embed)(e, s)):
        t = time.perf_counter()
        res = search(q, engine=engine, hybrid=True, **options)
        total = (time.perf_counter() - t) * 1000
    assert res.retrieval == "hybrid", q
    p = recorded.profile
    out: dict[str, Any] = dict(p.sections)
    out["total"] = total
    main = [r for r in p.requests if r[0] != "vec"]
    vec = [r for r in p.requests if r[0] == "vec"]
    for prefix, rows in (("main", main), ("vector thread", vec)):
        out[f"{prefix}: engine took"] = sum(r[3] for r in rows)
        out[f"{prefix}: JSON"] = sum(r[4] for r in rows)
        out[f"{prefix}: HTTP client"] = sum(r[2] - r[3] - r[4] for r in rows)
    fusion_requests = sum(r[2] for r in p.requests if r[0] == "post" and r[1] != "hydration")
    out["fusion Python (no requests)"] = out.get("fusion incl. its requests", 0.0) - fusion_requests
    out["requests"] = len(p.requests)
    for _, kind, wall, took, json_ms in p.requests:
        out[f"_kind {kind}"] = (wall, took, json_ms)
    out["_order"] = " > ".join(f"{t}:{k}" for t, k, *_ in p.requests)
    out["main Python (rest)"] = total - sum(r[2] for r in main) - out.get("waiting on the vector thread", 0.0) \
        - out["fusion Python (no requests)"] - out.get("parse hits", 0.0) - out.get("expansion", 0.0) \
        - out.get("bare_es body rewrite (bench only)", 0.0)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prefix", default="bench-search-")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--model", action="store_true", help="run the model for every query (no cached vector)")
    parser.add_argument("--no-anchor", action="store_true", help="queries without an anchor (NO_ANCHOR_QUERIES)")
    args = parser.parse_args(argv)
    from benchmarks.bare_es import BareSearchEngine, is_bare
    from benchmarks.common import engine_for_prefix
    from indexing.search import search
    from indexing.settings import get_settings
    from tests.indexing.search_corpus import search_options

    raw = engine_for_prefix(args.prefix)
    recorded = Recorded(raw)
    engine: Any = BareSearchEngine(cast(Any, recorded)) if is_bare(raw) else recorded
    _wrap_json(raw, lambda: recorded.profile)
    options = search_options(get_settings())
    queries = NO_ANCHOR_QUERIES if args.no_anchor else QUERIES
    for q in queries * 2:  # warm-up: caches, the language means, the query vectors
        search(q, engine=engine, hybrid=True, **options)
    rows: list[dict[str, Any]] = []
    with _sections(recorded):
        for _ in range(args.rounds):
            rows.extend(_one(recorded, engine, q, search, options, args.model) for q in queries)
    keys = [k for k in dict.fromkeys(k for r in rows for k in r) if not k.startswith("_")]
    print(f"{len(rows)} hybrid searches ({'model per query' if args.model else 'query vector cached'}) on {raw}")
    for key in keys:
        values = [float(r.get(key, 0.0)) for r in rows]
        print(f"  {key:<34} p50 {_percentile(values, 50):6.1f}  mean {sum(values) / len(values):6.1f}"
              f"  p95 {_percentile(values, 95):6.1f}")
    print("per request kind: wall / engine took / JSON, p50 ms")
    for key in dict.fromkeys(k for r in rows for k in r if k.startswith("_kind ")):
        got = [r[key] for r in rows if key in r]
        print(f"  {key[6:]:<40} n={len(got):<4}" + " / ".join(f"{_percentile([g[i] for g in got], 50):5.1f}"
                                                             for i in range(3)))
    print("request sequences (kw: main thread beside the vector side, vec: its thread, post: after the join):")
    for order, n in Counter(str(r["_order"]) for r in rows).most_common():
        print(f"  {n:>3} x  {order}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
