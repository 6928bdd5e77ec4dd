"""What rendering pages that need JavaScript costs a crawl, and whether their text comes through.

    .venv/bin/python benchmarks/render.py [--datasets ../shared/datasets] [--articles 40] [--repeat 3]

Takes real news pages (article-extraction-dev), extracts each once, and serves two sites on
127.0.0.1 with the same articles: **served** (the page as it is) and **shell** (an application shell:
``<div id="app">``, a bundle that fetches the article's title and paragraphs as JSON and writes
them into the page). Then crawls each with ``python -m crawlers.run`` (politeness off, a fresh
data dir, the defaults otherwise: ``render: auto``), alternating in each round, and reports:

* pages/s and CPU seconds (the crawl process and its children: the browser) per site, and the
  shell site's time per page against the served site's (the baseline is the same crawl of the
  same articles without a browser);
* how many shell pages were rendered, and the share of each article's paragraphs that extraction
  reads from the rendered page (the text must come through whole: 1.000).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from indexing.archive import iter_manifest, read_record  # noqa: E402
from indexing.extraction import extract  # noqa: E402
from tests.crawlers.sitefixture import Route, SiteServer  # noqa: E402

APP_JS = b"""
fetch(location.pathname + '.json').then(r => r.json()).then(a => {
  const app = document.getElementById('app');
  const h1 = document.createElement('h1'); h1.textContent = a.title; app.appendChild(h1);
  for (const t of a.paragraphs) { const p = document.createElement('p'); p.textContent = t; app.appendChild(p); }
});
"""


def articles(datasets: Path, n: int) -> list[tuple[str, bytes, list[str]]]:
    """(slug, page, paragraphs) of the first ``n`` dataset pages that extract to an article."""
    out: list[tuple[str, bytes, list[str]]] = []
    for path in sorted((datasets / "article-extraction-dev" / "html").iterdir()):
        raw = path.read_bytes()
        page = gzip.decompress(raw) if path.name.endswith(".gz") else raw
        art = extract(page)
        if art.status == "ok" and art.title:
            out.append((f"2024/11/report-from-the-front-{len(out):03d}", page, art.body.split("\n\n")))
        if len(out) == n:
            break
    return out


def sites(items: list[tuple[str, bytes, list[str]]]) -> tuple[dict[str, Route], dict[str, Route]]:
    links = "".join(f"<a href='/news/{slug}'>{slug}</a>" for slug, _, _ in items).encode()
    section = Route(body=b"<html><body><h1>News</h1>" + links + b"</body></html>")
    served = {"/world/": section}
    shell = {"/world/": section, "/static/app.js": Route(body=APP_JS, content_type="application/javascript")}
    for slug, page, paragraphs in items:
        served[f"/news/{slug}"] = Route(body=page)
        shell[f"/news/{slug}"] = Route(body=(
            f"<!doctype html><html><head><meta charset='utf-8'><title>{slug}</title></head><body>"
            "<nav><a href='/'>Home</a> <a href='/world/'>World</a></nav><main id='app'></main>"
            "<script src='/static/app.js'></script></body></html>").encode())
        shell[f"/news/{slug}.json"] = Route(body=json.dumps({"title": slug, "paragraphs": paragraphs}).encode(),
                                            content_type="application/json")
    return served, shell


def crawl(routes: dict[str, Route]) -> dict[str, float | list[dict]]:
    data = Path(tempfile.mkdtemp(prefix="bench-render-"))
    try:
        with SiteServer(routes) as srv:
            sources = data / "sources.yaml"
            sources.write_text(f"sources:\n  - id: bench\n    url: {srv.base_url}/\n"
                               f"    sections: [{srv.base_url}/world/]\n    allow_private_network: true\n")
            env = {**os.environ, "WARWATCH_DATA_DIR": str(data), "WARWATCH_CRAWL__DOWNLOAD_DELAY": "0",
                   "WARWATCH_CRAWL__AUTOTHROTTLE": "false", "PYTHONPATH": str(REPO)}
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            proc = subprocess.run([sys.executable, "-m", "crawlers.run", "--run-id", "bench", "--sources", str(sources)],
                                  env=env, capture_output=True, text=True, cwd=data, timeout=1800)
            wall = time.perf_counter() - start
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if proc.returncode != 0:
            raise SystemExit(f"crawl failed: {proc.stderr[-2000:]}")
        run = data / "runs" / "bench"
        report = json.loads((run / "crawl-report.json").read_text())["sources"]["bench"]
        pages = []
        for e in iter_manifest(run / "manifest.jsonl"):
            offset = e.get("rendered_offset", e["warc_offset"])
            pages.append({"url": e["url"], "body": read_record(data / e["warc_file"], int(offset)).body})
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return {"wall": wall, "cpu": cpu, "pages": pages, "rendered": report.get("render", {}).get("rendered", 0),
                "fetched": report["fetched"]}
    finally:
        shutil.rmtree(data, ignore_errors=True)


def text_kept(pages: list[dict], items: list[tuple[str, bytes, list[str]]]) -> float:
    """Mean share of each article's paragraphs found in what extraction reads from its page."""
    wanted = {slug: paragraphs for slug, _, paragraphs in items}
    shares = []
    for page in pages:
        slug = page["url"].split("/news/", 1)[-1]
        if slug in wanted:
            body = extract(page["body"], url=page["url"]).body
            shares.append(sum(p in body for p in wanted[slug]) / len(wanted[slug]))
    return statistics.mean(shares) if shares else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", default=str(REPO.parent / "shared" / "datasets"))
    parser.add_argument("--articles", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    items = articles(Path(args.datasets), args.articles)
    served, shell = sites(items)
    rows: dict[str, list[dict]] = {"served": [], "shell": []}
    for rnd in range(args.repeat):
        for name in (["served", "shell"] if rnd % 2 == 0 else ["shell", "served"]):
            out = crawl(served if name == "served" else shell)
            rows[name].append(out)
            print(f"round {rnd + 1} {name:6}: {out['fetched']} pages in {out['wall']:.1f} s "
                  f"({out['fetched'] / out['wall']:.1f} pages/s), CPU {out['cpu']:.1f} s, rendered {out['rendered']}, "
                  f"text kept {text_kept(out['pages'], items):.3f}", flush=True)
    s_wall = statistics.median(r["wall"] for r in rows["served"])
    j_wall = statistics.median(r["wall"] for r in rows["shell"])
    n = len(items)
    print(f"median: served {n / s_wall:.1f} pages/s, shell {n / j_wall:.1f} pages/s; "
          f"{(j_wall - s_wall) / n * 1000:.0f} ms more per rendered page; shell/served time {j_wall / s_wall:.2f}x; "
          f"CPU served {statistics.median(r['cpu'] for r in rows['served']):.1f} s, "
          f"shell {statistics.median(r['cpu'] for r in rows['shell']):.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
