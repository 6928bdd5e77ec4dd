"""Batches: one crawl's output (``data/runs/<id>/manifest.jsonl``), who works on it, and whether it
is done.

A batch is *processed* once ``processed.json`` exists in its directory: clean, enrich, index and
alerts all ran, and its alerts are complete (every watch evaluated against every document).
Until they are, ``alerts-pending.json`` says so: the batch stays unprocessed, and the next run
evaluates only its alerts again once its backoff has passed (:func:`alerts_due`). Every other batch -- a finished crawl, a crawl interrupted by Ctrl-C, SIGKILL or
an Airflow timeout, a processing run that died half-way -- is picked up by the next
``warwatch run`` or ``warwatch_process``, whoever left it.

Two runs never work on one batch at once:

- a *lease* (``lease.json``: owner, host, pid, stage, expiry) says who has it. Airflow tasks hand
  a lease from task to task (pid is None: it lives until it expires or is released); a CLI run's
  lease is bound to its process;
- a *lock* (``fcntl.flock`` on ``data/locks/batch-<id>.lock``) is held by whichever process is
  working on the batch right now, including the crawler child, which inherits it. The kernel drops
  it when the process dies, however it dies, so a batch left by a killed process is free at once
  while one that a live crawler still writes to is never touched.

Stages that must not overlap across batches (flushing the pending queue into the index) take a
lock per data directory: :func:`data_lock`.

Finding the batches left to do must not cost a stat per batch ever written (a year of 5-minute
batches is 100,000 directories, looked at on every claim): :func:`mark_processed` also leaves an
empty marker ``data/runs/.done/<id>``, and :func:`unprocessed` lists that directory once and
looks only at the batches without a marker. The marker is a cache of ``processed.json`` (which
stays the truth): a batch processed before markers existed gets its marker the first time it is
seen. To hand a processed batch back for processing, remove both.

With ``state.backend: postgres`` (workers on several hosts: no flock, no rename semantics of a
shared filesystem to lean on) the leases, locks, processed marks and pending alerts live in the
state database instead (:mod:`warwatch.pipeline.batches_pg`): every function here keeps its
contract and asks :func:`registry` which backend to use. ``processed.json`` and the ``.done``
markers are still written (maintenance reads them), but the database is the truth.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from indexing.fileio import read_json
from indexing.settings import get_settings
from warwatch.pipeline.batches_pg import PgBatches
from warwatch.pipeline.common import PipelineError, batch_files, batch_path, check_run_id, write_json

log = logging.getLogger(__name__)

LEASE_FILE = "lease.json"
PROCESSED_FILE = "processed.json"
META_FILE = "batch.json"
#: under ``runs_dir``: one empty file per processed batch (see the module docstring)
DONE_DIR = ".done"
ALERTS_PENDING_FILE = "alerts-pending.json"
#: Upper bound on batches one claim looks at (a data directory of years of 5-minute batches).
MAX_CLAIM = 500

Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(UTC)


class LockTimeout(PipelineError):
    """A data-directory lock stayed taken longer than ``pipeline.lock_timeout_seconds``."""


class LeaseLost(PipelineError):
    """Another run took this batch over (our lease expired): stop, it is theirs now."""


_REGISTRIES: dict[str, PgBatches] = {}


def registry() -> PgBatches | None:
    """The Postgres registry when ``state.backend`` is postgres (one per DSN and process), else None."""
    state = get_settings().state
    dsn = state.postgres_dsn
    if dsn is None:
        return None
    found = _REGISTRIES.get(dsn)
    if found is None:
        found = _REGISTRIES[dsn] = PgBatches(dsn, connect_timeout=state.connect_timeout)
    return found


def locks_dir() -> Path:
    path = get_settings().data_dir / "locks"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _try_flock(path: Path) -> int | None:
    """An fd holding an exclusive flock on ``path``, or None when another process holds it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return None
        raise
    return fd


@contextlib.contextmanager
def data_lock(name: str, timeout: float | None = None) -> Iterator[None]:
    """Hold ``data/locks/<name>.lock`` (waits up to ``timeout``, default the setting)."""
    wait = get_settings().pipeline.lock_timeout_seconds if timeout is None else timeout
    pg = registry()
    if pg is not None:
        if not pg.data_lock(name, wait):
            raise LockTimeout(f"the state database's lock {name!r} is held by another run for more than {wait:.0f} s")
        try:
            yield
        finally:
            pg.data_unlock(name)
        return
    path = locks_dir() / f"{name}.lock"
    deadline = time.monotonic() + wait
    while (fd := _try_flock(path)) is None:
        if time.monotonic() >= deadline:
            raise LockTimeout(f"{path} is held by another run for more than {wait:.0f} s")
        time.sleep(0.2)
    try:
        yield
    finally:
        os.close(fd)  # closing the last fd of the open file description drops the flock


def batch_lock_path(batch_id: str) -> Path:
    return locks_dir() / f"batch-{check_run_id(batch_id)}.lock"


def is_processed(batch_id: str) -> bool:
    pg = registry()
    if pg is not None and pg.is_processed(batch_id):
        return True
    rdir = batch_path(batch_id)
    if (rdir / PROCESSED_FILE).exists():
        return True
    # Batches processed before processed.json existed ran their alerts last; an alerts report
    # beside an alerts-pending file is an evaluation that missed something (or is running).
    return (rdir / "alerts-report.json").exists() and not (rdir / ALERTS_PENDING_FILE).exists()


# --------------------------------------------------------------------------- pending alerts
def alerts_pending(batch_id: str) -> dict[str, Any]:
    """The batch's pending-alerts record (``since``, ``attempts``, ``next_try``), {} when none."""
    pg = registry()
    if pg is not None:
        return pg.alerts_pending(batch_id)
    return read_json(batch_path(batch_id) / ALERTS_PENDING_FILE)


def begin_alerts(batch_id: str, now: Clock = _utcnow) -> None:
    """Mark the batch's alerts pending before they are evaluated: an evaluation killed half-way
    leaves the batch pending, never done."""
    if not alerts_pending(batch_id):
        at = now().isoformat()
        record = {"since": at, "attempts": 0, "next_try": at}
        pg = registry()
        if pg is not None:
            pg.set_alerts_pending(batch_id, record, only_if_none=True)
        else:
            write_json(batch_path(batch_id) / ALERTS_PENDING_FILE, record)


def end_alerts(batch_id: str, complete: bool, why: list[str], now: Clock = _utcnow) -> dict[str, Any]:
    """After an evaluation: complete -> the pending mark goes ({} returned); else the next try is
    set back (``alerts_retry_seconds``, doubling per attempt, at most ``alerts_retry_max_seconds``)."""
    path = batch_path(batch_id) / ALERTS_PENDING_FILE
    pg = registry()
    if complete:
        if pg is not None:
            pg.set_alerts_pending(batch_id, None)
        path.unlink(missing_ok=True)
        return {}
    cfg = get_settings().pipeline
    record = alerts_pending(batch_id)
    attempts = int(record.get("attempts") or 0) + 1
    wait = min(cfg.alerts_retry_max_seconds, cfg.alerts_retry_seconds * 2 ** min(attempts - 1, 30))
    at = now()
    record = {"since": record.get("since") or at.isoformat(), "attempts": attempts,
              "next_try": (at + timedelta(seconds=wait)).isoformat(), "why": why[:20]}
    if pg is not None:
        pg.set_alerts_pending(batch_id, record)
    else:
        write_json(path, record)
    return record


def alerts_due(batch_id: str, now: Clock = _utcnow) -> bool:
    """False while a batch's pending alerts wait out their backoff."""
    record = alerts_pending(batch_id)
    try:
        return not record or datetime.fromisoformat(str(record["next_try"])) <= now()
    except (KeyError, ValueError):
        return True


def read_lease(batch_id: str) -> dict[str, Any]:
    pg = registry()
    if pg is not None:
        return pg.read_lease(batch_id)
    return read_json(batch_path(batch_id) / LEASE_FILE)


def _expired(lease: dict[str, Any], now: datetime) -> bool:
    try:
        return datetime.fromisoformat(str(lease["expires"])) <= now
    except (KeyError, ValueError):
        return True


def _lease_alive(lease: dict[str, Any], now: datetime) -> bool:
    """Taken by someone, as far as the lease file says (the flock is checked separately)."""
    if not lease or _expired(lease, now):
        return False
    # A process-bound lease on this host is alive exactly as long as its flock: we got the flock.
    return lease.get("pid") is None or lease.get("host") != socket.gethostname()


@dataclass
class Lease:
    """A batch leased to ``owner``; ``fd`` (the file backend) or the advisory lock in ``pg``'s
    session (postgres) holds the batch lock while this process works on it."""

    batch_id: str
    owner: str
    fd: int | None
    pg: PgBatches | None = None

    def close(self) -> None:
        """Drop the lock (the lease stays: the next task of the same owner takes it on)."""
        if self.pg is not None:
            self.pg.unlock(self.batch_id)
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def acquire(batch_id: str, owner: str, *, stage: str, ttl: float | None = None, bind_pid: bool = True,
            create: bool = False, now: Clock = _utcnow) -> Lease | None:
    """Lease ``batch_id`` to ``owner`` for ``stage`` and lock it; None when someone else has it or it
    is processed already. ``create``: a new batch (its directory is made under the lease)."""
    pg = registry()
    if pg is not None:
        return _acquire_pg(pg, batch_id, owner, stage, ttl, bind_pid, create, now)
    fd = _try_flock(batch_lock_path(batch_id))
    if fd is None:
        return None
    try:
        with data_lock("leases", timeout=60):
            rdir = batch_path(batch_id)
            if not create and not rdir.is_dir():
                os.close(fd)
                return None
            if is_processed(batch_id) if rdir.is_dir() else False:
                os.close(fd)
                return None
            current = read_lease(batch_id)
            if current.get("owner") != owner and _lease_alive(current, now()):
                os.close(fd)
                return None
            rdir.mkdir(parents=True, exist_ok=True)
            _write_lease(batch_id, owner, stage, ttl, bind_pid, now())
    except BaseException:
        with contextlib.suppress(OSError):
            os.close(fd)
        raise
    return Lease(batch_id, owner, fd)


def _lease_seconds(ttl: float | None) -> float:
    return get_settings().pipeline.lease_seconds if ttl is None else ttl


def _acquire_pg(pg: PgBatches, batch_id: str, owner: str, stage: str, ttl: float | None, bind_pid: bool,
                create: bool, now: Clock) -> Lease | None:
    rdir = batch_path(batch_id)
    exists = rdir.is_dir()
    # With its files in the object store a batch is readable from every host: its row says it exists.
    remote = batch_files().remote
    if not create and not exists and not remote:
        return None
    if exists and is_processed(batch_id):
        return None
    # A batch directory without a row (made before the backend was postgres) gets one here.
    if not pg.acquire(batch_id, owner, stage=stage, seconds=_lease_seconds(ttl), bind_pid=bind_pid,
                      create=create or exists, now=now()):
        return None
    rdir.mkdir(parents=True, exist_ok=True)
    return Lease(batch_id, owner, None, pg)


def _write_lease(batch_id: str, owner: str, stage: str, ttl: float | None, bind_pid: bool, now: datetime) -> None:
    seconds = _lease_seconds(ttl)
    write_json(batch_path(batch_id) / LEASE_FILE, {
        "owner": owner, "stage": stage, "host": socket.gethostname(),
        "pid": os.getpid() if bind_pid else None,
        "taken": now.isoformat(), "expires": (now + timedelta(seconds=seconds)).isoformat(),
    })


def renew(lease: Lease, stage: str, *, ttl: float | None = None, bind_pid: bool = True,
          now: Clock = _utcnow) -> None:
    """Extend the lease before the next stage; :class:`LeaseLost` if another run took it over."""
    pg = registry()
    if pg is not None:
        holder = pg.renew(lease.batch_id, lease.owner, stage=stage, seconds=_lease_seconds(ttl), bind_pid=bind_pid,
                          now=now())
        if holder is not None:
            raise LeaseLost(f"batch {lease.batch_id} is now leased to {holder!r}, not {lease.owner!r}: "
                            "leaving it to them")
        return
    with data_lock("leases", timeout=60):
        current = read_lease(lease.batch_id)
        if current.get("owner") != lease.owner:
            raise LeaseLost(f"batch {lease.batch_id} is now leased to {current.get('owner')!r}, "
                            f"not {lease.owner!r}: leaving it to them")
        _write_lease(lease.batch_id, lease.owner, stage, ttl, bind_pid, now())


def release(lease: Lease) -> None:
    """Give the batch back (done or not): the lease file goes, then the lock."""
    pg = registry()
    if pg is not None:
        try:
            pg.release(lease.batch_id, lease.owner)
        finally:
            lease.close()
        return
    try:
        with data_lock("leases", timeout=60):
            if read_lease(lease.batch_id).get("owner") == lease.owner:
                (batch_path(lease.batch_id) / LEASE_FILE).unlink(missing_ok=True)
    finally:
        lease.close()


def mark_processed(batch_id: str, summary: dict[str, Any], now: Clock = _utcnow) -> None:
    pg = registry()
    if pg is not None:  # the truth first; the files after it are for maintenance
        pg.mark_processed(batch_id, summary, now())
    write_json(batch_path(batch_id) / PROCESSED_FILE, {"processed_at": now().isoformat(), **summary})
    batch_files().publish(batch_id, PROCESSED_FILE)  # where retention in the object store looks
    _mark_done(batch_id)


def _mark_done(batch_id: str) -> None:
    """The batch's marker in ``runs/.done`` (no fsync: a marker lost in a crash is made again
    from ``processed.json`` by :func:`unprocessed`)."""
    done = get_settings().runs_dir / DONE_DIR
    done.mkdir(parents=True, exist_ok=True)
    os.close(os.open(done / check_run_id(batch_id), os.O_WRONLY | os.O_CREAT, 0o644))


def write_meta(batch_id: str, meta: dict[str, Any]) -> None:
    write_json(batch_path(batch_id) / META_FILE, meta)


def read_meta(batch_id: str) -> dict[str, Any]:
    return read_json(batch_path(batch_id) / META_FILE)


def all_batches() -> list[str]:
    """Every batch id under ``data/runs``, oldest first (ids start with their UTC time)."""
    runs = get_settings().runs_dir
    if not runs.is_dir():
        return []
    return sorted(p.name for p in runs.iterdir() if p.is_dir() and not p.name.startswith("."))


def list_names(path: Path) -> list[str]:
    """Names of the markers in ``path`` (a ``.done``-style directory), without a stat each."""
    return _listdir(path, dirs=False)


def _listdir(path: Path, *, dirs: bool) -> list[str]:
    """Names in ``path`` (directories only when ``dirs``) from the directory listing alone: no
    stat per entry (``DirEntry.is_dir`` answers from the listing's file type)."""
    try:
        with os.scandir(path) as entries:
            return [e.name for e in entries if not e.name.startswith(".") and (not dirs or e.is_dir())]
    except FileNotFoundError:
        return []


def unprocessed() -> list[str]:
    """Batches without ``processed.json``, oldest first, leased or not. Two directory listings,
    and a stat only of the batches without a ``.done`` marker: the work does not grow with the
    number of processed batches."""
    runs = get_settings().runs_dir
    done = set(_listdir(runs / DONE_DIR, dirs=False))
    pg = registry()
    out = []
    for batch_id in sorted(set(_listdir(runs, dirs=True)) - done):
        if is_processed(batch_id):
            _mark_done(batch_id)  # processed before markers existed, or its marker was lost
            if pg is not None and not pg.is_processed(batch_id):
                pg.mark_processed(batch_id, read_json(batch_path(batch_id) / PROCESSED_FILE), _utcnow())
        else:
            out.append(batch_id)
    if pg is None:
        return out
    pg.register(out)  # batch directories the database has not seen yet
    return pg.unprocessed()


def claim(owner: str, *, stage: str = "claimed:done", bind_pid: bool = True, limit: int = MAX_CLAIM,
          ttl: float | None = None, now: Clock = _utcnow) -> list[Lease]:
    """Lease every unprocessed batch nobody else has (up to ``limit``), oldest first. A batch
    whose alerts are pending is taken once its backoff has passed, at stage ``index:done`` (only
    its alerts are left)."""
    pg = registry()
    if pg is not None:
        unprocessed()  # registers batch directories the database has not seen yet
        taken = pg.claim(owner, stage=stage, seconds=_lease_seconds(ttl), bind_pid=bind_pid, limit=limit, now=now())
        return [Lease(batch_id, owner, None, pg) for batch_id, _ in taken]
    leases: list[Lease] = []
    for batch_id in unprocessed():
        if len(leases) >= limit:
            log.warning("claim: %d batches taken, the rest wait for the next run", limit)
            break
        pending = bool(alerts_pending(batch_id))
        if pending and not alerts_due(batch_id, now):
            log.info("batch %s: alerts pending, next try at %s", batch_id, alerts_pending(batch_id).get("next_try"))
            continue
        lease = acquire(batch_id, owner, stage="index:done" if pending else stage, ttl=ttl, bind_pid=bind_pid,
                        now=now)
        if lease is None:
            log.info("batch %s is taken by another run: skipped", batch_id)
            continue
        leases.append(lease)
    return leases


def recover_stuck(now: Clock = _utcnow) -> dict[str, list[str]]:
    """Remove expired leases of batches nobody works on (their owner died or gave up); name the
    batches whose lease expired while a live process still holds the lock (a hung run)."""
    freed: list[str] = []
    hung: list[str] = []
    pg = registry()
    if pg is not None:
        unprocessed()
        freed, hung = pg.recover_stuck(now())
    for batch_id in unprocessed() if pg is None else []:
        lease = read_lease(batch_id)
        if not lease or _lease_alive(lease, now()):
            continue
        fd = _try_flock(batch_lock_path(batch_id))
        if fd is None:
            if lease.get("pid") is None or _expired(lease, now()):
                hung.append(batch_id)
            continue
        try:
            with data_lock("leases", timeout=60):
                if read_lease(batch_id) == lease:
                    (batch_path(batch_id) / LEASE_FILE).unlink(missing_ok=True)
                    freed.append(batch_id)
        finally:
            os.close(fd)
    if freed or hung:
        log.warning("stuck batches: %d freed %s, %d held by a hung process %s", len(freed), freed, len(hung), hung)
    return {"freed": freed, "hung": hung}
