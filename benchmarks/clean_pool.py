"""The clean stage on one extraction worker vs one per core, side by side on the same batch.

    .venv/bin/python benchmarks/clean_pool.py [--pages 200] [--repeat 3] [--workers N]

Archives the real pages of ../shared/datasets/article-extraction-dev (repeated to ``--pages``)
into one batch of a temporary data dir, then cleans copies of that batch alternately with
``pipeline.clean_workers: 1`` (the stage before) and ``--workers`` (default: one per usable core),
checking that both write the same cleaned.jsonl. Prints pages/s and CPU seconds (this process and
its workers) of each, per round and the median.
"""

from __future__ import annotations

import argparse
import gzip
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
DATASET = REPO.parent / "shared" / "datasets" / "article-extraction-dev"


def _cpu() -> float:
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> int:
    from indexing.embeddings.parallel import usable_cores

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=usable_cores())
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="warwatch-cleanpool-"))
    os.environ["WARWATCH_DATA_DIR"] = str(tmp / "data")
    from indexing.archive import WarcWriter, append_manifest
    from indexing.settings import reset_settings
    from warwatch import pipeline

    reset_settings()
    pages = sorted((DATASET / "html").glob("*.html.gz"))
    base = pipeline.run_dir("base")
    with WarcWriter(tmp / "data" / "warc", "bench") as writer:
        for i in range(args.pages):
            url = f"http://bench.example/news/{i}.html"
            body = gzip.decompress(pages[i % len(pages)].read_bytes())
            path, offset = writer.write_response(url, 200, {"Content-Type": "text/html"}, body, datetime.now(UTC))
            append_manifest(base / "manifest.jsonl", {
                "url": url, "final_url": url, "status": 200, "fetched_at": datetime.now(UTC).isoformat(),
                "warc_file": str(path.relative_to(tmp / "data")), "warc_offset": offset, "source": "bench",
                "content_type": "text/html", "fingerprint": str(i)})
    rates: dict[int, list[float]] = {1: [], args.workers: []}
    try:
        for r in range(args.repeat):
            outputs = {}
            for workers in ((1, args.workers) if r % 2 == 0 else (args.workers, 1)):
                rid = f"r{r}-w{workers}"
                shutil.copytree(base, pipeline.run_dir(rid), dirs_exist_ok=True)
                os.environ["WARWATCH_PIPELINE__CLEAN_WORKERS"] = str(workers)
                reset_settings()
                wall, cpu = time.perf_counter(), _cpu()
                pipeline.clean(rid)
                wall, cpu = time.perf_counter() - wall, _cpu() - cpu
                rates[workers].append(args.pages / wall)
                outputs[workers] = (pipeline.run_dir(rid) / "cleaned.jsonl").read_bytes()
                print(f"[{r + 1}] {workers} worker(s): {args.pages / wall:.1f} pages/s, CPU {cpu:.1f}s", flush=True)
            if outputs[1] != outputs[args.workers]:
                print("ERROR: the pool wrote another cleaned.jsonl")
                return 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    one, many = statistics.median(rates[1]), statistics.median(rates[args.workers])
    print(f"median of {args.repeat}: 1 worker {one:.1f} pages/s, {args.workers} workers {many:.1f} pages/s, "
          f"{many / one:.2f}x (per round: " + ", ".join(f"{b / a:.2f}" for a, b in zip(rates[1], rates[args.workers],
                                                                                    strict=True)) + ")")
    return 0


if __name__ == "__main__":
    sys.exit(main())
