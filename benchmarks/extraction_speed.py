"""Extraction speed: pages/s of warwatch `extract` vs plain `trafilatura.extract`, single core.

Usage: python benchmarks/extraction_speed.py DATASET_DIR [--rounds N]

Both run on the same decoded pages in the same process, alternating page by page so that
neither profits from a warmer cache or a quieter machine. Goal: warwatch >= 0.7x trafilatura.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from extraction import load_dataset  # noqa: E402  (benchmarks/ is on sys.path when run as a script)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    logging.disable(logging.WARNING)  # trafilatura logs every discarded page

    import trafilatura

    from indexing.extraction import extract

    pages = load_dataset(args.dataset)
    for _, url, html, _ in pages[:3]:  # warm-up: imports, models, caches
        extract(html, url=url)
        trafilatura.extract(html, url=url)
    ours = theirs = 0.0
    # Alternate page by page: other load on the machine hits both sides alike.
    for _ in range(args.rounds):
        for _, url, html, _ in pages:
            start = time.perf_counter()
            trafilatura.extract(html, url=url)
            mid = time.perf_counter()
            extract(html, url=url)
            ours += time.perf_counter() - mid
            theirs += mid - start
    n = len(pages) * args.rounds
    print(f"{len(pages)} pages x {args.rounds} rounds, single process")
    print(f"{'extractor':<14}{'pages/s':>10}{'ms/page':>10}")
    print(f"{'warwatch':<14}{n / ours:>10.1f}{ours / n * 1000:>10.1f}")
    print(f"{'trafilatura':<14}{n / theirs:>10.1f}{theirs / n * 1000:>10.1f}")
    print(f"ratio warwatch/trafilatura: {theirs / ours:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
