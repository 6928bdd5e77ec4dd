"""Freshness: how long from publication to searchable, and to the alert delivered, when Airflow
runs warwatch on its default schedules.

    .venv/bin/python benchmarks/freshness.py [--articles 20] [--minutes 30] [--grace 10]
        [--port 8092] [--seed 1] [--out FILE] [--keep]

Needs a search node (``WARWATCH_ES_URL``, e.g. ``warwatch local-es start``); everything else it
starts itself, on 127.0.0.1, in a fresh temporary directory:

1. a news site whose RSS feed gains an article at random moments (``--articles`` spread uniformly
   at random over ``--minutes``; each a different story with its own publication time in the
   page and the feed; the feed answers conditional GETs; ``benchmarks/publishing_site.py``);
2. a webhook receiver standing in for the analysts' chat: it records when each alert arrives;
3. ``airflow standalone`` with this project's DAGs on their default schedules (``warwatch_crawl``
   every ``pipeline.feeds_interval_minutes``, ``warwatch_process`` on its asset), the DAGs
   unpaused through the REST API, a sources file naming only the site, and one watch
   ("freshness probe") whose channel is the webhook.

It polls the index every ``--poll`` seconds for the published articles' URLs and reports, per
article and as median and p95 (nearest rank): publication -> searchable, publication -> alert
delivered. Goal: median <= 5 min, p95 <= 10 min. It stops ``--grace`` minutes after the last
publication (earlier once every article is searchable and alerted), stops Airflow's whole process
group and any process it left (found by a marker in their environment), and prints the figures as
JSON (also written to ``--out``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.publishing_site import (  # noqa: E402
    Article,
    PublishingSite,
    WebhookReceiver,
    make_articles,
    publication_offsets,
)

DAGS = ("warwatch_crawl", "warwatch_process")
WATCH_ID = "freshness-probe"
SOURCE_ID = "freshness-site"
GOAL_MEDIAN_S, GOAL_P95_S = 300.0, 600.0

# --------------------------------------------------------------------------- Airflow
@dataclass
class Airflow:
    home: Path
    port: int
    env: dict[str, str]
    marker: str
    proc: subprocess.Popen[bytes] | None = None
    token: str | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 300.0) -> None:
        log = (self.home / "standalone.log").open("ab")
        # A session of its own: stopping it stops the scheduler, dag-processor, api-server and workers.
        self.proc = subprocess.Popen([str(Path(sys.executable).with_name("airflow")), "standalone"], env=self.env,
                                     cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"airflow standalone exited with {self.proc.returncode}; see {log.name}")
            if _get_status(f"{self.base}/api/v2/monitor/health") == 200:
                return
            time.sleep(2)
        raise RuntimeError(f"airflow standalone not healthy after {timeout:.0f}s; see {log.name}")

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        if self.token is None:
            pw_file = self.home / "simple_auth_manager_passwords.json.generated"
            password = json.loads(pw_file.read_text(encoding="utf-8"))["admin"]
            self.token = _json_request("POST", f"{self.base}/auth/token",
                                       {"username": "admin", "password": password})["access_token"]
        return _json_request(method, f"{self.base}{path}", body, token=self.token)

    def unpause(self, dag_ids: tuple[str, ...], timeout: float = 300.0) -> None:
        """Unpause each DAG once the dag-processor has parsed it."""
        deadline = time.monotonic() + timeout
        pending = list(dag_ids)
        while pending and time.monotonic() < deadline:
            for dag_id in list(pending):
                try:
                    self._request("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})
                    pending.remove(dag_id)
                except urllib.error.HTTPError as exc:
                    if exc.code != 404:
                        raise
            time.sleep(3)
        if pending:
            errors = self._request("GET", "/api/v2/importErrors")
            raise RuntimeError(f"DAGs {pending} never appeared; import errors: {json.dumps(errors)[:2000]}")

    def runs(self, dag_id: str) -> list[dict[str, Any]]:
        resp = self._request("GET", f"/api/v2/dags/{dag_id}/dagRuns?limit=100&order_by=-start_date")
        return list(resp.get("dag_runs") or [])

    def stop(self) -> list[int]:
        """SIGTERM to the session, SIGKILL after 30 s, then every process still carrying our
        marker (a crawler started in a session of its own). Returns the pids killed at the end."""
        if self.proc is not None and self.proc.poll() is None:
            for sig, wait in ((signal.SIGTERM, 30.0), (signal.SIGKILL, 10.0)):
                try:
                    os.killpg(self.proc.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    self.proc.wait(timeout=wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        leftovers = _marked_pids(self.marker)
        for pid in leftovers:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return leftovers


def _get_status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 - loopback
            return int(resp.status)
    except (urllib.error.URLError, OSError):
        return None


def _json_request(method: str, url: str, body: dict[str, Any] | None = None, token: str | None = None) -> Any:
    req = urllib.request.Request(url, method=method, data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Content-Type": "application/json"})
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 - loopback
        data = resp.read()
    return json.loads(data) if data else None


def _marked_pids(marker: str) -> list[int]:
    """Processes whose environment holds WARWATCH_BENCH_MARKER=marker (ours, and only ours)."""
    needle = f"WARWATCH_BENCH_MARKER={marker}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


# --------------------------------------------------------------------------- the run
def prepare_workdir(work: Path, site_url: str, hook_url: str) -> Path:
    """Config directory (the project's, with one watch and the site as the only source)."""
    config = work / "config"
    config.mkdir(parents=True)
    for f in (REPO / "config").glob("*.yaml"):
        if f.name not in ("watches.yaml", "sources.yaml"):
            shutil.copy(f, config / f.name)
    (config / "watches.yaml").write_text(
        "delivery:\n  retries: 3\n  backoff_seconds: 1\n"
        f"watches:\n  - id: {WATCH_ID}\n    name: Freshness probe\n    query: freshness probe\n"
        f"    channels:\n      webhook: {{url: {hook_url}, allow_private_network: true}}\n", encoding="utf-8")
    (config / "sources.yaml").write_text(
        f"sources:\n  - id: {SOURCE_ID}\n    name: Freshness site\n    url: {site_url}/\n    language: en\n"
        f"    feeds: [{site_url}/feed.xml]\n    allow_private_network: true\n", encoding="utf-8")
    return config


def airflow_env(work: Path, config: Path, port: int, prefix: str, marker: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "PATH": f"{Path(sys.executable).parent}:{env.get('PATH', '')}",
        "AIRFLOW_HOME": str(work / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "WARWATCH_CONFIG_DIR": str(config),
        "WARWATCH_SOURCES": str(config / "sources.yaml"),
        "WARWATCH_DATA_DIR": str(work / "data"),
        "WARWATCH_INDEX_PREFIX": prefix,
        "WARWATCH_BENCH_MARKER": marker,
    })
    return env


@dataclass
class Observation:
    searchable: dict[str, float] = field(default_factory=dict)  # url -> time.monotonic()


def searchable_urls(engine: Any, alias: str, urls: list[str]) -> set[str]:
    """Which of ``urls`` the index returns (``url`` or ``canonical_url``); none before it exists."""
    from indexing.engine import NotFound

    if not urls:
        return set()
    body = {"size": len(urls), "_source": ["url", "canonical_url"],
            "query": {"bool": {"should": [{"terms": {"url": urls}}, {"terms": {"canonical_url": urls}}]}}}
    try:
        hits = engine.search(alias, body)["hits"]["hits"]
    except NotFound:
        return set()
    return {u for h in hits for u in (h["_source"].get("url"), h["_source"].get("canonical_url")) if u}


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def summarise(delays: list[float | None]) -> dict[str, Any]:
    seen = [d for d in delays if d is not None]
    return {"n": len(delays), "observed": len(seen), "missing": len(delays) - len(seen),
            "median_s": round(statistics.median(seen), 1) if seen else None,
            "p95_s": round(p, 1) if (p := percentile(seen, 95)) is not None else None,
            "max_s": round(max(seen), 1) if seen else None}


def _verdict(stats: dict[str, Any]) -> str:
    ok = (stats["missing"] == 0 and stats["median_s"] is not None and stats["median_s"] <= GOAL_MEDIAN_S
          and stats["p95_s"] <= GOAL_P95_S)
    return "goal met" if ok else "goal NOT met"


def _say(msg: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {msg}", file=sys.stderr, flush=True)


def observe(site: PublishingSite, articles: list[Article], offsets: list[float], hook: WebhookReceiver,
            engine: Any, alias: str, args: argparse.Namespace) -> Observation:
    """Publish on schedule; poll the index; stop after the grace time or when all is seen."""
    from indexing.engine import EngineError

    obs = Observation()
    start = time.monotonic()
    end = start + offsets[-1] + args.grace * 60 if offsets else start
    queue = list(zip(offsets, articles, strict=True))
    while time.monotonic() < end:
        now = time.monotonic()
        while queue and queue[0][0] <= now - start:
            _, art = queue.pop(0)
            site.publish(art)
            _say(f"published {art.index + 1}/{len(articles)}: {site.url(art)}")
        waiting = [site.url(a) for a in site.published if site.url(a) not in obs.searchable]
        try:
            for url in searchable_urls(engine, alias, waiting):
                obs.searchable.setdefault(url, time.monotonic())
                _say(f"searchable: {url}")
        except EngineError as exc:  # the node is busy: not searchable yet, ask again
            _say(f"search failed ({exc}); retrying")
        if not queue and len(obs.searchable) == len(articles) and all(
                site.url(a) in hook.arrivals for a in articles):
            break
        time.sleep(args.poll)
    return obs


def report(site: PublishingSite, articles: list[Article], obs: Observation, hook: WebhookReceiver,
           airflow: Airflow, args: argparse.Namespace, prefix: str) -> dict[str, Any]:
    rows = []
    for a in articles:
        url = site.url(a)
        base = a.published_mono
        s, h = obs.searchable.get(url), hook.arrivals.get(url)
        rows.append({"url": url, "published": a.published.isoformat() if a.published else None,
                     "searchable_s": round(s - base, 1) if s is not None and base is not None else None,
                     "alerted_s": round(h - base, 1) if h is not None and base is not None else None})
    searchable = summarise([r["searchable_s"] for r in rows])
    alerted = summarise([r["alerted_s"] for r in rows])
    try:
        runs = {d: len(airflow.runs(d)) for d in DAGS}
    except (urllib.error.URLError, OSError, ValueError) as exc:  # only informative
        runs = {"error": str(exc)}  # type: ignore[dict-item]
    return {"articles": args.articles, "minutes": args.minutes, "seed": args.seed, "index_prefix": prefix,
            "goal": {"median_s": GOAL_MEDIAN_S, "p95_s": GOAL_P95_S},
            "searchable": {**searchable, "verdict": _verdict(searchable)},
            "alert_delivered": {**alerted, "verdict": _verdict(alerted)},
            "alerts_received": hook.alerts, "dag_runs": runs, "per_article": rows}


@contextmanager
def _workdir(keep: bool) -> Iterator[Path]:
    work = Path(tempfile.mkdtemp(prefix="warwatch-freshness-"))
    try:
        yield work
    finally:
        if keep:
            _say(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--articles", type=int, default=20)
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--grace", type=float, default=10.0, help="minutes to wait after the last publication")
    ap.add_argument("--poll", type=float, default=5.0, help="seconds between index polls")
    ap.add_argument("--port", type=int, default=8092, help="Airflow's API server port")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--keep", action="store_true", help="keep the work directory (logs, data)")
    args = ap.parse_args(argv)

    prefix = f"bench-fresh-{uuid.uuid4().hex[:8]}-"
    os.environ["WARWATCH_INDEX_PREFIX"] = prefix
    from indexing.engine import connect
    from indexing.settings import get_settings, reset_settings

    reset_settings()
    engine = connect(get_settings())  # fails here, before anything starts, when no node answers
    rng = random.Random(args.seed)
    articles = make_articles(args.articles, rng)
    offsets = publication_offsets(args.articles, args.minutes, rng)
    marker = uuid.uuid4().hex
    hook = WebhookReceiver()
    with _workdir(args.keep) as work, PublishingSite() as site:
        config = prepare_workdir(work, site.base_url, hook.url)
        airflow = Airflow(work / "airflow", args.port, airflow_env(work, config, args.port, prefix, marker), marker)
        airflow.home.mkdir()
        try:
            _say(f"starting airflow standalone on 127.0.0.1:{args.port} (home {airflow.home})")
            airflow.start()
            airflow.unpause(DAGS)
            _say(f"DAGs unpaused; publishing {args.articles} articles over {args.minutes:g} min at {site.base_url}")
            obs = observe(site, articles, offsets, hook, engine, get_settings().articles_alias, args)
            result = report(site, articles, obs, hook, airflow, args, prefix)
        finally:
            left = airflow.stop()
            hook.close()
            if left:
                _say(f"killed {len(left)} processes airflow left behind: {left}")
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    for key in ("searchable", "alert_delivered"):
        s = result[key]
        _say(f"{key}: median {s['median_s']} s, p95 {s['p95_s']} s, max {s['max_s']} s, "
             f"{s['observed']}/{s['n']} observed — {s['verdict']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
