"""Replay hybrid fusion offline on the candidates benchmarks/search_world.py dumped, to choose its
constants by cross-validation across query classes and to compare fusion rules.

Usage: python benchmarks/fusion_tune.py DUMP.json [--grid | --agreement-grid | --title-grid | --echo-grid
                                                  | --names-grid | --reach-grid]

For each query the dump holds the keyword side's hits (score, language) and the vector side's
(refined score), as the engine and the vector matrix returned them. Every rule here is the
function indexing/embeddings/retrieval.py runs (``fuse``), called with other constants, so what
is measured is what ships. ``--grid`` searches the constants: for each class in turn it picks the
constants that do best on the other classes (by the mean of precision@|relevant| and nDCG@10 over
them, each class weighted alike) and reports them on the held-out class (leave-one-class-out);
validation-split queries are never used to choose. ``--agreement-grid`` searches only the
cross-lingual agreement's constants (the others as shipped), the same way; ``--title-grid`` only
the title closeness's (a dump without title scores replays it as off); ``--names-grid`` only the
penalty of names across scripts (a dump made before the keyword query named its words' clauses
replays it as off); ``--reach-grid`` only the echo's reach beyond its head.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import statistics
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.search_world import measure  # noqa: E402
from indexing.embeddings import fusion  # noqa: E402

DEPTH = 30  # search.vector_candidates: what each side contributes


def ranked(rec: dict[str, Any], params: dict[str, Any] | None) -> tuple[list[str], bool]:
    """The fused ranking of one dumped query (urls, best first) and whether it is 'no good match'."""
    cand = rec["candidates"]
    kw = [fusion.KeywordHit(h["url"], float(h["score"] or 0.0), frozenset(h.get("matched") or ()))
          for h in cand["keyword"][:DEPTH]]
    vec = [(h["url"], float(h["score"])) for h in cand["vector"][:DEPTH]]
    one_concept = bool(cand.get("one_concept"))
    fused = fusion.fuse(kw, vec, one_concept=one_concept,
                        params=fusion.FusionParams(**params) if params else fusion.FusionParams(),
                        vectors=_vectors(cand, fusion.anchor(kw, one_concept=one_concept)),
                        titles=cand.get("titles"), similar=_pairs(cand),
                        languages=cand.get("languages"))
    return [u for u, _ in fused.page(10)][:10], fused.weak


def _vectors(cand: dict[str, Any], centre: str | None) -> dict[str, Any] | None:
    """Stand-in vectors with the dumped cosines to the anchor (all the agreement computes):
    the anchor (1, 0), a candidate at cosine s (s, sqrt(1 - s^2)). None when the dump's anchor
    (found among more keyword hits) is not the one fusion finds among DEPTH."""
    if centre is None or cand.get("anchor") != centre:
        return None
    out: dict[str, Any] = {u: np.asarray([s, math.sqrt(max(0.0, 1 - s * s))]) for u, s in cand["agreement"].items()}
    out[centre] = np.asarray([1.0, 0.0])
    return out


def _pairs(cand: dict[str, Any]) -> Any:
    """The candidates' dumped pairwise centred cosines as a lookup (pairs under the dump's floor
    read as 0.0; a dump without pairs: None, the echo is off)."""
    if "pairs" not in cand:
        return lambda a, b: None
    table = {frozenset((a, b)): s for a, b, s in cand["pairs"]}
    return lambda a, b: table.get(frozenset((a, b)), 0.0)


def previous(rec: dict[str, Any]) -> tuple[list[str], bool]:
    """The fusion of the previous main (8ae44f4), replayed: the rescaled vector score plus the
    keyword score relative to the best, weighted 1.0 when the keyword side's five best hits span
    four languages or more and 0.1 otherwise; no floor, every neighbour a hit, never weak."""
    cand = rec["candidates"]
    vec = {h["url"]: float(h["score"]) for h in cand["vector"][:DEPTH]}
    lo, hi = min(vec.values(), default=0.0), max(vec.values(), default=1.0)
    scores = {u: (c - lo) / ((hi - lo) or 1.0) for u, c in vec.items()}
    kw = cand["keyword"][:DEPTH]
    best = max((float(h["score"] or 0.0) for h in kw), default=0.0) or 1.0
    weight = 1.0 if len({h["language"] for h in kw[:5]}) >= 4 else 0.1
    for h in kw:
        scores[h["url"]] = scores.get(h["url"], 0.0) + weight * float(h["score"] or 0.0) / best
    return [u for u, _ in sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))][:10], False


def evaluate(results: list[dict[str, Any]], params: dict[str, float] | None,
             rule: Any = None) -> dict[str, dict[str, float]]:
    groups: dict[str, list[dict[str, float]]] = {}
    for rec in results:
        urls, weak = rule(rec) if rule else ranked(rec, params)
        key = f"{rec['class']} {rec['split']}"
        if rec["story"] is None:
            groups.setdefault(key, []).append({"weak": float(weak or not urls)})
            continue
        m = measure(urls, set(rec["coverage"]))
        groups.setdefault(key, []).append({**m, "weak": float(weak)})
    return {k: {m: statistics.mean(r[m] for r in rs) for m in rs[0]} | {"n": float(len(rs))}
            for k, rs in sorted(groups.items())}


def objective(table: dict[str, dict[str, float]], classes: set[str]) -> float:
    """Mean over ``classes`` (each alike) of (precision + nDCG) / 2; for (g) the 'no good match' share."""
    vals = []
    for key, row in table.items():
        cls, split = key.split()
        if cls not in classes or split == "validation":
            continue
        vals.append(row["weak"] if cls == "g" else (row["precision"] + row["ndcg"]) / 2 - 0.5 * row["weak"])
    return statistics.mean(vals) if vals else 0.0


#: the constants searched (FusionParams' fields)
GRID: dict[str, list[float]] = {
    "strong": [0.6, 1.0, 1.5, 2.0, 3.0, 5.0],
    "weak": [0.2, 0.4, 0.6, 0.8, 1.0, 1.5],
    "vector_confidence": [0.08, 0.09, 0.1, 0.11, 0.12, 0.13],
    "admit": [0.0, 0.05],
    "admit_ratio": [0.0, 0.5],
}


#: --agreement-grid: the cross-lingual agreement's constants (the others as shipped)
AGREEMENT_GRID: dict[str, list[float]] = {
    "agreement": [0.0, 0.5, 1.0, 1.5, 2.0, 3.0],
    "agree_low": [0.3, 0.35, 0.4, 0.45, 0.5],
    "agree_high": [0.55, 0.6, 0.7, 0.8],
}


#: --echo-grid: the echo's constants (the others as shipped)
ECHO_GRID: dict[str, list[float]] = {
    "echo": [0.0, 0.8, 0.9, 0.95, 0.99],
    "echo_depth": [5, 10, 20],
    "echo_low": [0.35, 0.4, 0.45, 0.5],
    "echo_high": [0.5, 0.6, 0.7],
}


#: --names-grid: the names across scripts' penalty (the others as shipped)
NAMES_GRID: dict[str, list[float]] = {
    "names": [0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0],
}


#: --reach-grid: how many of the best candidates echo beyond the echo's head (the others as shipped)
REACH_GRID: dict[str, list[float]] = {
    "echo_reach": [0, 1, 2, 3, 5, 10, 20],
}


#: --title-grid: the title closeness's constants (the others as shipped)
TITLE_GRID: dict[str, list[float]] = {
    "title": [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0],
    "title_depth": [10, 20, 30],
}


def grid(space: dict[str, list[float]] = GRID) -> list[dict[str, float]]:
    keys = list(space)
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*(space[k] for k in keys))]


def show(table: dict[str, dict[str, float]], label: str) -> None:
    print(label)
    for key, row in table.items():
        if key.startswith("g"):
            print(f"  {key:16} n={int(row['n']):3}  no-good-match {row['weak']:.2f}")
        else:
            print(f"  {key:16} n={int(row['n']):3}  R {row['recall']:.3f}  P {row['precision']:.3f}  "
                  f"nDCG {row['ndcg']:.3f}  weak {row['weak']:.2f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dump")
    parser.add_argument("--grid", action="store_true")
    parser.add_argument("--agreement-grid", action="store_true")
    parser.add_argument("--title-grid", action="store_true")
    parser.add_argument("--echo-grid", action="store_true")
    parser.add_argument("--names-grid", action="store_true")
    parser.add_argument("--reach-grid", action="store_true")
    args = parser.parse_args(argv)
    results = [r for r in json.loads(Path(args.dump).read_text(encoding="utf-8"))["results"] if "candidates" in r]
    show(evaluate(results, None, previous), "previous main's fusion (a rule keyed to how many languages the keyword hits span):")
    show(evaluate(results, None), "shipped constants:")
    show(evaluate(results, {"agreement": 0.0}), "shipped constants, no cross-lingual agreement:")
    show(evaluate(results, {"title": 0.0}), "shipped constants, no title closeness:")
    show(evaluate(results, {"names": 0.0}), "shipped constants, no names across scripts:")
    show(evaluate(results, {"echo_reach": 0}), "shipped constants, no echo reach:")
    if not (args.grid or args.agreement_grid or args.title_grid or args.echo_grid or args.names_grid
            or args.reach_grid):
        return 0
    combos = grid(AGREEMENT_GRID if args.agreement_grid else TITLE_GRID if args.title_grid
                  else ECHO_GRID if args.echo_grid else NAMES_GRID if args.names_grid
                  else REACH_GRID if args.reach_grid else GRID)
    tables = [evaluate(results, p) for p in combos]
    classes = sorted({r["class"] for r in results})
    for held in classes:
        train = set(classes) - {held}
        best = max(range(len(combos)), key=lambda i: objective(tables[i], train))
        row = {k: v for k, v in tables[best].items() if k.startswith(held)}
        print(f"held out {held}: chosen {combos[best]}")
        show(row, "  on the held-out class:")
    best = max(range(len(combos)), key=lambda i: objective(tables[i], set(classes)))
    print(f"all classes: chosen {combos[best]}")
    show(tables[best], "  every class (validation rows never used to choose):")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
