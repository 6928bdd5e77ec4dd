"""The crawler's seen-store, whatever database holds it: every read, write and batching rule,
written once (:class:`BaseSeenStore`); ``crawlers.state`` (SQLite, one machine) and
``crawlers.state_pg`` (Postgres, crawlers on several hosts) only say how to talk to theirs.

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
reported already (``takedown``: not reported twice).

An article is marked seen only after its WARC record and manifest line are flushed. Those
marks may be committed in batches (``mark_stored(..., durable=False)``: every ``batch_size``
articles or ``batch_interval`` seconds, whichever comes first) because the manifest is the
source of truth: a kill -9 loses at most the uncommitted marks, and the next start replays
the manifests of unfinished runs into this store (``crawlers.replay``).
Every other write (pending URLs, failures, aliases, validators, runs) commits at once, after
committing any open batch, so the order of durable effects is the order of the calls.

Several writers (crawls on several hosts sharing a Postgres store): every insert is an upsert,
and each read-modify-write (a failed attempt counted, a schedule recomputed) reads its row
``FOR UPDATE`` inside its transaction. A transaction the database chose as a deadlock victim
(two crawls' open batches holding rows the other wants) is run again, after committing this
store's own open batch so the other crawl can finish: at most :data:`ATTEMPTS` times.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from crawlers.policies import (
    DueRevisit,
    KnownArticle,
    PendingArticle,
    RetryPolicy,
    default_min_recheck,
    next_revisit,
)
from indexing.sqldialect import SqlDialect

logger = logging.getLogger(__name__)

#: Defaults for batched seen-marks (see the module docstring).
BATCH_SIZE = 256
BATCH_INTERVAL = 0.1
#: how often a transaction lost to a deadlock is tried (then its error is raised)
ATTEMPTS = 3


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

class _Mark(NamedTuple):
    """One ``mark_stored`` call's article, as it is written (and written again after a deadlock)."""

    url: str
    source: str
    fingerprint: str
    fetched_at: datetime
    published: datetime | None
    aliases: list[str]
    final_url: str | None
    discovered_via: str | None
    capture: Capture | None


#: the SQL words a dialect names: its tables, and what the two databases spell differently
SQL_WORDS = ("articles", "aliases", "pending", "validators", "runs", "greatest", "least", "for_update")


class BaseSeenStore(SqlDialect):
    """The seen-store's behaviour; a dialect sets the class attributes and :meth:`_x`, :meth:`_many`,
    :meth:`_in_transaction`, :meth:`_close_db`. Statements here use ``?`` parameters and
    ``{name}`` for the words of :data:`SQL_WORDS`."""

    #: the database errors a caller may catch (a failed batch commit, a lost connection)
    errors: tuple[type[BaseException], ...] = ()
    #: errors after which a transaction is run again (a deadlock victim)
    retryable: tuple[type[BaseException], ...] = ()
    #: how a transaction that writes starts
    _BEGIN = "BEGIN"
    #: the LIMIT that means none
    _NO_LIMIT: int | None = None

    def __init__(
        self,
        batch_size: int = BATCH_SIZE,
        batch_interval: float = BATCH_INTERVAL,
        retry: RetryPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if batch_size < 1 or batch_interval < 0:
            raise ValueError(
                f"batch_size must be >= 1 and batch_interval >= 0, got {batch_size}, {batch_interval}"
            )
        self.batch_size = batch_size
        self.batch_interval = batch_interval
        self._clock = clock  # seconds, for the batch age (tests inject one instead of sleeping)
        self.retry = retry or RetryPolicy()
        #: a source's revisit intervals (``changes.revisit_after`` or the source's own); none:
        #: no revisits
        self.schedule: Callable[[str], Sequence[timedelta]] = lambda source: ()
        self._batched = 0  # uncommitted marks in the open batch transaction (0: none open)
        self._batch_started = 0.0
        #: called before a seen-mark is committed: the archive fsyncs the captures (issue 9)
        self.before_commit: Callable[[], None] | None = None
        self._closed = False

    # --- the dialect ---------------------------------------------------------------------------
    _sql = SqlDialect.translate

    def _x(self, sql: str, args: Sequence[Any] = ()) -> Any:
        """Run one statement; the result has ``fetchone``/``fetchall`` and iterates rows."""
        raise NotImplementedError

    def _many(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        raise NotImplementedError

    def _in_transaction(self) -> bool:
        raise NotImplementedError

    def _close_db(self) -> None:
        raise NotImplementedError

    # --- batches -----------------------------------------------------------------------------
    def close(self) -> None:
        if self._closed:
            return
        self.flush()
        self._closed = True
        self._close_db()

    def flush(self) -> None:
        """Commit the open batch of seen-marks, if any."""
        if self._batched and not self._closed:
            if self.before_commit is not None:
                self.before_commit()
            try:
                self._x("COMMIT")
            except self.errors:
                if not self._in_transaction():
                    # The database rolled the batch back (I/O error, disk full, connection
                    # lost): those marks are lost here but not in the manifest, which the next
                    # start replays.
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
        row = self._x(
            f"SELECT {_COLS} FROM {{articles}} a WHERE a.url = ? UNION ALL "
            f"SELECT {_COLS} "
            "FROM {aliases} x JOIN {articles} a ON a.url = x.url WHERE x.alias = ? LIMIT 1",
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
        mark = _Mark(url, source, fingerprint, fetched_at, published, list(aliases), final_url, discovered_via,
                     capture)
        if durable:
            if self.before_commit is not None:
                self.before_commit()
            for tx in self._tx():
                with tx:
                    self._write_mark(mark)
            return
        for attempt in range(1, ATTEMPTS + 1):
            if self._mark_in_batch(mark, last=attempt == ATTEMPTS):
                break
        self._batched += 1
        if self._batched >= self.batch_size or self._clock() - self._batch_started >= self.batch_interval:
            self.flush()

    def _mark_in_batch(self, mark: _Mark, last: bool) -> bool:
        """Write ``mark`` into the open batch (opened if none): True when written. A failed mark
        leaves the batch and its earlier marks intact; a deadlock victim commits the batch (its
        rows go to the other writer) and returns False (to be tried again) unless ``last``."""
        if not self._batched:
            self._x(self._BEGIN)
            self._batch_started = self._clock()
        try:
            self._x("SAVEPOINT mark")
            self._write_mark(mark)
            self._x("RELEASE mark")
        except self.errors as exc:
            # Undo this mark only; the batch (and its earlier marks) stays intact.
            self._x("ROLLBACK TO mark")
            self._x("RELEASE mark")
            if not self._batched:
                self._x("COMMIT")
            if last or not isinstance(exc, self.retryable):
                raise
            logger.info("seen-mark of %s lost a deadlock with another writer: tried again", mark.url)
            self.flush()
            return False
        return True

    def _write_mark(self, mark: _Mark) -> None:
        url, source, fingerprint, fetched_at, published, aliases, final_url, discovered_via, capture = mark
        ts = fetched_at.timestamp()
        alias_set = {a for a in aliases if a and a != url}
        self._x(
            "INSERT INTO {articles} (url, source, fingerprint, published, first_fetched, last_fetched, "
            "final_url, discovered_via) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(url) DO UPDATE SET "
            "fingerprint = excluded.fingerprint, last_fetched = excluded.last_fetched, "
            "final_url = excluded.final_url, published = COALESCE({articles}.published, excluded.published)",
            (url, source, fingerprint, _ts(published), ts, ts, final_url, discovered_via),
        )
        # sorted: two writers take the rows' locks in one order
        self._many(
            "INSERT INTO {aliases} (alias, url) VALUES (?, ?) ON CONFLICT(alias) DO UPDATE SET url = excluded.url",
            [(a, url) for a in sorted(alias_set)],
        )
        self._many("DELETE FROM {pending} WHERE url = ?", [(u,) for u in sorted({url, *alias_set})])
        self._write_capture(url, source, fetched_at, capture)

    def _write_capture(self, url: str, source: str, fetched_at: datetime, capture: Capture | None) -> None:
        """A full capture: its validators and place, the takedown (if any) over, rescheduled."""
        if capture is not None:
            self._x(
                "UPDATE {articles} SET etag = ?, last_modified = ?, capture_file = ?, capture_offset = ?, "
                "capture_at = ?, suspect = NULL, suspect_since = NULL, takedown = NULL WHERE url = ?",
                (capture.etag, capture.last_modified, capture.warc_file, capture.warc_offset,
                 fetched_at.timestamp(), url),
            )
        self._reschedule(url, source)

    def _reschedule(self, url: str, source: str) -> None:
        intervals = list(self.schedule(source))
        row = self._x(
            "SELECT published, first_fetched, last_fetched FROM {articles} WHERE url = ?{for_update}", (url,)
        ).fetchone()
        if row is None:
            return
        first = _dt(row[1]) or datetime.now(UTC)
        when = next_revisit(_dt(row[0]), first, _dt(row[2]) or first, intervals)
        self._x(
            "UPDATE {articles} SET next_revisit = ?, schedule = ? WHERE url = ?",
            (_ts(when), schedule_key(intervals), url),
        )

    # --- revisits ----------------------------------------------------------------------------
    def due_revisits(self, source: str, now: datetime, limit: int | None) -> tuple[list[DueRevisit], int]:
        """(the stored articles of ``source`` due for a revisit, takedown suspicions first, then
        most overdue first, at most ``limit``; how many are due in all). Schedules computed with
        other intervals than today's are recomputed first."""
        key = schedule_key(list(self.schedule(source)))
        stale = [r[0] for r in self._x(
            "SELECT url FROM {articles} WHERE source = ? AND (schedule IS NULL OR schedule != ?) ORDER BY url",
            (source, key),
        ).fetchall()]
        if stale:
            for tx in self._tx():
                with tx:
                    for url in stale:
                        self._reschedule(url, source)
        where = "FROM {articles} WHERE source = ? AND next_revisit IS NOT NULL AND next_revisit <= ?"
        args = (source, now.timestamp())
        due = int(self._x(f"SELECT COUNT(*) {where}", args).fetchone()[0])
        rows = self._x(
            f"SELECT {_DUE_COLS} {where} ORDER BY suspect IS NULL, next_revisit, url LIMIT ?",
            (*args, self._NO_LIMIT if limit is None else limit),
        ).fetchall()
        return [_due(r) for r in rows], due

    def revisited(self, url: str, checked_at: datetime, takedown: str | None = None) -> None:
        """A revisit of ``url`` was answered and handled (not modified, changed, or a takedown
        reported now): one more revisit done, the suspicion over, the next one scheduled."""
        for tx in self._tx():
            with tx:
                row = self._x("SELECT source FROM {articles} WHERE url = ?{for_update}", (url,)).fetchone()
                if row is None:
                    return
                self._x(
                    "UPDATE {articles} SET revisits = revisits + 1, last_fetched = {greatest}(last_fetched, ?), "
                    "suspect = NULL, suspect_since = NULL, takedown = COALESCE(?, takedown) WHERE url = ?",
                    (checked_at.timestamp(), takedown, url),
                )
                self._reschedule(url, row[0])

    def suspect(self, url: str, kind: str, seen_at: datetime) -> datetime:
        """A first check saw takedown ``kind``: remembered (it is due again at once, so the next
        run confirms it if this one ends first). Returns when it was first seen."""
        row = None
        for tx in self._tx():
            with tx:
                self._x(
                    "UPDATE {articles} SET suspect = ?, suspect_since = COALESCE(suspect_since, ?), "
                    "next_revisit = {least}(COALESCE(next_revisit, ?), ?) WHERE url = ?",
                    (kind, seen_at.timestamp(), seen_at.timestamp(), seen_at.timestamp(), url),
                )
                row = self._x("SELECT suspect_since FROM {articles} WHERE url = ?", (url,)).fetchone()
        return (_dt(row[0]) if row is not None else None) or seen_at

    def add_alias(self, alias: str, url: str) -> None:
        for tx in self._tx():
            with tx:
                self._x(
                    "INSERT INTO {aliases} (alias, url) VALUES (?, ?) ON CONFLICT(alias) DO UPDATE SET url = excluded.url",
                    (alias, url),
                )
                self._x("DELETE FROM {pending} WHERE url = ?", (alias,))

    def due_for_recrawl(
        self, source: str, now: datetime, window: timedelta, min_interval: timedelta | None = None
    ) -> Iterator[KnownArticle]:
        floor = min_interval if min_interval is not None else default_min_recheck()
        cutoff = (now - window).timestamp()
        rows = self._x(
            f"SELECT {_COLS} FROM {{articles}} a WHERE a.source = ? AND COALESCE(a.published, a.first_fetched) >= ?",
            (source, cutoff),
        ).fetchall()
        for row in rows:
            art = _known(row)
            if art.due_for_recrawl(now, window, floor):
                yield art

    def count_articles(self, source: str | None = None) -> int:
        if source is None:
            return int(self._x("SELECT COUNT(*) FROM {articles}").fetchone()[0])
        return int(self._x("SELECT COUNT(*) FROM {articles} WHERE source = ?", (source,)).fetchone()[0])

    # --- pending ---------------------------------------------------------------------------
    def add_pending(self, items: Iterable[PendingRow]) -> None:
        """New pending URLs; existing rows keep their attempts (and gain a date they lacked)."""
        now = time.time()
        rows = [(r[0], r[1], r[2], _ts(r[3]), now, _ts(r[4]) if len(r) > 4 else None) for r in items]
        rows.sort(key=lambda r: r[0])  # stable (a URL listed twice: the later row still wins); one lock order
        for tx in self._tx():
            with tx:
                self._many(
                    "INSERT INTO {pending} (url, source, discovered_via, published, discovered_at, ordered) "
                    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(url) DO UPDATE SET "
                    "published = COALESCE(excluded.published, {pending}.published), "
                    "ordered = COALESCE(excluded.ordered, {pending}.ordered)",
                    rows,
                )

    def pending(
        self, source: str, now: datetime | None = None, limit: int | None = None
    ) -> list[PendingArticle]:
        """Pending URLs of ``source`` to fetch now (not given up, backoff passed), newest first
        (at most ``limit``)."""
        now_ts = (now or datetime.now(UTC)).timestamp()
        rows = self._x(
            "SELECT url, source, discovered_via, published, ordered FROM {pending} WHERE source = ? "
            "AND permanent = 0 AND attempts < ? AND (next_try IS NULL OR next_try <= ?) "
            "ORDER BY COALESCE(published, ordered) DESC NULLS LAST LIMIT ?",
            (source, self.retry.max_attempts, now_ts, self._NO_LIMIT if limit is None else limit),
        ).fetchall()
        return [PendingArticle(r[0], r[1], r[2], _dt(r[3]), _dt(r[4])) for r in rows]

    def gave_up(self, url: str) -> bool:
        """True when fetching ``url`` failed permanently or too often in earlier runs."""
        row = self._x("SELECT attempts, permanent FROM {pending} WHERE url = ?", (url,)).fetchone()
        return row is not None and (bool(row[1]) or row[0] >= self.retry.max_attempts)

    def next_try(self, url: str) -> datetime | None:
        """When a transiently failed ``url`` may be fetched again (None: no backoff recorded)."""
        row = self._x("SELECT next_try FROM {pending} WHERE url = ?", (url,)).fetchone()
        return _dt(row[0]) if row is not None else None

    def pending_failed(self, url: str, permanent: bool = False, now: datetime | None = None) -> None:
        """Count a failed attempt. A permanent failure (404, 410, not HTML) gives up at once;
        a transient one is tried again in a later run, after ``self.retry.wait(attempts)``."""
        for tx in self._tx():
            with tx:
                if permanent:
                    self._x("UPDATE {pending} SET attempts = attempts + 1, permanent = 1 WHERE url = ?", (url,))
                    return
                # the row stays locked until the count is written: two writers never count one attempt
                row = self._x("SELECT attempts FROM {pending} WHERE url = ?{for_update}", (url,)).fetchone()
                if row is None:
                    return
                attempts = int(row[0]) + 1
                when = (now or datetime.now(UTC)) + self.retry.wait(attempts)
                self._x(
                    "UPDATE {pending} SET attempts = ?, next_try = ? WHERE url = ?",
                    (attempts, when.timestamp(), url),
                )

    def drop_pending(self, url: str) -> None:
        for tx in self._tx():
            with tx:
                self._x("DELETE FROM {pending} WHERE url = ?", (url,))

    # --- conditional GET validators ----------------------------------------------------------
    def validators(self, url: str) -> tuple[str | None, str | None]:
        row = self._x("SELECT etag, last_modified FROM {validators} WHERE url = ?", (url,)).fetchone()
        return (row[0], row[1]) if row else (None, None)

    def validated_at(self, url: str) -> datetime | None:
        """When validators of ``url`` were saved (it was read completely then), or None."""
        row = self._x("SELECT updated FROM {validators} WHERE url = ?", (url,)).fetchone()
        return _dt(row[0]) if row else None

    def set_validators(self, url: str, etag: str | None, last_modified: str | None) -> None:
        for tx in self._tx():
            with tx:
                if etag or last_modified:
                    self._x(
                        "INSERT INTO {validators} (url, etag, last_modified, updated) VALUES (?, ?, ?, ?) "
                        "ON CONFLICT(url) DO UPDATE SET etag = excluded.etag, "
                        "last_modified = excluded.last_modified, updated = excluded.updated",
                        (url, etag, last_modified, time.time()),
                    )
                else:
                    self._x("DELETE FROM {validators} WHERE url = ?", (url,))

    # --- runs --------------------------------------------------------------------------------
    def run_started(self, run_id: str) -> None:
        for tx in self._tx():
            with tx:
                self._x(
                    "INSERT INTO {runs} (run_id, started) VALUES (?, ?) "
                    "ON CONFLICT(run_id) DO UPDATE SET finished = NULL",
                    (run_id, time.time()),
                )

    def run_finished(self, run_id: str) -> None:
        for tx in self._tx():
            with tx:
                self._x("UPDATE {runs} SET finished = ? WHERE run_id = ?", (time.time(), run_id))

    def unfinished_runs(self) -> list[str]:
        return [r[0] for r in self._x("SELECT run_id FROM {runs} WHERE finished IS NULL ORDER BY started").fetchall()]

    # -------------------------------------------------------------------------------------------
    def _tx(self) -> Iterator[_Transaction]:
        """Transactions for one write, until one commits (``for tx in self._tx(): with tx: ...``):
        a deadlock victim is rolled back and its body run again, at most :data:`ATTEMPTS` times."""
        self.flush()  # earlier batched marks become durable first: effects stay in call order
        for attempt in range(1, ATTEMPTS + 1):
            tx = _Transaction(self, last=attempt == ATTEMPTS)
            yield tx
            if not tx.retry:
                return


class _Transaction:
    def __init__(self, store: BaseSeenStore, last: bool) -> None:
        self._store = store
        self._last = last
        self.retry = False

    def __enter__(self) -> None:
        self._store._x(self._store._BEGIN)

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> bool:
        if exc_type is None:
            self._store._x("COMMIT")
            return False
        self._store._x("ROLLBACK")
        if self._last or not isinstance(exc, self._store.retryable):
            return False
        logger.info("seen-store write lost a deadlock with another writer: run again (%s)", exc)
        self.retry = True
        return True  # swallowed: the loop in _tx runs the body again
