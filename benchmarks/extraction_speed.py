"""Extraction speed: pages/s of warwatch `extract` vs plain `trafilatura.extract`, one core, side
by side in one run (and the `extract` of another checkout, e.g. main before a change).

Usage: python benchmarks/extraction_speed.py DATASET_DIR [DATASET_DIR ...] [--repeats 3]
           [--baseline CHECKOUT] [--cpu 0]

DATASET_DIR: either layout (article-extraction `ground-truth.json` or web-snippets
`snippets.json`); pages are handed over as their quality benchmark hands them (text, bytes).
Every extractor runs on every page in the same process, page by page, the order of the extractors
rotating from one page to the next: machine load and caches warmed by one page hit all of them
alike. Each repeat is one pass over the dataset; the figures are medians over the repeats, and
the ratios are taken within each repeat (never across runs). Time is the process's CPU time
(``time.process_time``: what a page costs, not how long a busy machine made it wait), wall time
beside it. ``--cpu N`` pins the process to that core (as ``taskset -c N`` does).
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from extraction_compare import iter_pages, load_other_extraction  # noqa: E402  (benchmarks/ is on sys.path)

Extractor = Callable[[Any, Any], Any]


def extractors(baseline: Path | None) -> dict[str, Extractor]:
    import trafilatura

    from indexing.extraction import extract

    found: dict[str, Extractor] = {
        "warwatch": lambda html, url: extract(html, url=url),
        "trafilatura": lambda html, url: trafilatura.extract(html, url=url),
    }
    if baseline is not None:
        other = load_other_extraction(baseline)
        found["baseline"] = lambda html, url: other.extract(html, url=url)
    return found


def time_repeat(pages: list[tuple[str, Any, Any]], named: dict[str, Extractor]) -> dict[str, tuple[float, float]]:
    """(CPU seconds, wall seconds) per extractor over one pass of the pages."""
    names = list(named)
    cpu = dict.fromkeys(names, 0.0)
    wall = dict.fromkeys(names, 0.0)
    for i, (_, url, html) in enumerate(pages):
        for name in names[i % len(names) :] + names[: i % len(names)]:
            c0, w0 = time.process_time(), time.perf_counter()
            named[name](html, url)
            cpu[name] += time.process_time() - c0
            wall[name] += time.perf_counter() - w0
    return {name: (cpu[name], wall[name]) for name in names}


def report(dataset: Path, pages: int, repeats: list[dict[str, tuple[float, float]]]) -> None:
    names = list(repeats[0])
    print(f"{dataset}: {pages} pages x {len(repeats)} repeats, one process")
    print(f"{'extractor':<13}{'pages/s CPU':>12}{'ms/page CPU':>12}{'pages/s wall':>13}")
    for name in names:
        cpu = statistics.median(r[name][0] for r in repeats)
        wall = statistics.median(r[name][1] for r in repeats)
        print(f"{name:<13}{pages / cpu:>12.1f}{cpu / pages * 1000:>12.2f}{pages / wall:>13.1f}")
    for other in names[1:]:
        per_repeat = [r[other][0] / r["warwatch"][0] for r in repeats]
        shown = ", ".join(f"{x:.2f}" for x in per_repeat)
        print(f"warwatch speed / {other}: {statistics.median(per_repeat):.2f}x (CPU; repeats: {shown})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("datasets", type=Path, nargs="+")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--baseline", type=Path, help="another checkout whose extract() runs alongside")
    parser.add_argument("--cpu", type=int, help="pin the process to this core")
    args = parser.parse_args(argv)
    if args.cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
    logging.disable(logging.WARNING)  # trafilatura logs every discarded page
    named = extractors(args.baseline)
    for dataset in args.datasets:
        pages = list(iter_pages(dataset))
        for _, url, html in pages[:3]:  # warm-up: imports, models, caches
            for fn in named.values():
                fn(html, url)
        repeats = [time_repeat(pages, named) for _ in range(args.repeats)]
        report(dataset, len(pages), repeats)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
