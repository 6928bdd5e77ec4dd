"""The crawler's persistent state (SQLite in WAL mode under ``get_settings().state_dir``).

Tables:
- ``articles``: one row per stored article (canonical URL): fingerprint, publication, fetch times.
- ``aliases``: every URL known to lead to a stored article (request URL, final URL, rel=canonical).
- ``pending``: discovered article URLs not stored yet, so a crawl killed half-way resumes them
  even when the feed answers 304 the next time. A failed fetch is recorded there: a permanent
  failure (404, 410, not HTML) gives the URL up at once; a transient one (5xx, 429, timeout)
  sets ``next_try`` after a backoff that doubles per attempt (:class:`RetryPolicy`), and only
  ``RetryPolicy.max_attempts`` transient failures give it up (days, not three bad hours).
- ``validators``: ETag / Last-Modified per feed or sitemap URL (conditional GET).
- ``runs``: which runs finished; manifests of unfinished runs are reconciled at start-up.

Revisits (issue #19): each ``articles`` row also keeps its revisit schedule (``revisits`` done,
``next_revisit``, the ``schedule`` it was computed with: a changed ``changes.revisit_after``
recomputes it), the article response's own validators (``etag``, ``last_modified``) for the
conditional GET, its last full capture (``capture_file``/``capture_offset``/``capture_at``: the
stored version a revisit is compared with), a takedown a first check saw (``suspect``,
``suspect_since``: confirmed by a second check, in this run or the next) and the takedown
reported already (``takedown``: not reported twice). Stores created before gain the columns
in place (``ALTER TABLE``).

An article is marked seen only after its WARC record and manifest line are flushed. Those
marks may be committed in batches (``mark_stored(..., durable=False)``: every ``batch_size``
articles or ``batch_interval`` seconds, whichever comes first) because the manifest is the
source of truth: a kill -9 loses at most the uncommitted marks, and the next start replays
the manifests of unfinished runs into this store (``NewsSpider.reconcile_unfinished_runs``).
Every other write (pending URLs, failures, aliases, validators, runs) commits at once, after
committing any open batch, so the order of durable effects is the order of the calls.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from crawlers.policies import (
    DueRevisit,
    KnownArticle,
    PendingArticle,
    RetryPolicy,
    default_min_recheck,
    next_revisit,
)

logger = logging.getLogger(__name__)

#: Defaults for batched seen-marks (see the module docstring).
BATCH_SIZE = 256
BATCH_INTERVAL = 0.1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS articles (
    url TEXT PRIMARY KEY, source TEXT NOT NULL, fingerprint TEXT NOT NULL,
    published REAL, first_fetched REAL NOT NULL, last_fetched REAL NOT NULL, final_url TEXT,
    discovered_via TEXT
);
CREATE INDEX IF NOT EXISTS articles_source ON articles(source, last_fetched);
CREATE TABLE IF NOT EXISTS aliases (alias TEXT PRIMARY KEY, url TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS pending (
    url TEXT PRIMARY KEY, source TEXT NOT NULL, discovered_via TEXT NOT NULL,
    published REAL, discovered_at REAL NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
    next_try REAL, permanent INTEGER NOT NULL DEFAULT 0, ordered REAL
);
CREATE INDEX IF NOT EXISTS pending_source ON pending(source);
CREATE TABLE IF NOT EXISTS validators (url TEXT PRIMARY KEY, etag TEXT, last_modified TEXT, updated REAL);
CREATE TABLE IF NOT EXISTS runs (run_id TEXT PRIMARY KEY, started REAL, finished REAL);
"""


def _ts(dt: datetime | None) -> float | None:
    return dt.timestamp() if dt is not None else None


def _dt(ts: float | None) -> datetime | None:
    return datetime.fromtimestamp(ts, UTC) if ts is not None else None


_COLS = "a.url, a.source, a.fingerprint, a.published, a.first_fetched, a.last_fetched, a.discovered_via"


def _known(row: tuple) -> KnownArticle:
    now = datetime.now(UTC)
    return KnownArticle(
        row[0], row[1], row[2], _dt(row[3]), _dt(row[4]) or now, _dt(row[5]) or now, row[6] or "feed"
    )


#: Columns added to ``pending`` after its first release (stores created earlier gain them).
_PENDING_MIGRATIONS = {
    "next_try": "ALTER TABLE pending ADD COLUMN next_try REAL",
    "permanent": "ALTER TABLE pending ADD COLUMN permanent INTEGER NOT NULL DEFAULT 0",
    "ordered": "ALTER TABLE pending ADD COLUMN ordered REAL",
}

#: Columns added to ``articles`` for revisits (issue #19).
_ARTICLE_MIGRATIONS = {
    "etag": "ALTER TABLE articles ADD COLUMN etag TEXT",
    "last_modified": "ALTER TABLE articles ADD COLUMN last_modified TEXT",
    "revisits": "ALTER TABLE articles ADD COLUMN revisits INTEGER NOT NULL DEFAULT 0",
    "next_revisit": "ALTER TABLE articles ADD COLUMN next_revisit REAL",
    "schedule": "ALTER TABLE articles ADD COLUMN schedule TEXT",
    "suspect": "ALTER TABLE articles ADD COLUMN suspect TEXT",
    "suspect_since": "ALTER TABLE articles ADD COLUMN suspect_since REAL",
    "takedown": "ALTER TABLE articles ADD COLUMN takedown TEXT",
    "capture_file": "ALTER TABLE articles ADD COLUMN capture_file TEXT",
    "capture_offset": "ALTER TABLE articles ADD COLUMN capture_offset INTEGER",
    "capture_at": "ALTER TABLE articles ADD COLUMN capture_at REAL",
}

_DUE_COLS = (
    "url, source, fingerprint, published, next_revisit, revisits, etag, last_modified, suspect, "
    "suspect_since, takedown, capture_file, capture_offset, capture_at, final_url, first_fetched"
)


@dataclass(frozen=True)
class Capture:
    """An article response's validators and where its full capture is (``mark_stored``)."""

    etag: str | None = None
    last_modified: str | None = None
    warc_file: str | None = None
    warc_offset: int | None = None


def schedule_key(intervals: Sequence[timedelta]) -> str:
    """How a schedule is remembered next to the times computed with it."""
    return ",".join(f"{d.total_seconds():g}" for d in sorted(intervals))


def _due(row: tuple) -> DueRevisit:
    return DueRevisit(
        row[0], row[1], row[2], _dt(row[3]), _dt(row[4]) or datetime.now(UTC), int(row[5] or 0),
        row[6], row[7], row[8], _dt(row[9]), row[10], row[11], row[12], _dt(row[13]), row[14],
        _dt(row[15]),
    )


#: (url, source, discovered_via, published[, order date]): the order date (a sitemap's lastmod)
#: only sets the fetch order of a URL left for a later run.
PendingRow = tuple[str, str, str, datetime | None] | tuple[str, str, str, datetime | None, datetime | None]


class SeenStore:
    def __init__(
        self,
        path: Path,
        batch_size: int = BATCH_SIZE,
        batch_interval: float = BATCH_INTERVAL,
        retry: RetryPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if batch_size < 1 or batch_interval < 0:
            raise ValueError(
                f"batch_size must be >= 1 and batch_interval >= 0, got {batch_size}, {batch_interval}"
            )
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.batch_size = batch_size
        self.batch_interval = batch_interval
        self._clock = clock  # seconds, for the batch age (tests inject one instead of sleeping)
        self.retry = retry or RetryPolicy()
        self._db = sqlite3.connect(str(self.path), isolation_level=None, timeout=30.0)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(pending)")}
        for column, ddl in _PENDING_MIGRATIONS.items():
            if column not in columns:
                self._db.execute(ddl)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(articles)")}
        for column, ddl in _ARTICLE_MIGRATIONS.items():
            if column not in columns:
                self._db.execute(ddl)
        self._db.execute("CREATE INDEX IF NOT EXISTS articles_revisit ON articles(source, next_revisit)")
        #: a source's revisit intervals (``changes.revisit_after`` or the source's own); none:
        #: no revisits
        self.schedule: Callable[[str], Sequence[timedelta]] = lambda source: ()
        self._batched = 0  # uncommitted marks in the open batch transaction (0: none open)
        self._batch_started = 0.0
        #: called before a seen-mark is committed: the archive fsyncs the captures (issue 9)
        self.before_commit: Callable[[], None] | None = None
        self._closed = False

    def close(self) -> None:
        if self._closed:
            return
        self.flush()
        self._closed = True
        self._db.close()

    def flush(self) -> None:
        """Commit the open batch of seen-marks, if any."""
        if self._batched and not self._closed:
            if self.before_commit is not None:
                self.before_commit()
            try:
                self._db.execute("COMMIT")
            except sqlite3.Error:
                if not self._db.in_transaction:
                    # SQLite rolled the batch back (I/O error, disk full): those marks are
                    # lost here but not in the manifest, which the next start replays.
                    self._batched = 0
                raise
            self._batched = 0

    def flush_if_due(self) -> None:
        """Commit the open batch when it is ``batch_interval`` seconds old (call periodically)."""
        if self._batched and self._clock() - self._batch_started >= self.batch_interval:
            self.flush()

    @property
    def uncommitted(self) -> int:
        """Seen-marks written but not committed yet."""
        return self._batched

    # --- articles ------------------------------------------------------------------------
    def lookup(self, url: str) -> KnownArticle | None:
        """The stored article ``url`` (canonical) or one of its aliases leads to."""
        row = self._db.execute(
            f"SELECT {_COLS} FROM articles a WHERE a.url = ? UNION ALL "
            f"SELECT {_COLS} "
            "FROM aliases x JOIN articles a ON a.url = x.url WHERE x.alias = ? LIMIT 1",
            (url, url),
        ).fetchone()
        return _known(row) if row is not None else None

    def mark_stored(
        self,
        url: str,
        source: str,
        fingerprint: str,
        fetched_at: datetime,
        published: datetime | None,
        aliases: Iterable[str] = (),
        final_url: str | None = None,
        discovered_via: str | None = None,
        durable: bool = True,
        capture: Capture | None = None,
    ) -> None:
        """Record a stored article (article, aliases, pending removal: all or nothing).

        ``durable=False`` only when the article's manifest line is flushed already: the mark
        joins a batch committed after ``batch_size`` marks or ``batch_interval`` seconds (or
        by ``flush()``, ``close()`` or any other write); a kill -9 before that loses only
        what the manifest replay restores."""
        if durable:
            if self.before_commit is not None:
                self.before_commit()
            with self._tx():
                self._write_stored(
                    url, source, fingerprint, fetched_at, published, aliases, final_url, discovered_via
                )
                self._write_capture(url, source, fetched_at, capture)
            return
        if not self._batched:
            self._db.execute("BEGIN IMMEDIATE")
            self._batch_started = self._clock()
        try:
            self._db.execute("SAVEPOINT mark")
            self._write_stored(
                url, source, fingerprint, fetched_at, published, aliases, final_url, discovered_via
            )
            self._write_capture(url, source, fetched_at, capture)
            self._db.execute("RELEASE mark")
        except sqlite3.Error:
            # Undo this mark only; the batch (and its earlier marks) stays intact.
            self._db.execute("ROLLBACK TO mark")
            self._db.execute("RELEASE mark")
            if not self._batched:
                self._db.execute("COMMIT")
            raise
        self._batched += 1
        if self._batched >= self.batch_size or self._clock() - self._batch_started >= self.batch_interval:
            self.flush()

    def _write_stored(
        self,
        url: str,
        source: str,
        fingerprint: str,
        fetched_at: datetime,
        published: datetime | None,
        aliases: Iterable[str],
        final_url: str | None,
        discovered_via: str | None,
    ) -> None:
        ts = fetched_at.timestamp()
        alias_set = {a for a in aliases if a and a != url}
        self._db.execute(
            "INSERT INTO articles (url, source, fingerprint, published, first_fetched, last_fetched, final_url, "
            "discovered_via) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(url) DO UPDATE SET "
            "fingerprint = excluded.fingerprint, last_fetched = excluded.last_fetched, "
            "final_url = excluded.final_url, published = COALESCE(articles.published, excluded.published)",
            (url, source, fingerprint, _ts(published), ts, ts, final_url, discovered_via),
        )
        self._db.executemany(
            "INSERT OR REPLACE INTO aliases (alias, url) VALUES (?, ?)", [(a, url) for a in alias_set]
        )
        self._db.executemany("DELETE FROM pending WHERE url = ?", [(u,) for u in {url, *alias_set}])

    def _write_capture(self, url: str, source: str, fetched_at: datetime, capture: Capture | None) -> None:
        """A full capture: its validators and place, the takedown (if any) over, rescheduled."""
        if capture is not None:
            self._db.execute(
                "UPDATE articles SET etag = ?, last_modified = ?, capture_file = ?, capture_offset = ?, "
                "capture_at = ?, suspect = NULL, suspect_since = NULL, takedown = NULL WHERE url = ?",
                (capture.etag, capture.last_modified, capture.warc_file, capture.warc_offset,
                 fetched_at.timestamp(), url),
            )
        self._reschedule(url, source)

    def _reschedule(self, url: str, source: str) -> None:
        intervals = list(self.schedule(source))
        row = self._db.execute(
            "SELECT published, first_fetched, last_fetched FROM articles WHERE url = ?", (url,)
        ).fetchone()
        if row is None:
            return
        first = _dt(row[1]) or datetime.now(UTC)
        when = next_revisit(_dt(row[0]), first, _dt(row[2]) or first, intervals)
        self._db.execute(
            "UPDATE articles SET next_revisit = ?, schedule = ? WHERE url = ?",
            (_ts(when), schedule_key(intervals), url),
        )

    # --- revisits ----------------------------------------------------------------------------
    def due_revisits(self, source: str, now: datetime, limit: int | None) -> tuple[list[DueRevisit], int]:
        """(the stored articles of ``source`` due for a revisit, takedown suspicions first, then
        most overdue first, at most ``limit``; how many are due in all). Schedules computed with
        other intervals than today's are recomputed first."""
        key = schedule_key(list(self.schedule(source)))
        stale = [r[0] for r in self._db.execute(
            "SELECT url FROM articles WHERE source = ? AND (schedule IS NULL OR schedule != ?)", (source, key)
        )]
        if stale:
            with self._tx():
                for url in stale:
                    self._reschedule(url, source)
        where = "FROM articles WHERE source = ? AND next_revisit IS NOT NULL AND next_revisit <= ?"
        args = (source, now.timestamp())
        due = int(self._db.execute(f"SELECT COUNT(*) {where}", args).fetchone()[0])
        rows = self._db.execute(
            f"SELECT {_DUE_COLS} {where} ORDER BY suspect IS NULL, next_revisit, url LIMIT ?",
            (*args, -1 if limit is None else limit),
        ).fetchall()
        return [_due(r) for r in rows], due

    def revisited(self, url: str, checked_at: datetime, takedown: str | None = None) -> None:
        """A revisit of ``url`` was answered and handled (not modified, changed, or a takedown
        reported now): one more revisit done, the suspicion over, the next one scheduled."""
        with self._tx():
            row = self._db.execute("SELECT source FROM articles WHERE url = ?", (url,)).fetchone()
            if row is None:
                return
            self._db.execute(
                "UPDATE articles SET revisits = revisits + 1, last_fetched = MAX(last_fetched, ?), "
                "suspect = NULL, suspect_since = NULL, takedown = COALESCE(?, takedown) WHERE url = ?",
                (checked_at.timestamp(), takedown, url),
            )
            self._reschedule(url, row[0])

    def suspect(self, url: str, kind: str, seen_at: datetime) -> datetime:
        """A first check saw takedown ``kind``: remembered (it is due again at once, so the next
        run confirms it if this one ends first). Returns when it was first seen."""
        with self._tx():
            self._db.execute(
                "UPDATE articles SET suspect = ?, suspect_since = COALESCE(suspect_since, ?), "
                "next_revisit = MIN(COALESCE(next_revisit, ?), ?) WHERE url = ?",
                (kind, seen_at.timestamp(), seen_at.timestamp(), seen_at.timestamp(), url),
            )
            row = self._db.execute("SELECT suspect_since FROM articles WHERE url = ?", (url,)).fetchone()
        return (_dt(row[0]) if row is not None else None) or seen_at

    def add_alias(self, alias: str, url: str) -> None:
        with self._tx():
            self._db.execute("INSERT OR REPLACE INTO aliases (alias, url) VALUES (?, ?)", (alias, url))
            self._db.execute("DELETE FROM pending WHERE url = ?", (alias,))

    def due_for_recrawl(
        self, source: str, now: datetime, window: timedelta, min_interval: timedelta | None = None
    ) -> Iterator[KnownArticle]:
        floor = min_interval if min_interval is not None else default_min_recheck()
        cutoff = (now - window).timestamp()
        rows = self._db.execute(
            f"SELECT {_COLS} FROM articles a WHERE a.source = ? AND COALESCE(a.published, a.first_fetched) >= ?",
            (source, cutoff),
        ).fetchall()
        for row in rows:
            art = _known(row)
            if art.due_for_recrawl(now, window, floor):
                yield art

    def count_articles(self, source: str | None = None) -> int:
        if source is None:
            return int(self._db.execute("SELECT COUNT(*) FROM articles").fetchone()[0])
        return int(
            self._db.execute("SELECT COUNT(*) FROM articles WHERE source = ?", (source,)).fetchone()[0]
        )

    # --- pending ---------------------------------------------------------------------------
    def add_pending(self, items: Iterable[PendingRow]) -> None:
        """New pending URLs; existing rows keep their attempts (and gain a date they lacked)."""
        now = time.time()
        rows = [(r[0], r[1], r[2], _ts(r[3]), now, _ts(r[4]) if len(r) > 4 else None) for r in items]
        with self._tx():
            self._db.executemany(
                "INSERT INTO pending (url, source, discovered_via, published, discovered_at, ordered) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(url) DO UPDATE SET "
                "published = COALESCE(excluded.published, pending.published), "
                "ordered = COALESCE(excluded.ordered, pending.ordered)",
                rows,
            )

    def pending(
        self, source: str, now: datetime | None = None, limit: int | None = None
    ) -> list[PendingArticle]:
        """Pending URLs of ``source`` to fetch now (not given up, backoff passed), newest first
        (at most ``limit``)."""
        now_ts = (now or datetime.now(UTC)).timestamp()
        rows = self._db.execute(
            "SELECT url, source, discovered_via, published, ordered FROM pending WHERE source = ? "
            "AND permanent = 0 AND attempts < ? AND (next_try IS NULL OR next_try <= ?) "
            "ORDER BY COALESCE(published, ordered) DESC LIMIT ?",
            (source, self.retry.max_attempts, now_ts, -1 if limit is None else limit),
        ).fetchall()
        return [PendingArticle(r[0], r[1], r[2], _dt(r[3]), _dt(r[4])) for r in rows]

    def gave_up(self, url: str) -> bool:
        """True when fetching ``url`` failed permanently or too often in earlier runs."""
        row = self._db.execute("SELECT attempts, permanent FROM pending WHERE url = ?", (url,)).fetchone()
        return row is not None and (bool(row[1]) or row[0] >= self.retry.max_attempts)

    def next_try(self, url: str) -> datetime | None:
        """When a transiently failed ``url`` may be fetched again (None: no backoff recorded)."""
        row = self._db.execute("SELECT next_try FROM pending WHERE url = ?", (url,)).fetchone()
        return _dt(row[0]) if row is not None else None

    def pending_failed(self, url: str, permanent: bool = False, now: datetime | None = None) -> None:
        """Count a failed attempt. A permanent failure (404, 410, not HTML) gives up at once;
        a transient one is tried again in a later run, after ``self.retry.wait(attempts)``."""
        with self._tx():
            if permanent:
                self._db.execute(
                    "UPDATE pending SET attempts = attempts + 1, permanent = 1 WHERE url = ?", (url,)
                )
                return
            row = self._db.execute("SELECT attempts FROM pending WHERE url = ?", (url,)).fetchone()
            if row is None:
                return
            attempts = int(row[0]) + 1
            when = (now or datetime.now(UTC)) + self.retry.wait(attempts)
            self._db.execute(
                "UPDATE pending SET attempts = ?, next_try = ? WHERE url = ?",
                (attempts, when.timestamp(), url),
            )

    def drop_pending(self, url: str) -> None:
        with self._tx():
            self._db.execute("DELETE FROM pending WHERE url = ?", (url,))

    # --- conditional GET validators ----------------------------------------------------------
    def validators(self, url: str) -> tuple[str | None, str | None]:
        row = self._db.execute("SELECT etag, last_modified FROM validators WHERE url = ?", (url,)).fetchone()
        return (row[0], row[1]) if row else (None, None)

    def validated_at(self, url: str) -> datetime | None:
        """When validators of ``url`` were saved (it was read completely then), or None."""
        row = self._db.execute("SELECT updated FROM validators WHERE url = ?", (url,)).fetchone()
        return _dt(row[0]) if row else None

    def set_validators(self, url: str, etag: str | None, last_modified: str | None) -> None:
        with self._tx():
            if etag or last_modified:
                self._db.execute(
                    "INSERT OR REPLACE INTO validators (url, etag, last_modified, updated) VALUES (?, ?, ?, ?)",
                    (url, etag, last_modified, time.time()),
                )
            else:
                self._db.execute("DELETE FROM validators WHERE url = ?", (url,))

    # --- runs --------------------------------------------------------------------------------
    def run_started(self, run_id: str) -> None:
        with self._tx():
            self._db.execute(
                "INSERT INTO runs (run_id, started) VALUES (?, ?) ON CONFLICT(run_id) DO UPDATE SET finished = NULL",
                (run_id, time.time()),
            )

    def run_finished(self, run_id: str) -> None:
        with self._tx():
            self._db.execute("UPDATE runs SET finished = ? WHERE run_id = ?", (time.time(), run_id))

    def unfinished_runs(self) -> list[str]:
        return [
            r[0] for r in self._db.execute("SELECT run_id FROM runs WHERE finished IS NULL ORDER BY started")
        ]

    # -------------------------------------------------------------------------------------------
    def _tx(self) -> _Transaction:
        self.flush()  # earlier batched marks become durable first: effects stay in call order
        return _Transaction(self._db)


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self._db.execute("COMMIT" if exc_type is None else "ROLLBACK")
