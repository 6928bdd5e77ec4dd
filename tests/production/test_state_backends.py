"""Shared state on both backends (issue #18 §2): the same behaviour with ``state.backend: file``
(flock, SQLite, one machine) and ``state.backend: postgres`` (several hosts). "Hosts" are
processes with different owners (tests/production/state_worker.py); Postgres is a real server
started here on 127.0.0.1 (its own port: the Airflow topology's is left alone)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from indexing.settings import reset_settings
from tests.production.conftest import fresh_schema

REPO_ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["file", "postgres"])
def state_env(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """The environment of every "host" of one test: one data directory, one backend."""
    env = {"WARWATCH_DATA_DIR": str(tmp_path / "data"), "WARWATCH_STATE__BACKEND": request.param}
    monkeypatch.delenv("WARWATCH_STATE__DSN", raising=False)
    if request.param == "postgres":
        env["WARWATCH_STATE__DSN"] = fresh_schema(request.getfixturevalue("postgres"))
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    reset_settings()
    yield {**os.environ, **env}
    from warwatch.pipeline import batches

    for registry in batches._REGISTRIES.values():
        registry.close()
    batches._REGISTRIES.clear()
    reset_settings()


def _worker(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "tests.production.state_worker", *args], cwd=REPO_ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _result(proc: subprocess.Popen[str]) -> object:
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


def _first_line(proc: subprocess.Popen[str]) -> object:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line, f"the worker said nothing: {proc.communicate(timeout=30)[1][-3000:]}"
    return json.loads(line)


def _kill(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)


def _make_batches(n: int) -> list[str]:
    from indexing.settings import get_settings

    ids = [f"20260301T12{i:04d}Z-b" for i in range(n)]
    for batch_id in ids:
        (get_settings().runs_dir / batch_id).mkdir(parents=True)
        (get_settings().runs_dir / batch_id / "manifest.jsonl").write_text("")
    return ids


def _eventually(check: Callable[[], bool], attempts: int = 100) -> bool:
    """``check()`` true within ``attempts`` tries 0.1 s apart (a server noticing a dead connection)."""
    for _ in range(attempts):
        if check():
            return True
        time.sleep(0.1)
    return False


# --------------------------------------------------------------------------- the batch registry
def test_hosts_claiming_at_once_never_get_the_same_batch(state_env: dict[str, str]) -> None:
    ids = _make_batches(30)
    hosts = [_worker(state_env, "claim", f"host-{i}") for i in range(3)]
    got = [set(_result(p)) for p in hosts]  # type: ignore[arg-type]
    counts = Counter(b for claimed in got for b in claimed)
    assert sorted(counts) == ids, "every batch claimed by somebody"
    assert set(counts.values()) == {1}, f"claimed twice: {[b for b, n in counts.items() if n > 1]}"
    # Every batch is leased (Airflow-style, until it expires): a fourth host gets nothing.
    assert _result(_worker(state_env, "claim", "host-late")) == []


def test_an_expired_lease_is_taken_over_and_the_first_owner_loses_it(state_env: dict[str, str]) -> None:
    from warwatch.pipeline import batches

    (batch_id,) = _make_batches(1)
    first = batches.acquire(batch_id, "host-a", stage="clean", ttl=60, bind_pid=False, now=lambda: T0)
    assert first is not None
    first.close()  # the task ends; its lease lives on until it expires
    assert batches.read_lease(batch_id)["owner"] == "host-a"
    later = T0 + timedelta(seconds=30)
    assert batches.acquire(batch_id, "host-b", stage="clean", bind_pid=False, now=lambda: later) is None
    assert batches.claim("host-b", bind_pid=False, now=lambda: later) == []
    expired = T0 + timedelta(seconds=61)
    taken = batches.claim("host-b", bind_pid=False, now=lambda: expired)
    assert [lease.batch_id for lease in taken] == [batch_id]
    assert batches.read_lease(batch_id)["owner"] == "host-b"
    with pytest.raises(batches.LeaseLost):
        batches.renew(first, "enrich", bind_pid=False, now=lambda: expired)
    batches.mark_processed(batch_id, {"owner": "host-b"}, now=lambda: expired)
    batches.release(taken[0])
    # Processed: nobody claims it again, however often (and whatever time it is).
    for _ in range(2):
        assert batches.unprocessed() == []
        assert batches.claim("host-c", bind_pid=False, now=lambda: expired + timedelta(days=1)) == []
    assert batches.is_processed(batch_id)


def test_a_killed_process_leaves_its_batch_free_at_once(state_env: dict[str, str]) -> None:
    from warwatch.pipeline import batches

    (batch_id,) = _make_batches(1)
    holder = _worker(state_env, "hold-lease", "host-a", batch_id)
    try:
        assert _first_line(holder) is True
        assert batches.acquire(batch_id, "host-b", stage="clean") is None, "a live process's batch"
    finally:
        _kill(holder)
    leases: list[batches.Lease] = []

    def take() -> bool:
        lease = batches.acquire(batch_id, "host-b", stage="clean")
        if lease is not None:
            leases.append(lease)
        return lease is not None

    assert _eventually(take), "the dead process's batch stayed locked"
    assert batches.read_lease(batch_id)["owner"] == "host-b"
    batches.release(leases[0])
    assert batches.read_lease(batch_id) == {}


def test_pending_alerts_wait_out_their_backoff_on_both_backends(state_env: dict[str, str]) -> None:
    from warwatch.pipeline import batches

    (batch_id,) = _make_batches(1)
    batches.begin_alerts(batch_id, now=lambda: T0)
    batches.begin_alerts(batch_id, now=lambda: T0 + timedelta(hours=1))  # idempotent: since stays
    assert batches.alerts_pending(batch_id)["since"] == T0.isoformat()
    record = batches.end_alerts(batch_id, False, ["engine down"], now=lambda: T0)
    assert record["attempts"] == 1 and batches.alerts_pending(batch_id)["why"] == ["engine down"]
    assert not batches.alerts_due(batch_id, now=lambda: T0)
    assert batches.claim("host-a", bind_pid=False, now=lambda: T0) == []
    due = datetime.fromisoformat(record["next_try"])
    (lease,) = batches.claim("host-a", bind_pid=False, now=lambda: due)
    assert batches.read_lease(batch_id)["stage"] == "index:done", "only its alerts are left"
    assert batches.end_alerts(batch_id, True, [], now=lambda: due) == {}
    assert batches.alerts_pending(batch_id) == {}
    batches.release(lease)


# --------------------------------------------------------------------------- crawl source locks
def test_a_killed_crawler_loses_its_source_locks(state_env: dict[str, str], tmp_path: Path) -> None:
    from crawlers.locks import CrawlLocks
    from indexing.settings import get_settings

    settings = get_settings()
    # Another host has a locks directory of its own: only the database is shared (a flock would
    # not be seen there). On one machine (file) it is the same directory.
    locks_dir = settings.data_dir / "locks" if settings.state.postgres_dsn is None else tmp_path / "host-b-locks"
    holder = _worker(state_env, "hold-sources", "site-x", "site-y")
    try:
        assert _first_line(holder) == [["site-x", "site-y"], []]
        mine = CrawlLocks(locks_dir, dsn=settings.state.postgres_dsn)
        assert mine.hold_sources(["site-x", "site-z"]) == (["site-z"], ["site-x"])
        mine.release()
    finally:
        _kill(holder)
    after = CrawlLocks(locks_dir, dsn=settings.state.postgres_dsn)
    try:
        assert _eventually(lambda: after.hold_sources(["site-x", "site-y"]) == (["site-x", "site-y"], []))
    finally:
        after.release()
    again = CrawlLocks(locks_dir, dsn=settings.state.postgres_dsn)
    assert again.hold_sources(["site-x"]) == (["site-x"], []), "release() gave the locks back"
    again.release()


# --------------------------------------------------------------------------- the alert outbox
def test_two_hosts_deciding_and_delivering_at_once_alert_each_story_once(state_env: dict[str, str],
                                                                          tmp_path: Path) -> None:
    n = 40
    deliveries = tmp_path / "deliveries.jsonl"
    hosts = [_worker(state_env, "alerts", "host-a", str(n), "forward", str(deliveries)),
             _worker(state_env, "alerts", "host-b", str(n), "reverse", str(deliveries))]
    results = [_result(p) for p in hosts]
    assert sum(r["new"] for r in results) == n, results  # type: ignore[index]
    lines = [json.loads(line) for line in deliveries.read_text().splitlines()]
    per_story = Counter(line["story"] for line in lines)
    assert sorted(per_story) == sorted(f"story-{i}" for i in range(n))
    assert set(per_story.values()) == {1}, f"delivered twice: {[s for s, c in per_story.items() if c > 1]}"
    # A rerun (a retried task) decides nothing new and delivers nothing again.
    assert _result(_worker(state_env, "alerts", "host-c", str(n), "forward", str(deliveries))) == \
        {"new": 0, "delivered": 0}
    assert len(deliveries.read_text().splitlines()) == n


def test_a_story_seen_under_a_new_key_does_not_alert_again_and_leases_expire(state_env: dict[str, str]) -> None:
    from indexing.alerts.pgstate import open_alert_state
    from indexing.alerts.state import STATE_FILE
    from indexing.settings import get_settings

    settings = get_settings()
    now = [T0]
    with open_alert_state(settings.state_dir / STATE_FILE, settings.state.postgres_dsn, clock=lambda: now[0]) as st:
        assert st.claim("w", "story-1", ["doc-1"], "alert-1", "r1", ["file", "webhook"], {"n": 1})
        assert not st.claim("w", "story-2", ["doc-1", "doc-2"], "alert-2", "r1", ["file"], {"n": 2})
        assert not st.claim("w", "story-2", ["doc-3"], "alert-3", "r2", ["file"], {"n": 3}), "story-2 is known now"
        assert st.queued_count("w") == 1
        taken = st.take_pending(["w"], lease_seconds=60)
        assert [(p.alert_id, p.channel, p.payload) for p in taken] == [("alert-1", "file", {"n": 1}),
                                                                        ("alert-1", "webhook", {"n": 1})]
        assert st.take_pending(["w"]) == [], "leased to the first evaluation"
        now[0] = T0 + timedelta(seconds=61)  # that evaluation died: its leases run out
        again = st.take_pending(["w"], lease_seconds=60)
        assert len(again) == 2
        assert not st.renew(taken[0], 60), "the first lease was taken over"
        assert st.renew(again[0], 60)
        st.delivered("alert-1", "file", 1)
        st.failed("alert-1", "webhook", 3, "HTTP 500")
        assert not st.fully_delivered("alert-1")
        st.cancel("alert-1", "webhook", "channel removed")
        assert st.fully_delivered("alert-1") and st.queued_count("w") == 0
        assert st.take_pending() == []
    # The health alerts' outbox (health.sqlite) is a store of its own on both backends: a topic
    # evaluation taking "every watch's" deliveries never sees (and cancels) a health alert.
    with open_alert_state(settings.state_dir / "health.sqlite", settings.state.postgres_dsn) as health:
        assert health.claim("health", "rule-1", [], "alert-h", None, ["file"], {"rule": 1})
    with open_alert_state(settings.state_dir / STATE_FILE, settings.state.postgres_dsn) as st:
        assert st.take_pending() == []
    with open_alert_state(settings.state_dir / "health.sqlite", settings.state.postgres_dsn) as health:
        assert [p.alert_id for p in health.take_pending()] == ["alert-h"]


def test_an_unreachable_state_database_is_a_clear_error_without_the_password() -> None:
    from crawlers.locks import CrawlLocks
    from indexing.pgconn import StateUnavailable

    dsn = "postgresql://warwatch:s3cret-pw@127.0.0.1:1/warwatch"
    locks = CrawlLocks(Path(tempfile.mkdtemp(prefix="ww-locks-")), dsn=dsn, connect_timeout=2)
    with pytest.raises(StateUnavailable) as caught:
        locks.hold_sources(["site-x"])
    assert "unreachable" in str(caught.value) and "s3cret-pw" not in str(caught.value)
    assert "127.0.0.1:1" in str(caught.value)
