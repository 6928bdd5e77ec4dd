"""The revisit schedule (pure) and its seen-store columns: next revisit after publication (or
first fetch), growing intervals, a late find scheduled from its first fetch, the schedule
surviving a restart and a changed setting, an old store migrated in place, the order and the
budget of due revisits, takedown suspicions."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from crawlers.policies import next_revisit
from crawlers.revisits import revisit_budget
from crawlers.state import BaseSeenStore, Capture, SeenStore
from tests.crawlers.seenbackend import SeenBackend

T0 = datetime(2024, 5, 3, 12, tzinfo=UTC)
H = timedelta(hours=1)
PLAN = [1 * H, 3 * H, 12 * H, 24 * H]


def test_next_revisit_follows_publication_then_thins_out() -> None:
    first = T0 + 10 * timedelta(minutes=1)  # fetched 10 minutes after publication
    assert next_revisit(T0, first, first, PLAN) == T0 + H
    assert next_revisit(T0, first, T0 + H + timedelta(seconds=5), PLAN) == T0 + 3 * H
    # a run that was late skips the points it missed (one check, not a burst)
    assert next_revisit(T0, first, T0 + 13 * H, PLAN) == T0 + 24 * H
    assert next_revisit(T0, first, T0 + 25 * H, PLAN) is None  # the schedule is over
    assert next_revisit(T0, first, first, []) is None


def test_undated_future_dated_and_late_found_articles_count_from_first_fetch() -> None:
    assert next_revisit(None, T0, T0, PLAN) == T0 + H
    assert next_revisit(T0 + 48 * H, T0, T0, PLAN) == T0 + H  # a date in the future is no birth
    # published two days before its first fetch: the whole plan had passed -> from the first fetch
    late = T0 + 48 * H
    assert next_revisit(T0, late, late, PLAN) == late + H
    # a plan in seconds against an article dated yesterday (how a check sets it)
    secs = [timedelta(seconds=10), timedelta(seconds=30)]
    assert next_revisit(T0 - 24 * H, T0, T0, secs) == T0 + timedelta(seconds=10)
    assert next_revisit(T0 - 24 * H, T0, T0 + timedelta(seconds=11), secs) == T0 + timedelta(seconds=30)


def test_budget_share() -> None:
    assert revisit_budget(0.3, 10) == 3
    assert revisit_budget(0.3, 11) == 4  # ceil
    assert revisit_budget(0.0, 10) == 0
    assert revisit_budget(0.3, None) is None


def _store(where: Path | SeenBackend, plan: list[timedelta] = PLAN) -> BaseSeenStore:
    """A store with the test's plan: a SQLite file (``where`` a path) or the test's backend."""
    store = SeenStore(where) if isinstance(where, Path) else where.open()
    store.schedule = lambda source: plan if source == "s" else []
    return store


def test_due_revisits_order_budget_restart_and_suspicion(seen: SeenBackend) -> None:
    store = _store(seen)
    for i in range(5):  # published i hours before T0, all fetched at T0
        store.mark_stored(f"https://e.com/{i}", "s", f"fp{i}", T0, T0 - i * H,
                          capture=Capture('"e"', None, "warc/a.warc.gz", 100 * i))
    store.mark_stored("https://o.com/x", "other", "fpx", T0, None)
    due, count = store.due_revisits("s", T0 + 30 * timedelta(minutes=1), None)
    assert count == 0 and due == []
    store.close()
    store = _store(seen)  # a restart: the schedule is in the store
    now = T0 + 2 * H
    due, count = store.due_revisits("s", now, 2)
    # next points: 0 -> T0+1h, 1 -> T0+2h (born T0-1h, +3h), 2 -> T0+1h, 3 -> T0+9h, 4 -> T0+8h
    assert count == 3 and len(due) == 2  # the budget takes the two most overdue
    assert [(d.url, d.next_revisit) for d in due] == [("https://e.com/0", T0 + H), ("https://e.com/2", T0 + H)]
    assert due[0].etag == '"e"' and due[0].capture_file == "warc/a.warc.gz"
    assert store.due_revisits("other", now, None) == ([], 0)  # no plan for that source
    # a takedown suspicion goes first, remembers when it was first seen, and ends with a revisit
    first_seen = store.suspect("https://e.com/0", "removed", now)
    assert store.suspect("https://e.com/0", "removed", now + H) == first_seen
    due, _ = store.due_revisits("s", now + H, 1)
    assert due[0].url == "https://e.com/0" and due[0].suspect == "removed"
    store.revisited("https://e.com/0", now + H, takedown="removed")
    again = [d for d in store.due_revisits("s", now + 100 * H, None)[0] if d.url == "https://e.com/0"]
    # next point after the check at T0+3h: T0+12h; the takedown is remembered, the suspicion over
    assert [(d.next_revisit, d.suspect, d.takedown, d.revisits) for d in again] == [(T0 + 12 * H, None, "removed", 1)]
    store.close()


def test_revisited_moves_the_schedule_on_and_counts(seen: SeenBackend) -> None:
    store = _store(seen)
    store.mark_stored("https://e.com/a", "s", "fp", T0, T0)
    due, _ = store.due_revisits("s", T0 + H, None)
    assert [d.revisits for d in due] == [0]
    store.revisited("https://e.com/a", T0 + H)
    assert store.due_revisits("s", T0 + 2 * H, None) == ([], 0)
    due, _ = store.due_revisits("s", T0 + 3 * H, None)
    assert [(d.revisits, d.next_revisit) for d in due] == [(1, T0 + 3 * H)]
    # a changed setting recomputes the stored schedule
    store.schedule = lambda source: [timedelta(minutes=90), 2 * H]
    due, _ = store.due_revisits("s", T0 + 2 * H, None)
    assert [d.next_revisit for d in due] == [T0 + timedelta(minutes=90)]  # first point after T0+1h
    store.close()


def test_old_store_is_migrated_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE articles (url TEXT PRIMARY KEY, source TEXT NOT NULL, fingerprint TEXT NOT NULL, "
        "published REAL, first_fetched REAL NOT NULL, last_fetched REAL NOT NULL, final_url TEXT, "
        "discovered_via TEXT);"
    )
    db.execute("INSERT INTO articles VALUES ('https://e.com/old', 's', 'fp', ?, ?, ?, NULL, 'feed')",
               (T0.timestamp(), T0.timestamp(), T0.timestamp()))
    db.commit()
    db.close()
    store = _store(path)
    columns = {r[1] for r in store._db.execute("PRAGMA table_info(articles)")}
    assert {"next_revisit", "revisits", "etag", "suspect", "takedown", "capture_file"} <= columns
    due, count = store.due_revisits("s", T0 + H, None)  # computed for the old row on first use
    assert count == 1 and due[0].url == "https://e.com/old" and due[0].revisits == 0
    store.close()
    _store(path).close()  # opening a migrated store again changes nothing
