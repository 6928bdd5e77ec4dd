"""Edits and takedowns on a site that changes under the crawler (issue #19), measured the way
the issue's check measures them.

    .venv/bin/python benchmarks/changes_world.py [--articles 300] [--rounds 2] [--languages en,de,ru,uk,pl,fr]
                                                [--revisit-after 2] [--no-real-bodies] [--cap N] [--json out.json]

Serves the changing site (``benchmarks/changes_site.py``: one site per language on 127.0.0.1,
furniture rotating on every request) and drives the real CLI, ``warwatch run`` as a process
with default settings except: ``WARWATCH_CHANGES__REVISIT_AFTER`` in seconds, politeness off,
vectors off, a fresh data dir, config dir (the shipped one plus a watch ``on: [new, edited,
removed]``) and index prefix. Steps: run 1 (every article new) -> the site mutates (``--rounds``
times each edit kind, each takedown mode, the two combos and a flaky article, spread over the
languages; everything else unchanged) -> wait past the interval -> run 2 (revisits; takedowns
suspected, confirmed after ``changes.confirm_delay_seconds``) -> run 3 (confirms what run 2 left
suspected) -> ``warwatch changes --json`` and the alerts -> run 4 (nothing may be new) ->
``warwatch history URL --json`` for a sample.

Article texts: the fixture's sentences, and (unless ``--no-real-bodies``) real article texts
from ``../shared/datasets`` (article-extraction-dev bodies for English, web-snippets-dev's
pages, extracted, for the languages of their countries) while they last.

Prints (and with ``--json`` writes) recall per kind and language, false changes and false
takedowns on the unchanged articles, numbers with both values, alerts per change event, the
revisit figures of the crawl reports against the budget share, and the revisit cost per 1,000
revisited articles (requests, bytes, crawl seconds) and WARC growth.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.changes_score import score, score_alerts  # noqa: E402
from benchmarks.changes_site import WATCH, ChangingSite, build_world, mutate, plan_changes  # noqa: E402

DATASETS = REPO.parent / "shared" / "datasets"
_TLD_LANG = {"de": "de", "at": "de", "ch": "de", "fr": "fr", "pl": "pl", "ru": "ru", "ua": "uk"}


# --------------------------------------------------------------------------- real texts
def real_bodies(languages: list[str], limit: int = 400, datasets: Path = DATASETS) -> dict[str, list[list[str]]]:
    """Paragraph lists of real articles per language (at most ``limit`` each): English bodies of
    article-extraction-dev, and web-snippets-dev's pages (extracted) by the page's country."""
    out: dict[str, list[list[str]]] = {lang: [] for lang in languages}
    truth = datasets / "article-extraction-dev" / "ground-truth.json"
    if truth.exists() and "en" in out:
        for item in json.loads(truth.read_text(encoding="utf-8")).values():
            paras = [p.strip() for p in str(item.get("articleBody", "")).split("\n") if len(p.split()) >= 15]
            if len(paras) >= 4:
                out["en"].append(paras[:6])
    snippets = datasets / "web-snippets-dev" / "snippets.json"
    if snippets.exists():
        from indexing.extraction import extract

        for key, item in json.loads(snippets.read_text(encoding="utf-8")).items():
            host = urlsplit(str(item.get("url", ""))).hostname or ""
            lang = _TLD_LANG.get(host.rsplit(".", 1)[-1])
            page = datasets / "web-snippets-dev" / "html" / f"{key}.html.gz"
            if lang not in out or len(out[lang]) >= limit or not page.exists():
                continue
            article = extract(gzip.decompress(page.read_bytes()), item["url"])
            paras = [p.strip() for p in article.body.split("\n") if len(p.split()) >= 15]
            if article.status == "ok" and len(paras) >= 4:
                out[lang].append(paras[:6])
    return {lang: v[:limit] for lang, v in out.items() if v}


# --------------------------------------------------------------------------- driving warwatch
def _env(root: Path, prefix: str, revisit_after: float, cap: int | None) -> dict[str, str]:
    config = root / "config"
    shutil.copytree(REPO / "config", config)
    (config / "watches.yaml").write_text(WATCH, encoding="utf-8")
    env = {**os.environ, "WARWATCH_DATA_DIR": str(root / "data"), "WARWATCH_CONFIG_DIR": str(config),
           "WARWATCH_INDEX_PREFIX": prefix, "WARWATCH_CHANGES__REVISIT_AFTER": f"{revisit_after:g}s",
           "WARWATCH_CRAWL__DOWNLOAD_DELAY": "0", "WARWATCH_CRAWL__AUTOTHROTTLE": "false",
           "WARWATCH_EMBEDDINGS__BACKEND": "none", "WARWATCH_PIPELINE__ALERTS_RETRY_SECONDS": "0"}
    env.setdefault("WARWATCH_ES_URL", "http://127.0.0.1:9200")
    if cap is not None:
        env["WARWATCH_CRAWL__MAX_ARTICLES_PER_SOURCE"] = str(cap)
    return env


def _warwatch(env: dict[str, str], *argv: str) -> str:
    exe = Path(sys.executable).with_name("warwatch")
    proc = subprocess.run([str(exe), *argv], env=env, cwd=REPO, capture_output=True, text=True, timeout=3600)
    if proc.returncode != 0:
        raise RuntimeError(f"warwatch {' '.join(argv)}: exit {proc.returncode}\n{proc.stderr[-3000:]}")
    return proc.stdout


def _run(env: dict[str, str], sources: Path) -> dict[str, Any]:
    """One ``warwatch run``: its seconds and its crawl report."""
    runs = Path(env["WARWATCH_DATA_DIR"]) / "runs"
    before = set(os.listdir(runs)) if runs.exists() else set()
    start = time.monotonic()
    _warwatch(env, "run", "--sources", str(sources))
    seconds = time.monotonic() - start
    new = sorted(set(os.listdir(runs)) - before)
    reports = [json.loads((runs / r / "crawl-report.json").read_text()) for r in new
               if (runs / r / "crawl-report.json").exists()]
    return {"seconds": round(seconds, 2), "ended": time.monotonic(), "run_ids": new,
            "sources": {sid: fig for rep in reports for sid, fig in rep.get("sources", {}).items()}}


def _warc_bytes(data: Path) -> int:
    return sum(p.stat().st_size for p in (data / "warc").glob("*.warc.gz"))


def _alert_lines(data: Path) -> list[dict[str, Any]]:
    path = data / "alerts" / "zaporizhzhia-changes.jsonl"
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


def _cleanup(es_url: str, prefix: str) -> None:
    for path in (f"/{prefix}*?expand_wildcards=all", f"/_index_template/{prefix}*", f"/_component_template/{prefix}*"):
        try:
            urllib.request.urlopen(urllib.request.Request(es_url + path, method="DELETE"), timeout=60).read()  # noqa: S310
        except OSError:
            pass


# --------------------------------------------------------------------------- figures
def revisit_figures(runs: list[dict[str, Any]], share: float, cap: int | None) -> dict[str, Any]:
    """Per run and source: revisits requested (done + overdue-by-budget are not requests: done
    and suspected are) against ceil(share x cap)."""
    budget = math.ceil(share * cap) if cap is not None else None
    keys = ("revisits_due", "revisits_done", "revisits_overdue", "revisits_not_modified", "revisits_changed",
            "takedowns_suspected", "takedowns_confirmed")
    rows = []
    for k, run in enumerate(runs, start=1):
        for sid, fig in sorted(run["sources"].items()):
            rows.append({"run": k, "source": sid, **{key: fig.get(key, 0) for key in keys},
                         **{key: fig.get(key, 0) for key in ("fetched", "new", "duplicates", "bytes")}})
    over = [r for r in rows if budget is not None and r["revisits_done"] > budget]
    return {"budget_per_source_and_run": budget, "rows": rows, "over_budget": over}


def cost_figures(site_requests: list[tuple[str, str, int, int]], stored_paths: set[tuple[str, str]],
                 seconds: float, warc_growth: int) -> dict[str, Any]:
    """Requests and bytes the revisit runs spent on stored articles, scaled per 1,000 revisits:
    the article's own URL (revisits and their second checks) apart from URL variants that reach
    a stored article through a link with a query (``?ref=mostread&pos=2``: new URLs to the
    crawler, fetched as new articles and found to be duplicates)."""
    revisits = [r for r in site_requests if (r[0], r[1]) in stored_paths]
    variants = [r for r in site_requests if "?" in r[1] and (r[0], r[1].split("?")[0]) in stored_paths]
    n = max(1, len(revisits))
    scale = 1000 / n
    return {"revisit_requests": len(revisits), "bytes_served": sum(r[3] for r in revisits),
            "variant_requests": len(variants), "variant_bytes": sum(r[3] for r in variants),
            "requests_per_1000_articles": round(len(revisits) * 1000 / max(1, len(stored_paths))),
            "bytes_per_1000_revisits": round(sum(r[3] for r in revisits) * scale),
            "run_seconds_per_1000_revisits": round(seconds * scale, 1),
            "warc_growth_bytes": warc_growth, "warc_growth_bytes_per_1000_revisits": round(warc_growth * scale)}


def measure(args: argparse.Namespace) -> dict[str, Any]:
    languages = args.languages.split(",")
    limit = -(-args.articles // len(languages))
    bodies = real_bodies(languages, limit, args.datasets) if args.real_bodies else {}
    world = build_world(args.articles, languages, seed=args.seed, bodies=bodies)
    truths = plan_changes(world, random.Random(args.seed), rounds=args.rounds)
    prefix = f"bench-changes-{uuid.uuid4().hex[:8]}-"
    with tempfile.TemporaryDirectory() as tmp, ChangingSite(world) as site:
        root = Path(tmp)
        env = _env(root, prefix, args.revisit_after, args.cap)
        data = Path(env["WARWATCH_DATA_DIR"])
        sources = root / "sources.yaml"
        sources.write_text(site.sources_yaml(), encoding="utf-8")
        urls = [site.url(a) for a in world.articles]
        try:
            runs = [_run(env, sources)]
            warc_first, mark = _warc_bytes(data), len(site.requests)
            mutate(world)
            time.sleep(max(0.0, runs[0]["ended"] + args.revisit_after + 0.5 - time.monotonic()))
            runs += [_run(env, sources), _run(env, sources)]
            records = json.loads(_warwatch(env, "changes", "--json", "--limit", "100000"))["changes"]
            default_listing = json.loads(_warwatch(env, "changes", "--json"))["changes"]
            alerts = _alert_lines(data)
            revisit_requests, warc_revisits = list(site.requests[mark:]), _warc_bytes(data) - warc_first
            runs.append(_run(env, sources))
            again = json.loads(_warwatch(env, "changes", "--json", "--limit", "100000"))["changes"]
            alerts_after = _alert_lines(data)
            sample = [urls[i] for i, t in enumerate(truths) if t.kinds][: args.history_sample]
            histories = [json.loads(_warwatch(env, "history", u, "--json")) for u in sample]
        finally:
            _cleanup(env["WARWATCH_ES_URL"], prefix)
    result = score(truths, urls, records)
    change_alerts = [a for a in alerts if a.get("event") in ("edited", "removed")]
    return {
        "articles": args.articles, "languages": languages,
        "real_bodies": {lang: min(len(v), sum(a.lang == lang for a in world.articles)) for lang, v in bodies.items()},
        "revisit_after_seconds": args.revisit_after, "run_seconds": [r["seconds"] for r in runs],
        "score": result,
        "default_listing_records": len(default_listing),
        "alerts": {**score_alerts(change_alerts, [r["id"] for r in records]),
                   "new_on_rerun": len(alerts_after) - len(alerts),
                   # the watch names Zaporizhzhia: the records of articles placed there (each
                   # language's spelling, places[1] of the fixture) must each be alerted once
                   "records_of_watched_articles": len(watched := [
                       r for r in records if r.get("canonical_url") in {
                           u for u, a in zip(urls, world.articles, strict=True)
                           if a.place == world.langs[a.lang]["places"][1]}]),
                   "watched_not_alerted": [
                       {"url": r.get("canonical_url"), "kinds": r.get("kinds"), "language": r.get("language")}
                       for r in watched if r["id"] not in {(a.get("change") or {}).get("id") for a in change_alerts}]},
        "records_after_rerun_unchanged": sorted(r["id"] for r in again) == sorted(r["id"] for r in records),
        "history_sample": [{"url": h.get("url"), "versions": len(h.get("versions", [])),
                            "changes": [c.get("kinds") for c in h.get("changes", [])]} for h in histories],
        "revisits": revisit_figures(runs, args.share, args.cap),
        "cost": cost_figures(revisit_requests, {(a.lang, a.path) for a in world.articles},
                             sum(r["seconds"] for r in runs[1:3]), warc_revisits),
        "warc_first_crawl_bytes": warc_first,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=2, help="times each kind and takedown mode is planted")
    parser.add_argument("--languages", default="en,de,ru,uk,pl,fr")
    parser.add_argument("--revisit-after", type=float, default=2.0, help="seconds")
    parser.add_argument("--datasets", type=Path, default=DATASETS, help="../shared/datasets")
    parser.add_argument("--no-real-bodies", dest="real_bodies", action="store_false")
    parser.add_argument("--cap", type=int, default=None, help="WARWATCH_CRAWL__MAX_ARTICLES_PER_SOURCE")
    parser.add_argument("--share", type=float, default=0.3, help="changes.revisit_share in force (the default)")
    parser.add_argument("--history-sample", type=int, default=5)
    parser.add_argument("--seed", type=int, default=19)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    figures = measure(args)
    text = json.dumps(figures, ensure_ascii=False, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
