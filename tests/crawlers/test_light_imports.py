"""The crawler process stays light: importing the spider loads neither the extractor (trafilatura,
lxml's cleaner) nor numpy. Revisits classify a takedown with the extractor, so they import it
when a revisit is classified (benchmarks/crawl.py: peak RSS 99 -> 117 MiB when it was imported
at start)."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO_ROOT

HEAVY = ("trafilatura", "indexing.extraction", "numpy")


def test_importing_the_spider_loads_no_extractor() -> None:
    code = ("import sys, crawlers.spiders.news, crawlers.revisits; "
            f"print([m for m in {HEAVY!r} if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
