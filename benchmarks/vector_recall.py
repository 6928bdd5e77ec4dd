"""Client-side vector ranking: how much of the exact top k the two-step ranking finds, and what
each costs (indexing/embeddings/matrix.py: 1-bit codes pick candidates, only they are scored).

Usage: python benchmarks/vector_recall.py [--rows 100000] [--k 30] [--rounds 3]

Rows are real and synthetic vectors: the articles of tests/fixtures/crosslingual embedded by the
configured model (title + lead, as the embedding stage does it), and ``--rows`` minus those drawn
from a Gaussian with the real vectors' mean and covariance (the shape of the model's space: a
large common direction, correlated dimensions), normalised. Queries are the fixture's queries in
seven languages, embedded as queries. For each: the exact top k (every row scored), the two-step
top k, and their overlap (recall@k, and @10); the story's own coverage found in each top 10; and
the CPU milliseconds per query of both, in the same run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def fixture_vectors() -> tuple[list[str], np.ndarray, list[tuple[str, np.ndarray]], dict[str, set[str]]]:
    """Article ids and vectors, (story, query vector) pairs, and each story's article ids."""
    from indexing.embeddings import document_text, get_embedder
    from indexing.settings import get_settings
    from tests.indexing import crosslingual_corpus

    embedder = get_embedder(get_settings().embeddings)
    assert embedder is not None, "needs an embeddings backend"
    articles, queries = crosslingual_corpus.load()
    max_chars = get_settings().embeddings.max_chars
    ids = [a["url"] for a in articles]
    docs = embedder.embed([document_text(a, max_chars) for a in articles])
    pairs = [(story, q) for story, by_lang in queries.items() for qs in by_lang.values() for q in qs]
    qvecs = embedder.embed([q for _, q in pairs], query=True)
    coverage = {story: {a["url"] for a in articles if a["story"] == story} for story in queries}
    return ids, docs, [(story, v) for (story, _), v in zip(pairs, qvecs, strict=True)], coverage


def background(real: np.ndarray, n: int, seed: int = 5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mean = real.mean(axis=0)
    # few real vectors for a 384 x 384 covariance: shrink towards the diagonal
    cov = 0.5 * np.cov(real, rowvar=False) + 0.5 * np.diag(real.var(axis=0))
    rows = rng.multivariate_normal(mean, cov, size=n, method="cholesky").astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--k", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    from indexing.embeddings.matrix import VectorMatrix

    ids, docs, queries, coverage = fixture_vectors()
    extra = max(0, args.rows - len(ids))
    matrix = VectorMatrix("bench", "bench", docs.shape[1])
    matrix.load([f"bg-{i}" for i in range(extra)], background(docs, extra))
    matrix.load(ids, docs)
    overlap: list[float] = []
    overlap10: list[float] = []
    found: dict[str, list[float]] = {"exact": [], "two-step": []}
    cpu: dict[str, list[float]] = {"exact": [], "two-step": []}
    for r in range(args.rounds):
        for story, q in queries:
            tops = {}
            for mode in (["exact", "two-step"] if r % 2 == 0 else ["two-step", "exact"]):
                t = time.process_time()
                tops[mode] = [i for i, _ in matrix.nearest(q, args.k, exact=mode == "exact")]
                cpu[mode].append((time.process_time() - t) * 1000)
                if r == 0:
                    found[mode].append(len(coverage[story] & set(tops[mode][:10])) / len(coverage[story]))
            if r == 0:
                overlap.append(len(set(tops["exact"]) & set(tops["two-step"])) / args.k)
                overlap10.append(len(set(tops["exact"][:10]) & set(tops["two-step"][:10])) / 10)
    print(f"{len(matrix)} rows ({len(ids)} real), {len(queries)} queries, k={args.k}, "
          f"candidates {max(matrix.min_candidates, matrix.oversample * args.k)}")
    print(f"two-step finds of the exact top {args.k}: mean {statistics.mean(overlap):.3f}, "
          f"min {min(overlap):.3f}; of the exact top 10: mean {statistics.mean(overlap10):.3f}, min {min(overlap10):.3f}")
    for mode in ("exact", "two-step"):
        print(f"{mode:<9}: story coverage in the top 10 {statistics.mean(found[mode]):.3f}; CPU per query "
              f"p50 {statistics.median(cpu[mode]):.2f} ms, max {max(cpu[mode]):.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
