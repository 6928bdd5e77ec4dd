"""Nothing lost, nothing twice: `warwatch run` (a real subprocess, with its real crawler child)
interrupted by SIGINT, SIGTERM or SIGKILL of its whole process group during the crawl, the
cleaning, the enrichment, the indexing or the alerts; then `warwatch run` again. Every article of
the site ends up indexed exactly once (counted by `url` in the node) and no story is alerted twice.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT as PROJECT_ROOT
from tests.conftest import count_docs

DEMO_SITE = PROJECT_ROOT / "demo" / "site"
WARWATCH = Path(sys.executable).with_name("warwatch")


def _env(data_dir: Path, sources: Path, point: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        WARWATCH_DATA_DIR=str(data_dir),
        WARWATCH_SOURCES=str(sources),
        # A short grace so SIGINT/SIGTERM stop the crawler quickly.
        WARWATCH_PIPELINE__CRAWL_GRACE_SECONDS="5",
        WARWATCH_CRAWL__AUTOTHROTTLE="false",
        # Vectors are not under test here (no kill point is in the embedding step, which runs
        # last): without them neither run loads the embedding model.
        WARWATCH_EMBEDDINGS__BACKEND="none",
    )
    if point != "crawl":  # the politeness delay only keeps a crawl long enough to be interrupted
        env["WARWATCH_CRAWL__DOWNLOAD_DELAY"] = "0"
    return env


def _batch_dirs(data_dir: Path) -> list[Path]:
    runs = data_dir / "runs"
    # Batch dirs only: not runs/.done (the processed markers of warwatch.pipeline.batches).
    return sorted(p for p in runs.iterdir() if p.is_dir() and not p.name.startswith(".")) if runs.is_dir() else []


def _reached(data_dir: Path, point: str) -> bool:
    """The run is at ``point``: mid-crawl (some articles archived, no report yet), or working on
    that stage (the lease of a batch says so)."""
    for rdir in _batch_dirs(data_dir):
        if point == "crawl":
            manifest = rdir / "manifest.jsonl"
            if (manifest.exists() and len(manifest.read_bytes().splitlines()) >= 3
                    and not (rdir / "crawl-report.json").exists()):
                return True
            continue
        try:
            lease = json.loads((rdir / "lease.json").read_text())
        except (OSError, ValueError):
            continue
        if lease.get("stage") == point:
            return True
    return False


def _spawn(args: list[str], **kwargs: object) -> subprocess.Popen[bytes]:
    """Popen with Ctrl-C's default meaning in the child, however pytest was started: a process
    started in the background by a non-interactive shell (a CI runner, ``cmd &``) ignores SIGINT,
    children inherit an ignored signal, and Python then never raises KeyboardInterrupt. A handler
    (unlike an ignored signal) is reset to the default when the child execs."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return subprocess.Popen(args, **kwargs)  # type: ignore[call-overload,no-any-return]
    finally:
        signal.signal(signal.SIGINT, previous)


def _locks_free(data_dir: Path) -> bool:
    import fcntl

    for lock in (data_dir / "locks").glob("batch-*.lock"):
        with lock.open("rb") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                return False
    return True


def _urls_in_index(es_url: str, alias: str) -> Counter[str]:
    body = json.dumps({"size": 0, "aggs": {"u": {"terms": {"field": "url", "size": 1000}}}}).encode()
    req = urllib.request.Request(f"{es_url}/{alias}/_search", data=body, method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 - loopback node
        buckets = json.load(resp)["aggregations"]["u"]["buckets"]
    return Counter({b["key"]: b["doc_count"] for b in buckets})


CASES = [
    ("crawl", signal.SIGINT),
    ("crawl", signal.SIGKILL),
    ("clean", signal.SIGKILL),
    ("enrich", signal.SIGTERM),
    ("index", signal.SIGKILL),
    ("index", signal.SIGINT),
    ("alerts", signal.SIGKILL),
]


@pytest.mark.slow
@pytest.mark.parametrize(("point", "sig"), CASES, ids=[f"{p}-{s.name}" for p, s in CASES])
def test_interrupted_run_then_next_run_indexes_everything_once(point: str, sig: signal.Signals, data_dir: Path,
                                                              index_prefix: str, es_url: str) -> None:
    from demo.server import render_sources, serve

    articles = json.loads((DEMO_SITE / "articles.json").read_text())["articles"]
    # Latency keeps the crawl long enough to be interrupted in the middle.
    with serve(DEMO_SITE, port=0, latency=0.25 if point == "crawl" else 0.0) as server:
        sources = render_sources(server.base_url, data_dir / "sources.yaml")
        env = _env(data_dir, sources, point)
        proc = _spawn([str(WARWATCH), "run"], env=env, cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL,
                      stderr=subprocess.PIPE, start_new_session=True)
        deadline = time.monotonic() + 180
        try:
            while not _reached(data_dir, point):
                assert proc.poll() is None, f"the run ended before reaching {point}: {proc.stderr.read()!r}"  # type: ignore[union-attr]
                assert time.monotonic() < deadline, f"{point} not reached in 180 s"
                time.sleep(0.005)
            os.killpg(proc.pid, sig)  # the whole process group, as a terminal or a supervisor does
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        assert proc.returncode != 0
        # However it died, the crawler child went with it: no batch stays locked.
        for _ in range(100):
            if _locks_free(data_dir):
                break
            time.sleep(0.1)
        else:
            pytest.fail("a batch lock is still held: the crawler outlived its parent")
        interrupted = [d.name for d in _batch_dirs(data_dir) if not (d / "processed.json").exists()]
        assert interrupted, "the interrupted run left nothing unprocessed: the kill came too late"

        # The latency and the politeness delay only kept the first crawl long enough to be
        # interrupted: the second run is not timed.
        server.latency = 0.0
        env["WARWATCH_CRAWL__DOWNLOAD_DELAY"] = "0"
        second = subprocess.run([str(WARWATCH), "run"], env=env, cwd=PROJECT_ROOT, capture_output=True,
                                text=True, timeout=600)
    assert second.returncode in (0, 1), second.stderr
    # Every batch is processed now, the interrupted one included.
    assert all((d / "processed.json").exists() for d in _batch_dirs(data_dir))
    alias = f"{index_prefix}articles"
    urls = _urls_in_index(es_url, alias)
    assert count_docs(es_url, alias) == len(articles)
    assert len(urls) == len(articles)
    assert [u for u, n in urls.items() if n > 1] == []
    alerted = 0
    for alerts_file in (data_dir / "alerts").glob("*.jsonl"):
        lines = [json.loads(x) for x in alerts_file.read_text().splitlines() if x.strip()]
        stories = Counter(a["story_id"] for a in lines)
        assert [s for s, n in stories.items() if n > 1] == [], alerts_file.name
        alerted += len(lines)
    assert alerted > 0  # the demo site matches the bundled watches: the check above saw alerts
