"""A "host" for tests/production/test_state_backends.py: one process doing one thing with the
shared state, configured by the environment (WARWATCH_DATA_DIR, WARWATCH_STATE__*), printing what
it got as one JSON line. ``hold-*`` actions print, then wait to be killed (bounded: 120 s).

    python -m tests.production.state_worker claim OWNER
    python -m tests.production.state_worker hold-lease OWNER BATCH
    python -m tests.production.state_worker hold-sources SOURCE...
    python -m tests.production.state_worker alerts OWNER N [reverse] DELIVERIES_FILE
    python -m tests.production.state_worker seen-marks N forward|swapped ROUNDS   (waits for "go" on stdin)
    python -m tests.production.state_worker hold-run RUN_ID LOCKS_DIR
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from pathlib import Path

from indexing.settings import get_settings


def _say(data: object) -> None:
    print(json.dumps(data), flush=True)  # noqa: T201


def _wait_to_be_killed() -> None:
    time.sleep(120)


def claim(owner: str) -> None:
    from warwatch.pipeline import batches

    _say(sorted(lease.batch_id for lease in batches.claim(owner, bind_pid=False)))


def hold_lease(owner: str, batch_id: str) -> None:
    from warwatch.pipeline import batches

    lease = batches.acquire(batch_id, owner, stage="clean")  # process-bound, like a CLI run
    _say(lease is not None)
    _wait_to_be_killed()


def hold_sources(*sources: str) -> None:
    from crawlers.locks import CrawlLocks

    settings = get_settings()
    locks = CrawlLocks(settings.data_dir / "locks", dsn=settings.state.postgres_dsn)
    _say(locks.hold_sources(sources))
    _wait_to_be_killed()


def alerts(owner: str, n: str, order: str, deliveries: str) -> None:
    """Decide about N stories (each with its own document) and deliver what is queued: one line
    per delivery appended to ``deliveries``."""
    from indexing.alerts.pgstate import open_alert_state
    from indexing.alerts.state import STATE_FILE

    settings = get_settings()
    keys = [f"story-{i}" for i in range(int(n))]
    if order == "reverse":
        keys.reverse()
    new = 0
    delivered = 0
    with open_alert_state(settings.state_dir / STATE_FILE, settings.state.postgres_dsn) as state:
        for key in keys:
            new += state.claim("watch-1", key, [f"doc-{key}"], uuid.uuid4().hex, "run-1", ["file"],
                               {"story": key, "by": owner})
        for item in state.take_pending(["watch-1"]):
            if not state.renew(item, 60):
                continue
            fd = os.open(deliveries, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, (json.dumps({"story": item.payload["story"], "by": owner}) + "\n").encode())
            finally:
                os.close(fd)
            state.delivered(item.alert_id, item.channel, 1)
            delivered += 1
    _say({"new": new, "delivered": delivered})


def seen_marks(n: str, order: str, rounds: str) -> None:
    """Mark N article URLs seen (with an alias each; batches of 7, so they overlap another
    process's) and count a transient failure of each of 10 failing URLs ROUNDS times, spread over
    the marks. Says "ready", starts on a "go" line (both processes at once)."""
    from datetime import UTC, datetime

    from crawlers.state import open_seen_store

    settings = get_settings()
    store = open_seen_store(settings.state_dir, settings.state, batch_size=7, batch_interval=3600)
    urls = [f"https://e.com/a/{i}" for i in range(int(n))]
    failing = [f"https://e.com/f/{i}" for i in range(10)]
    store.add_pending([(u, "s", "feed", None) for u in urls + failing])
    if order == "swapped":  # each pair the other way round: two batches in step want each other's rows
        urls = [u for pair in zip(urls[1::2], urls[::2], strict=True) for u in pair]
        failing.reverse()
    _say("ready")
    sys.stdin.readline()
    now = datetime(2026, 3, 1, tzinfo=UTC)
    every = max(1, len(urls) // int(rounds))
    counted = 0
    for i, url in enumerate(urls):
        store.mark_stored(url, "s", f"fp-{url}", now, None, aliases=[f"{url}?amp=1"], durable=False)
        if i % every == 0 and counted < int(rounds):
            counted += 1
            for url_failing in failing:
                store.pending_failed(url_failing, now=now)
    store.close()
    _say({"marked": len(urls), "rounds": counted})


def hold_run(run_id: str, locks_dir: str) -> None:
    from crawlers.locks import CrawlLocks

    settings = get_settings()
    locks = CrawlLocks(Path(locks_dir), dsn=settings.state.postgres_dsn)
    _say(locks.hold_run(run_id))
    _wait_to_be_killed()


ACTIONS = {"claim": claim, "hold-lease": hold_lease, "hold-sources": hold_sources, "alerts": alerts,
           "seen-marks": seen_marks, "hold-run": hold_run}

if __name__ == "__main__":
    Path(get_settings().data_dir).mkdir(parents=True, exist_ok=True)
    ACTIONS[sys.argv[1]](*sys.argv[2:])
