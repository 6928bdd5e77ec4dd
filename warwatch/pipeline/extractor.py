"""Extraction with a time bound per page: one page must not hold a whole batch.

A long-lived worker process runs ``extract()`` page after page (started once per clean stage: no
process per page); a page that takes longer than ``pipeline.clean_page_timeout_seconds`` gets its
worker killed (whatever it was stuck in: a regex, a parser) and a fresh one started for the next
page. A process, not ``signal.alarm``: Airflow may run a task outside the main thread, and a
thread cannot be stopped in the middle of a regular expression.

The worker is a fresh interpreter (``python -c`` :data:`WORKER_MAIN`) talking over two
pipes, not a ``multiprocessing`` child: a forked child inherits the parent's threads' locks, and a
spawned one re-runs the parent's main script first - inside an Airflow task that is the
``airflow`` command, which initialises Airflow in the child and dies there (task processes have
no database connection). It gets the crawler child's environment (no credentials).

:class:`ExtractorPool` runs several such workers (one per core by default,
``pipeline.clean_workers``): each keeps its own time bound and restarts, pages go to whichever is
free, and the results come back in the order the pages went in, so the stage's output is the
serial path's, line for line.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import os
import queue
import subprocess
import sys
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from multiprocessing.connection import Connection
from typing import Any

log = logging.getLogger(__name__)

#: the extraction function the worker runs (``module:function``)
DEFAULT_TARGET = "indexing.extraction:extract"
#: how long a fresh worker may take to import the extractor before it counts as broken
STARTUP_SECONDS = 300.0
#: the worker's interpreter runs this (not ``-m warwatch.pipeline.extractor``: the package imports this
#: module first, and runpy then warns on every start that it finds it in sys.modules)
WORKER_MAIN = "import sys; from warwatch.pipeline.extractor import _main; _main(sys.argv[1:])"
#: extracted once by a fresh worker before it says it is ready
WARM_UP_PAGE = ("<html lang='en'><head><title>Warm-up</title></head><body><article><h1>Warm-up</h1>"
                + "<p>A short paragraph that wakes the extractor's parsers and language detection up.</p>" * 4
                + "</article></body></html>")


class ExtractionTimeout(Exception):
    """The page took longer than the bound: the worker was killed."""


class ExtractionCrashed(Exception):
    """The worker died on the page (a crash in a C extension, the OOM killer)."""


def _load(target: str) -> Any:
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def _serve(inbox: Connection, outbox: Connection, target: str) -> None:
    """The worker: ``(body, url)`` in, ``("ok", article)`` or ``("error", exception)`` out."""
    extract = _load(target)
    try:  # the extractor's lazy loads (parsers, language models) before the first page's clock starts
        extract(WARM_UP_PAGE, url=None)
    except Exception:  # noqa: BLE001 - a real page will say what is wrong
        log.debug("warm-up extraction failed", exc_info=True)
    outbox.send(("ready", None))
    while True:
        try:
            job = inbox.recv()
        except EOFError:  # the parent is gone
            return
        if job is None:
            return
        try:
            outbox.send(("ok", extract(job[0], url=job[1])))
        except Exception as exc:  # the parent re-raises it: in the worker it would be lost
            outbox.send(("error", exc))


def _main(argv: list[str]) -> None:  # pragma: no cover - runs in the worker process
    target, inbox_fd, outbox_fd, path = argv
    sys.path[:0] = [p for p in json.loads(path) if p not in sys.path]
    _serve(Connection(int(inbox_fd), writable=False), Connection(int(outbox_fd), readable=False), target)


class BoundedExtractor:
    """``extract(body, url)`` in a worker process, at most ``timeout`` seconds per page. Use as a
    context manager (the worker is stopped on exit)."""

    def __init__(self, timeout: float, target: str = DEFAULT_TARGET) -> None:
        self.timeout = timeout
        self.target = target
        self.restarts = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._conn: Connection | None = None  # from the worker
        self._send: Connection | None = None  # to the worker

    def __enter__(self) -> BoundedExtractor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        """Start the worker now (and wait until it is warm) instead of on the first page;
        :class:`ExtractionCrashed` when it does not come up."""
        if self._proc is None or self._proc.poll() is not None:
            self._start()

    def _start(self) -> Connection:
        from warwatch.pipeline.crawl import child_environment

        to_child, inbox = os.pipe()
        outbox, from_child = os.pipe()
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-c", WORKER_MAIN, self.target, str(to_child), str(from_child), json.dumps(sys.path)],
                pass_fds=(to_child, from_child), stdin=subprocess.DEVNULL, env=child_environment(os.environ))
        finally:
            os.close(to_child)
            os.close(from_child)
        self._send = Connection(inbox, readable=False)
        self._conn = conn = Connection(outbox, writable=False)
        try:
            ready = conn.poll(STARTUP_SECONDS) and conn.recv()[0] == "ready"
        except (EOFError, OSError):
            ready = False
        if not ready:
            status = None
            if self._proc is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):  # its pipe closed: it is exiting
                    status = self._proc.wait(5)
            self._kill()
            if status is not None:
                raise ExtractionCrashed(f"the extraction worker exited while starting (status {status}; "
                                        "its error is logged above)")
            raise ExtractionCrashed(f"the extraction worker did not start within {STARTUP_SECONDS:.0f} s")
        return conn

    def __call__(self, body: bytes | str, url: str | None) -> Any:
        return self.extract(body, url)

    def extract(self, body: bytes | str, url: str | None) -> Any:
        """The page's article; :class:`ExtractionTimeout` past the bound, :class:`ExtractionCrashed`
        when the worker died; the extractor's own exceptions as they are."""
        alive = self._conn is not None and self._proc is not None and self._proc.poll() is None
        conn = self._conn if alive and self._conn is not None else self._start()
        try:
            assert self._send is not None
            self._send.send((body, url))
        except OSError as exc:
            self._kill()
            raise ExtractionCrashed(f"the extraction worker died ({exc!r})") from exc
        if not conn.poll(self.timeout):
            self._kill()
            raise ExtractionTimeout(f"extraction took longer than {self.timeout:g} s")
        try:
            status, value = conn.recv()
        except (EOFError, OSError) as exc:
            self._kill()
            raise ExtractionCrashed(f"the extraction worker died ({exc!r})") from exc
        if status == "error":
            raise value
        return value

    def _kill(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait(10)
            self.restarts += 1
        self._close_pipes()
        self._proc = None

    def _close_pipes(self) -> None:
        for conn in (self._send, self._conn):
            if conn is not None:
                conn.close()
        self._send = self._conn = None

    def close(self) -> None:
        if self._proc is not None:
            try:
                if self._send is not None:
                    self._send.send(None)
            except OSError:
                pass
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(10)
        self._close_pipes()
        self._proc = None


class ExtractorPool:
    """``workers`` bounded extractors (fresh interpreters, as :class:`BoundedExtractor`) fed from
    threads: :meth:`imap` hands out pages as workers come free and yields each page's outcome in
    input order, with at most ``2 x workers`` pages in flight (bounded memory). Use as a context
    manager (the workers are stopped on exit). ``adopt``: an extractor started earlier (same bound
    and target), taken as one of the workers and stopped with them."""

    def __init__(self, workers: int, timeout: float, target: str = DEFAULT_TARGET,
                 adopt: BoundedExtractor | None = None) -> None:
        self.workers = max(1, workers)
        own = adopt is not None and adopt.timeout == timeout and adopt.target == target
        if adopt is not None and not own:
            adopt.close()
        self._extractors = ([adopt] if own and adopt is not None else []) + [
            BoundedExtractor(timeout, target) for _ in range(self.workers - (1 if own else 0))]
        self._free: queue.SimpleQueue[BoundedExtractor] = queue.SimpleQueue()
        for extractor in self._extractors:
            self._free.put(extractor)
        self._threads = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="extract")

    def __enter__(self) -> ExtractorPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def restarts(self) -> int:
        return sum(e.restarts for e in self._extractors)

    def _extract(self, body: bytes | str, url: str | None) -> Any:
        extractor = self._free.get()
        try:
            return extractor.extract(body, url)
        finally:
            self._free.put(extractor)

    def imap(self, jobs: Iterable[tuple[bytes | str, str | None] | Future[Any] | None]) -> Iterator[Future[Any] | None]:
        """For each job ``(body, url)`` a finished future (``.result()`` is the article, or raises
        what :meth:`BoundedExtractor.extract` raised); for each ``None`` job a ``None``; a job that
        is a future already (a page extracted ahead) as it is; in order. Jobs are read lazily, a
        window ahead of what was yielded."""
        window: deque[Future[Any] | None] = deque()
        for job in jobs:
            window.append(job if job is None or isinstance(job, Future) else self._threads.submit(self._extract, *job))
            while len(window) > 2 * self.workers or (window and window[0] is None):
                yield _settled(window.popleft())
        while window:
            yield _settled(window.popleft())

    def close(self) -> None:
        self._threads.shutdown(wait=True, cancel_futures=True)
        for extractor in self._extractors:
            extractor.close()


def _settled(future: Future[Any] | None) -> Future[Any] | None:
    if future is not None:
        future.exception()  # waits; the worker's own bound keeps this finite
    return future


if __name__ == "__main__":  # pragma: no cover - the worker process
    _main(sys.argv[1:])
