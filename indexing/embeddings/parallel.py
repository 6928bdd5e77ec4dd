"""The embedding stage's texts spread over several model instances, one per core.

A model call is mostly long numpy/BLAS (or C, or HTTP) calls that release the GIL, so threads are
enough: each thread drives its own single-threaded instance (the numpy engine's instances share
their weights; the C engine keeps per-instance scratch buffers, one call at a time). Instances,
not the runtime's own threads: OpenMP and OpenBLAS workers spin between calls, and on a shared
2-core machine that made a 70 ms query take 6 s and two BLAS threads per call cost ~3x the CPU
(benchmarks/README.md, "Embedding stage speed").
Queries keep using the one shared instance of :func:`indexing.embeddings.get_embedder`.

Each instance gets a contiguous run of the texts, the runs balanced by characters (the model's
cost grows with the tokens it reads), and the rows come back in the texts' order: the result is
what one instance would compute for the same texts (both engines compute each text on its own,
with no padding shared between texts; in numpy to a cosine of 0.9999, BLAS's rounding).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from indexing.embeddings import Embedder


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity, where the platform has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - platforms without sched_getaffinity
        return max(1, os.cpu_count() or 1)


def stage_workers(configured: int | None) -> int:
    """Model instances the stage runs at once: ``embeddings.stage_workers``, or one per usable core."""
    return configured if configured else usable_cores()


def balanced_runs(texts: Sequence[str], parts: int) -> list[tuple[int, int]]:
    """``[start, end)`` runs of ``texts``, at most ``parts``, none empty, covering all in order,
    each holding about an equal share of the characters."""
    if not texts:
        return []
    parts = max(1, min(parts, len(texts)))
    weights = [len(t) + 1 for t in texts]
    total = sum(weights)
    runs: list[tuple[int, int]] = []
    start, acc = 0, 0
    for i, w in enumerate(weights):
        acc += w
        left_texts, left_parts = len(texts) - (i + 1), parts - len(runs) - 1
        target = total * (len(runs) + 1) / parts
        # cut here when the next text would overshoot the share more than stopping short of it
        nearest = acc >= target or (left_texts > 0 and acc + weights[i + 1] - target > target - acc)
        if left_parts > 0 and (nearest or left_texts == left_parts) and left_texts >= left_parts:
            runs.append((start, i + 1))
            start = i + 1
    runs.append((start, len(texts)))
    return runs


def embed_in_parallel(embedders: Sequence[Embedder], texts: Sequence[str], *, query: bool = False) -> np.ndarray:
    """``texts`` embedded by ``embedders`` at once (each a separate instance of one model), rows
    in the order of ``texts``."""
    if not embedders:
        raise ValueError("embed_in_parallel needs at least one embedder")
    runs = balanced_runs(texts, len(embedders))
    if len(runs) <= 1:
        return embedders[0].embed(list(texts), query=query)
    with ThreadPoolExecutor(max_workers=len(runs), thread_name_prefix="embed") as pool:
        parts = list(pool.map(lambda k: embedders[k].embed(list(texts[runs[k][0]:runs[k][1]]), query=query),
                              range(len(runs))))
    return np.concatenate(parts, axis=0)


__all__ = ["balanced_runs", "embed_in_parallel", "stage_workers", "usable_cores"]
