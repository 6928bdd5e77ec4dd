"""What revisits cost: requests, bytes and crawl seconds per 1,000 revisited articles, and how
much the WARC archive grows per 1,000 unchanged revisits (revisit records vs full copies).

    .venv/bin/python benchmarks/revisits.py [--articles 1000] [--page-kb 20]

Serves a generated site of ``--articles`` articles (one sitemap, pages of about ``--page-kb``
KB) on 127.0.0.1. For each answer the site can give a revisit, on a fresh data dir: crawl once
(every article new), then crawl again once the revisit interval (1 s, through
``WARWATCH_CHANGES__REVISIT_AFTER``) has passed, with the revisit budget at the whole cap:
  * ``same-bytes``: the page is byte for byte the stored one -> WARC revisit record
    (identical-payload-digest);
  * ``304``: the article has an ETag and answers the conditional GET with 304 -> revisit record
    (server-not-modified);
  * ``furniture``: a "most read" box changes on every page -> a full capture per article (what
    a revisit costs where the bytes never repeat).
Politeness delays are off (the machinery is measured, not the throttle). Prints one JSON line
per mode with the figures scaled to 1,000 revisits.
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

from tests.crawlers.sitefixture import Route, SiteServer, article_html, sources_yaml  # noqa: E402

MODES = ("same-bytes", "304", "furniture")


def _page(i: int, kb: int, furniture: str = "") -> bytes:
    words = " ".join(f"word{(i * 7 + k) % 997}" for k in range(kb * 1024 // 9))
    return article_html(f"/news/2024/story-{i}-report-from-the-front.html", f"Story {i}", words,
                        extra_links=f"<aside>Most read: {furniture}</aside>")


def _site(n: int, kb: int, etag: bool) -> dict[str, Route]:
    routes = {}
    paths = [f"/news/2024/story-{i}-report-from-the-front.html" for i in range(n)]
    for i, p in enumerate(paths):
        routes[p] = Route(body=_page(i, kb), etag=f'"v{i}"' if etag else None)
    urls = "".join(f"<url><loc>{{{{BASE}}}}{p}</loc></url>" for p in paths)
    routes["/sitemap.xml"] = Route(
        body=f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'.encode(),
        content_type="application/xml")
    return routes


def _crawl(env: dict[str, str], run_id: str, sources: Path, cwd: Path) -> float:
    start = time.monotonic()
    subprocess.run([sys.executable, "-m", "crawlers.run", "--run-id", run_id, "--sources", str(sources)],
                   cwd=cwd, env=env, check=True, capture_output=True, timeout=1800)
    return time.monotonic() - start


def _warc_bytes(data: Path, run_id: str) -> int:
    return sum(p.stat().st_size for p in (data / "warc").glob(f"warwatch-{run_id}-*.warc.gz"))


def measure(mode: str, n: int, kb: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp, SiteServer(_site(n, kb, etag=mode == "304")) as srv:
        root = Path(tmp)
        data = root / "data"
        sources = root / "sources.yaml"
        sources.write_text(sources_yaml(srv.base_url, feeds=False, sections=False).replace(
            "sitemap-index.xml", "sitemap.xml"), encoding="utf-8")
        env = {**os.environ, "WARWATCH_DATA_DIR": str(data), "WARWATCH_CRAWL__DOWNLOAD_DELAY": "0",
               "WARWATCH_CRAWL__AUTOTHROTTLE": "false", "WARWATCH_CRAWL__CONCURRENT_REQUESTS_PER_DOMAIN": "8",
               "WARWATCH_CRAWL__MAX_ARTICLES_PER_SOURCE": str(n), "WARWATCH_CHANGES__REVISIT_AFTER": "1s",
               "WARWATCH_CHANGES__REVISIT_SHARE": "1.0", "WARWATCH_EMBEDDINGS__BACKEND": "none",
               "PYTHONPATH": str(REPO)}
        first_seconds = _crawl(env, "first", sources, root)
        if mode == "furniture":
            for i in range(n):
                srv.routes[f"/news/2024/story-{i}-report-from-the-front.html"].body = _page(i, kb, f"rotated {i}")
        time.sleep(1.5)  # the 1 s revisit interval passes (a benchmark: real time is the point)
        mark = len(srv.hits)
        seconds = _crawl(env, "revisit", sources, root)
        hits = [h for h in srv.hits[mark:] if h.bare_path.startswith("/news/")]
        report = json.loads((data / "runs" / "revisit" / "crawl-report.json").read_text())["sources"]["fixture"]
        scale = 1000 / max(1, len(hits))
        first_warc, revisit_warc = _warc_bytes(data, "first"), _warc_bytes(data, "revisit")
        return {
            "mode": mode, "articles": n, "page_kb": kb, "revisit_requests": len(hits),
            "revisits_not_modified": report["revisits_not_modified"],
            "revisits_changed": report["revisits_changed"],
            "bytes_received_per_1000": round(report["bytes"] * scale),
            "crawl_seconds_per_1000": round(seconds * scale, 2),
            "first_crawl_seconds_per_1000": round(first_seconds * 1000 / n, 2),
            "warc_growth_bytes_per_1000": round(revisit_warc * scale),
            "warc_full_copies_bytes_per_1000": round(first_warc * 1000 / n),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=1000)
    parser.add_argument("--page-kb", type=int, default=20)
    parser.add_argument("--mode", choices=MODES, action="append")
    args = parser.parse_args()
    for mode in args.mode or MODES:
        print(json.dumps(measure(mode, args.articles, args.page_kb)), flush=True)


if __name__ == "__main__":
    main()
