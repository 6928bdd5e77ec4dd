"""Crawl + archive throughput against a bare Scrapy spider on the same local site.

    .venv/bin/python benchmarks/crawl.py [--articles 2000] [--concurrency 8] [--repeat 3] [--profile DIR]

Serves a generated news site (feed + sitemaps + section page, >= 2,000 articles) on
127.0.0.1, then runs, each as its own process and on a fresh data dir:
  1. the warwatch crawler (`python -m crawlers.run`): discovery, robots.txt, canonicalisation,
     seen-store, WARC + manifest;
  2. a bare Scrapy spider that only fetches the same article URLs (no robots, no storage).
Prints articles/s for both, the ratio (goal >= 0.8) and each process's peak RSS, per run and
the median over ``--repeat`` runs (the two sides run back to back, so compare ratios).
``--profile DIR`` runs both under cProfile (slower; for finding hot spots, not for the ratio).
Politeness delays are off for both so the machinery, not the throttle, is measured.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.crawlers.sitefixture import NewsSite, SiteServer, build_news_site, sources_yaml  # noqa: E402

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


def _run(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[float, int, str, int, float]:
    """(wall seconds, peak RSS in KiB, stdout, return code, CPU seconds) of one child process."""
    started = time.monotonic()
    proc = subprocess.Popen(
        cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime
    return time.monotonic() - started, usage.ru_maxrss, out, proc.returncode, cpu


def _once(site: NewsSite, args: argparse.Namespace, run: int) -> dict[str, float]:
    """One warwatch run and one bare run against a fresh server and data dir."""
    tmp = Path(tempfile.mkdtemp(prefix="warwatch-bench-"))
    with SiteServer(site.routes) as srv:
        env = dict(os.environ)
        env.update(
            {
                "WARWATCH_DATA_DIR": str(tmp / "data"),
                "WARWATCH_CRAWL__DOWNLOAD_DELAY": "0",
                "WARWATCH_CRAWL__AUTOTHROTTLE": "false",
                "WARWATCH_CRAWL__CONCURRENT_REQUESTS_PER_DOMAIN": str(args.concurrency),
                # every article of the site is new: the per-run cap must not cut them
                "WARWATCH_CRAWL__MAX_ARTICLES_PER_SOURCE": str(10 * args.articles),
                "PYTHONPATH": str(REPO),
            }
        )
        sources = tmp / "sources.yaml"
        sources.write_text(sources_yaml(srv.base_url), encoding="utf-8")
        profile: list[str] = []
        if args.profile:
            args.profile.mkdir(parents=True, exist_ok=True)
            profile = ["-m", "cProfile", "-o", str(args.profile / f"crawl-{run}.prof")]
        cmd = [sys.executable, *profile, "-m", "crawlers.run", "--run-id", "bench", "--sources", str(sources)]
        ww_time, ww_rss, _, rc, ww_cpu = _run(cmd, env, tmp)
        report = json.loads((tmp / "data" / "runs" / "bench" / "crawl-report.json").read_text())
        stored = report["totals"]["new"]

        url_file = tmp / "urls.json"
        url_file.write_text(json.dumps([srv.url(p) for p in site.article_paths]))
        bare_profile = (
            ["-m", "cProfile", "-o", str(args.profile / f"bare-{run}.prof")] if args.profile else []
        )
        bare_script = tmp / "bare.py"
        bare_script.write_text(BARE_SPIDER, encoding="utf-8")
        bare_time, bare_rss, out, brc, bare_cpu = _run(
            [sys.executable, *bare_profile, str(bare_script), str(url_file), str(args.concurrency)], env, tmp
        )
        bare_fetched = int(out.strip().splitlines()[-1]) if out.strip() else 0
    if not args.keep:
        shutil.rmtree(tmp, ignore_errors=True)
    ww_rate = stored / ww_time
    bare_rate = bare_fetched / bare_time
    print(
        f"[{run}] warwatch crawl+archive: {stored} articles in {ww_time:.1f}s = {ww_rate:.1f} articles/s, "
        f"CPU {ww_cpu:.1f}s, peak RSS {ww_rss / 1024:.0f} MiB (exit {rc})"
    )
    print(
        f"[{run}] bare scrapy fetch:      {bare_fetched} articles in {bare_time:.1f}s = {bare_rate:.1f} "
        f"articles/s, CPU {bare_cpu:.1f}s, peak RSS {bare_rss / 1024:.0f} MiB (exit {brc})"
    )
    ratio = ww_rate / bare_rate if bare_rate else 0.0
    print(f"[{run}] ratio: {ratio:.2f}", flush=True)
    return {
        "ww_rate": ww_rate,
        "bare_rate": bare_rate,
        "ratio": ratio,
        "ww_rss_mib": ww_rss / 1024,
        "bare_rss_mib": bare_rss / 1024,
        "ww_cpu": ww_cpu,
        "bare_cpu": bare_cpu,
        "ok": float(rc == 0 and brc == 0 and stored == bare_fetched == len(site.article_paths)),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=1, help="runs of both sides (the machine is noisy)")
    parser.add_argument(
        "--profile", type=Path, default=None, metavar="DIR", help="cProfile both sides into DIR"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary data dirs")
    args = parser.parse_args()

    site = build_news_site(args.articles)
    print(f"site: {args.articles} articles (per-domain concurrency {args.concurrency})")
    runs = [_once(site, args, i + 1) for i in range(args.repeat)]
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    per_run = ", ".join(f"{r['ratio']:.2f}" for r in runs)
    print(
        f"median of {len(runs)}: warwatch {med['ww_rate']:.1f} articles/s (peak RSS {med['ww_rss_mib']:.0f} MiB), "
        f"bare {med['bare_rate']:.1f} articles/s (peak RSS {med['bare_rss_mib']:.0f} MiB), "
        f"ratio {med['ratio']:.2f} (goal >= 0.8); per run: {per_run}; "
        f"CPU seconds warwatch {med['ww_cpu']:.1f}, bare {med['bare_cpu']:.1f}"
    )
    if not all(r["ok"] for r in runs):
        print("WARNING: a run failed or the two sides did not fetch every article")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
