"""One crawl per source at a time, across processes, and which runs are provably dead.

The CLI (``warwatch run``/``crawl``) and the crawl DAG may start crawls at the same time. Two
crawls of one source would double its request rate (and turn its rate limit into failures),
so each crawl process holds an exclusive ``flock`` on ``<data_dir>/locks/crawl-source-<id>.lock``
for every source it crawls, for as long as it runs. A source whose lock another process holds
is **skipped**, not waited for: the crawl goes on with its other sources and its report lists
the skipped ones under ``locked`` (the other crawl is doing that source's work; waiting would
only make this one overrun its own budget).

Each crawl also holds ``crawl-run-<run_id>.lock``: the start-up replay of unfinished runs
(``crawlers.replay``) touches a run only when that lock is free, i.e. its process is gone (the
kernel drops an flock when its holder dies, kill -9 included). A lock is a property of the
open file, so nothing here is ever "stale"; the run's lock file is removed when it ends.

With ``state.backend: postgres`` (crawlers on several hosts: a flock on a shared volume is not a
lock between hosts) the source locks are Postgres advisory locks held on the crawl's own
connection (``pg_try_advisory_lock(ns, hashtext(source))``): the server drops them when that
connection ends, so a crawler killed with SIGKILL loses its locks exactly as with flock. The run
locks are advisory locks on the same connection too: the seen-store (``crawlers.state_pg``) and
its unfinished runs are shared by every host then, and the start-up replay on one host must see
that a run is still crawling on another (:class:`LiveRuns` asks the server).
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from indexing import pgconn

logger = logging.getLogger(__name__)

_BUSY = (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES)


def _flock(path: Path, create: bool = True) -> int | None:
    """An fd holding an exclusive lock on ``path``; None when another process holds it (or,
    with ``create=False``, when there is no such file)."""
    try:
        fd = os.open(path, os.O_RDWR | (os.O_CREAT if create else 0), 0o644)
    except FileNotFoundError:
        if create:
            raise
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return fd
    except OSError as exc:
        os.close(fd)
        if exc.errno not in _BUSY:
            raise
    return None


class CrawlLocks:
    """The locks one crawl process holds (released when it exits, or by :meth:`release`)."""

    def __init__(self, locks_dir: Path, *, dsn: str | None = None, connect_timeout: int = 10) -> None:
        """``dsn``: hold the source locks in that Postgres database (see the module docstring)."""
        self.dir = Path(locks_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self._held: dict[Path, int] = {}
        self._dsn = dsn
        self._timeout = connect_timeout
        self._pg: Any = None  # the session that holds this crawl's advisory locks
        self._pg_held: set[tuple[int, str]] = set()

    def run_path(self, run_id: str) -> Path:
        return self.dir / f"crawl-run-{run_id}.lock"

    def hold_run(self, run_id: str) -> bool:
        """Lock the run; False when another live process crawls a run of that id."""
        if self._dsn is None:
            return self._hold(self.run_path(run_id))
        return self._hold_pg(pgconn.NS_CRAWL_RUN, run_id)

    def hold_sources(self, source_ids: Iterable[str]) -> tuple[list[str], list[str]]:
        """Lock each source: (held, locked by another crawl)."""
        held: list[str] = []
        locked: list[str] = []
        for sid in source_ids:
            (held if self._hold_source(sid) else locked).append(sid)
        if locked:
            logger.warning("sources crawled by another process right now, skipped: %s", ", ".join(locked))
        return held, locked

    def _hold_source(self, source_id: str) -> bool:
        if self._dsn is None:
            return self._hold(self.dir / f"crawl-source-{source_id}.lock")
        return self._hold_pg(pgconn.NS_CRAWL_SOURCE, source_id)

    def _hold_pg(self, namespace: int, name: str) -> bool:
        if (namespace, name) in self._pg_held:
            return True
        if self._pg is None:
            assert self._dsn is not None
            self._pg = pgconn.connect(self._dsn, autocommit=True, connect_timeout=self._timeout,
                                      name="warwatch-crawl-locks")
        if not pgconn.try_lock(self._pg, namespace, name):
            return False
        self._pg_held.add((namespace, name))
        return True

    def _hold(self, path: Path) -> bool:
        if path in self._held:
            return True
        fd = _flock(path)
        if fd is None:
            return False
        self._held[path] = fd
        return True

    def release(self) -> None:
        for path, fd in self._held.items():
            if path.name.startswith("crawl-run-"):
                path.unlink(missing_ok=True)  # still ours: no other process locks a run file
            os.close(fd)
        self._held.clear()
        if self._pg is not None:
            self._pg.close()  # the session's advisory locks go with it
            self._pg = None
        self._pg_held.clear()


def run_is_live(locks_dir: Path, run_id: str) -> bool:
    """True when a process holds the run's lock (it is still crawling). A run without a lock
    file (killed before it took one, or from before locks) is dead. (A dead run's file is
    left: removing it could race with a crawl of the same run id starting again.)"""
    path = Path(locks_dir) / f"crawl-run-{run_id}.lock"
    fd = _flock(path, create=False)
    if fd is None:
        return path.exists()
    os.close(fd)
    return False


class LiveRuns:
    """``live(run_id)``: is that run still crawling? Its run lock tells (:meth:`CrawlLocks.hold_run`):
    a flock in ``locks_dir``, or with ``dsn`` an advisory lock in the state database (a run on any
    host). One connection, opened on first use; :meth:`close` ends it."""

    def __init__(self, locks_dir: Path | None, *, dsn: str | None = None, connect_timeout: int = 10) -> None:
        self.locks_dir = locks_dir
        self._dsn = dsn
        self._timeout = connect_timeout
        self._pg: Any = None

    def __call__(self, run_id: str) -> bool:
        if self._dsn is None:
            return self.locks_dir is not None and run_is_live(self.locks_dir, run_id)
        if self._pg is None or self._pg.closed:
            self._pg = pgconn.connect(self._dsn, autocommit=True, connect_timeout=self._timeout,
                                      name="warwatch-crawl-runs")
        return not pgconn.lock_is_free(self._pg, pgconn.NS_CRAWL_RUN, run_id)

    def close(self) -> None:
        if self._pg is not None:
            self._pg.close()
            self._pg = None
