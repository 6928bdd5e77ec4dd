"""The crawler's seen-store on Postgres (issue #18 §2, ``state.backend: postgres``).

- The seen-store tests of tests/crawlers (batches, a failed mark, fsync before commit, kill -9 and
  the manifest replay, revisits, pending retries and validators) run again here, their ``seen``
  backend a Postgres schema of their own (the same test functions: nothing copied).
- Two processes writing the same URLs at once (both backends): every article stored once, every
  failure counted once, no error.
- A run lock held in the database marks a run live for every host; a killed holder frees it.
- A crawl killed half-way is finished by a crawl that shares only the database and the data
  directory's runs (its own state and locks directories are gone): nothing lost, nothing fetched
  or stored twice, no ``crawl.sqlite`` anywhere.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from indexing.archive import iter_manifest
from indexing.urls import canonicalize_url
from tests.conftest import REPO_ROOT
from tests.crawlers.conftest import Crawler
from tests.crawlers.seenbackend import SeenBackend
from tests.crawlers.sitefixture import SiteServer, build_news_site, sources_yaml
from tests.crawlers.test_isolation import (  # noqa: F401  (collected again with the Postgres `seen`)
    test_transient_failures_back_off_and_stay_retryable_permanent_ones_are_given_up,
)
from tests.crawlers.test_parsers import test_seen_store_aliases_pending_validators  # noqa: F401
from tests.crawlers.test_revisit_schedule import (  # noqa: F401
    test_due_revisits_order_budget_restart_and_suspicion,
    test_revisited_moves_the_schedule_on_and_counts,
)
from tests.crawlers.test_state import (  # noqa: F401
    test_a_failed_mark_leaves_the_rest_of_the_batch,
    test_batched_marks_commit_by_count_by_time_and_before_other_writes,
    test_captures_are_fsynced_before_the_seen_mark_is_committed,
    test_kill_9_loses_only_uncommitted_marks_and_the_manifest_restores_them,
    test_seen_store_recrawl_uses_the_min_interval,
)
from tests.production import services
from tests.production.conftest import fresh_schema


@pytest.fixture
def seen(postgres: services.Postgres, tmp_path: Path) -> SeenBackend:
    """The seen-store in a Postgres schema of the test's own (overrides tests/crawlers' file)."""
    return SeenBackend(tmp_path / "state", fresh_schema(postgres))


@pytest.fixture(params=["file", "postgres"])
def either(request: pytest.FixtureRequest, tmp_path: Path) -> SeenBackend:
    dsn = fresh_schema(request.getfixturevalue("postgres")) if request.param == "postgres" else None
    return SeenBackend(tmp_path / "data" / "state", dsn)


def _host(backend: SeenBackend, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "WARWATCH_DATA_DIR": str(backend.state_dir.parent), **backend.env()}
    if backend.dsn is None:
        env.pop("WARWATCH_STATE__DSN", None)
    return subprocess.Popen([sys.executable, "-m", "tests.production.state_worker", *args], cwd=REPO_ROOT,
                            env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _say(proc: subprocess.Popen[str]) -> object:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line, f"the worker said nothing: {proc.communicate(timeout=30)[1][-3000:]}"
    return json.loads(line)


def test_two_processes_marking_the_same_urls_at_once_store_each_once_and_count_every_failure(
    either: SeenBackend,
) -> None:
    n, rounds = 300, 12
    hosts = [_host(either, "seen-marks", str(n), order, str(rounds)) for order in ("forward", "swapped")]
    for proc in hosts:
        assert _say(proc) == "ready"
    for proc in hosts:  # both start at once: their batches overlap on the same rows
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    for proc in hosts:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-3000:]
        assert json.loads(out.strip().splitlines()[-1]) == {"marked": n, "rounds": rounds}
    urls = {f"https://e.com/a/{i}" for i in range(n)}
    assert either.rows("SELECT COUNT(*), COUNT(DISTINCT url) FROM {articles}") == [(n, n)]
    assert either.committed_urls() == urls
    assert sorted(either.rows("SELECT alias, url FROM {aliases}")) == sorted((f"{u}?amp=1", u) for u in urls)
    # Only the failing URLs are left pending, each failure of both processes counted once.
    pending = dict(either.rows("SELECT url, attempts FROM {pending}"))  # type: ignore[arg-type]
    assert pending == {f"https://e.com/f/{i}": 2 * rounds for i in range(10)}


def test_a_run_lock_in_the_database_is_seen_by_every_host_and_goes_with_its_process(
    either: SeenBackend, tmp_path: Path
) -> None:
    from crawlers.locks import LiveRuns

    # Another host has a locks directory of its own with postgres: only the database is shared.
    here = either.state_dir.parent / "locks" if either.dsn is None else tmp_path / "host-b-locks"
    holder = _host(either, "hold-run", "r-live", str(either.state_dir.parent / "locks"))
    live = LiveRuns(here, dsn=either.dsn)
    try:
        assert _say(holder) is True
        assert live("r-live") and not live("r-other")
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.communicate(timeout=60)
    try:
        deadline = time.monotonic() + 10  # the server notices the closed connection
        while live("r-live") and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not live("r-live"), "the killed crawl's run stayed live"
    finally:
        live.close()


def test_a_crawl_killed_half_way_is_finished_by_a_crawl_on_another_host(
    postgres: services.Postgres, tmp_path: Path, data_dir: Path
) -> None:
    backend = SeenBackend(data_dir / "state", fresh_schema(postgres))
    crawler = Crawler(tmp_path, data_dir)
    crawler.env.update(backend.env())
    crawler.env["WARWATCH_CRAWL__CONCURRENT_REQUESTS_PER_DOMAIN"] = "4"
    n = 120
    site = build_news_site(n)
    for path in site.article_paths:
        site.routes[path].delay = 0.03
    with SiteServer(site.routes) as srv:
        sources = crawler.sources(sources_yaml(srv.base_url))
        proc = crawler.start("r1", sources)
        manifest1 = data_dir / "runs" / "r1" / "manifest.jsonl"
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and sum(1 for _ in iter_manifest(manifest1)) < 30:
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        first = [e["url"] for e in iter_manifest(manifest1)]
        assert 30 <= len(first) < n, "killed mid-crawl"
        # No seen-store file: the state is in the database. The other host has neither this
        # host's state directory nor its locks (flocks there would mean nothing to it).
        assert not list(data_dir.rglob("*.sqlite")), list(data_dir.rglob("*.sqlite"))
        shutil.rmtree(data_dir / "state", ignore_errors=True)
        shutil.rmtree(data_dir / "locks", ignore_errors=True)
        n_hits = len(srv.hits)
        result = crawler.run("r2", sources)
        second_hits = srv.paths()[n_hits:]
    assert result.returncode == 0, result.stderr[-2000:]
    second = [e["url"] for e in result.manifest]
    expected = {canonicalize_url(srv.url(p)) for p in site.article_paths}
    assert set(first) | set(second) == expected, "nothing lost"
    assert len(first) + len(second) == len(expected), "nothing stored twice"
    assert not {u.split(str(srv.port), 1)[1] for u in first} & set(second_hits), "nothing stored was fetched again"
    assert backend.committed_urls() == expected
    # left pending: only pages given up (the site's 404 and its robots-disallowed page), no article
    left = dict(backend.rows("SELECT url, permanent FROM {pending}"))  # type: ignore[arg-type]
    assert left and set(left.values()) == {1} and not set(left) & expected, left
    assert not list(data_dir.rglob("crawl.sqlite"))


def test_a_mark_that_loses_a_deadlock_commits_its_batch_and_is_written_again(seen: SeenBackend) -> None:
    """Two writers' open batches each hold the row the other marks next: Postgres aborts one mark
    (deadlock); it is written again after its batch is committed, nothing lost, no error."""
    import threading
    from datetime import UTC, datetime

    now = datetime(2026, 3, 1, tzinfo=UTC)
    a, b = seen.open(batch_size=100, batch_interval=3600), seen.open(batch_size=100, batch_interval=3600)
    a.mark_stored("https://e.com/1", "s", "fa", now, None, durable=False)
    b.mark_stored("https://e.com/2", "s", "fb", now, None, durable=False)
    errors: list[BaseException] = []
    done = {a: threading.Event(), b: threading.Event()}

    def mark(store: object, url: str) -> None:
        try:
            store.mark_stored(url, "s", "f", now, None, durable=False)  # type: ignore[attr-defined]
        except BaseException as exc:  # noqa: BLE001  (reported by the assertion below)
            errors.append(exc)
        done[store].set()  # type: ignore[index]

    threads = [threading.Thread(target=mark, args=(a, "https://e.com/2")),
               threading.Thread(target=mark, args=(b, "https://e.com/1"))]
    for t in threads:
        t.start()
    # The survivor's mark returns first (the victim committed its batch and waits again for the
    # survivor's row): commit the survivor's batch, as its next mark or its timer would.
    deadline = time.monotonic() + 60
    while not any(e.is_set() for e in done.values()) and time.monotonic() < deadline:
        time.sleep(0.05)
    survivors = [s for s, e in done.items() if e.is_set()]
    assert len(survivors) == 1, "one mark waits for the other's batch"
    survivors[0].flush()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    for store in (a, b):
        store.close()
    assert seen.committed_urls() == {"https://e.com/1", "https://e.com/2"}


def test_full_discovery_times_are_shared_by_hosts_on_postgres(
    postgres: services.Postgres, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import UTC, datetime, timedelta

    from indexing.settings import get_settings, reset_settings
    from warwatch.pipeline.discovery import full_discovery_due, record_full_discovery

    monkeypatch.setenv("WARWATCH_STATE__BACKEND", "postgres")
    monkeypatch.setenv("WARWATCH_STATE__DSN", fresh_schema(postgres))
    t0 = datetime(2026, 3, 1, tzinfo=UTC)

    def host(name: str) -> None:  # each host has a data directory of its own
        monkeypatch.setenv("WARWATCH_DATA_DIR", str(tmp_path / name))
        reset_settings()

    try:
        host("a")
        assert full_discovery_due("site-x", now=t0)
        record_full_discovery(["site-x", "site-y"], now=t0)
        record_full_discovery(["site-x"], now=t0)  # again: nothing duplicated
        assert not (get_settings().state_dir / "discovery.json").exists()
        host("b")
        assert not full_discovery_due("site-x", now=t0 + timedelta(hours=5))
        assert full_discovery_due("site-x", now=t0 + timedelta(hours=6))
        assert full_discovery_due("site-z", now=t0)
    finally:
        reset_settings()
