"""Crawl + archive throughput against a bare Scrapy spider on the same local site.

    .venv/bin/python benchmarks/crawl.py [--articles 2000] [--concurrency 8]

Serves a generated news site (feed + sitemaps + section page, >= 2,000 articles) on
127.0.0.1, then runs, each as its own process and on a fresh data dir:
  1. the warwatch crawler (`python -m crawlers.run`): discovery, robots.txt, canonicalisation,
     seen-store, WARC + manifest;
  2. a bare Scrapy spider that only fetches the same article URLs (no robots, no storage).
Prints articles/s for both, the ratio (goal >= 0.8) and each process's peak RSS.
Politeness delays are off for both so the machinery, not the throttle, is measured.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.crawlers.sitefixture import SiteServer, build_news_site, sources_yaml  # noqa: E402

BARE_SPIDER = r"""
import json, sys
import scrapy
from scrapy.crawler import CrawlerProcess

urls = json.load(open(sys.argv[1]))
conc = int(sys.argv[2])

class Bare(scrapy.Spider):
    name = "bare"
    async def start(self):
        for u in urls:
            yield scrapy.Request(u, callback=self.parse)
    def parse(self, response):
        self.crawler.stats.inc_value("bare/fetched")

p = CrawlerProcess({"LOG_LEVEL": "ERROR", "ROBOTSTXT_OBEY": False, "CONCURRENT_REQUESTS": 16,
                    "CONCURRENT_REQUESTS_PER_DOMAIN": conc, "DOWNLOAD_DELAY": 0, "AUTOTHROTTLE_ENABLED": False,
                    "TELNETCONSOLE_ENABLED": False, "COOKIES_ENABLED": False})
crawler = p.create_crawler(Bare)
p.crawl(crawler)
p.start()
print(crawler.stats.get_value("bare/fetched", 0))
"""


def _run(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[float, int, str, int]:
    """(wall seconds, peak RSS in KiB, stdout, return code) of one child process."""
    started = time.monotonic()
    proc = subprocess.Popen(
        cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return time.monotonic() - started, usage.ru_maxrss, out, proc.returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()

    site = build_news_site(args.articles)
    tmp = Path(tempfile.mkdtemp(prefix="warwatch-bench-"))
    with SiteServer(site.routes) as srv:
        env = dict(os.environ)
        env.update(
            {
                "WARWATCH_DATA_DIR": str(tmp / "data"),
                "WARWATCH_CRAWL__DOWNLOAD_DELAY": "0",
                "WARWATCH_CRAWL__AUTOTHROTTLE": "false",
                "WARWATCH_CRAWL__CONCURRENT_REQUESTS_PER_DOMAIN": str(args.concurrency),
                "PYTHONPATH": str(REPO),
            }
        )
        sources = tmp / "sources.yaml"
        sources.write_text(sources_yaml(srv.base_url), encoding="utf-8")
        cmd = [sys.executable, "-m", "crawlers.run", "--run-id", "bench", "--sources", str(sources)]
        ww_time, ww_rss, _, rc = _run(cmd, env, tmp)
        report = json.loads((tmp / "data" / "runs" / "bench" / "crawl-report.json").read_text())
        stored = report["totals"]["new"]

        url_file = tmp / "urls.json"
        url_file.write_text(json.dumps([srv.url(p) for p in site.article_paths]))
        bare_time, bare_rss, out, brc = _run(
            [sys.executable, "-c", BARE_SPIDER, str(url_file), str(args.concurrency)], env, tmp
        )
        bare_fetched = int(out.strip().splitlines()[-1]) if out.strip() else 0

    ww_rate = stored / ww_time
    bare_rate = bare_fetched / bare_time
    print(f"site: {args.articles} articles on {srv.base_url} (per-domain concurrency {args.concurrency})")
    print(
        f"warwatch crawl+archive: {stored} articles in {ww_time:.1f}s = {ww_rate:.1f} articles/s, "
        f"peak RSS {ww_rss / 1024:.0f} MiB (exit {rc})"
    )
    print(
        f"bare scrapy fetch:      {bare_fetched} articles in {bare_time:.1f}s = {bare_rate:.1f} articles/s, "
        f"peak RSS {bare_rss / 1024:.0f} MiB (exit {brc})"
    )
    ratio = ww_rate / bare_rate if bare_rate else 0.0
    print(f"ratio: {ratio:.2f} (goal >= 0.8)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
