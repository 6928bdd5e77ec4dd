"""Extraction with a time bound per page: one page must not hold a whole batch.

A long-lived worker process runs ``extract()`` page after page (started once per clean stage: no
process per page); a page that takes longer than ``pipeline.clean_page_timeout_seconds`` gets its
worker killed (whatever it was stuck in: a regex, a parser) and a fresh one started for the next
page. A process, not ``signal.alarm``: Airflow may run a task outside the main thread, and a
thread cannot be stopped in the middle of a regular expression.
"""

from __future__ import annotations

import importlib
import logging
import multiprocessing
from multiprocessing.connection import Connection
from typing import Any

log = logging.getLogger(__name__)

#: the extraction function the worker runs (``module:function``)
DEFAULT_TARGET = "indexing.extraction:extract"
#: how long a fresh worker may take to import the extractor before it counts as broken
STARTUP_SECONDS = 300.0


class ExtractionTimeout(Exception):
    """The page took longer than the bound: the worker was killed."""


class ExtractionCrashed(Exception):
    """The worker died on the page (a crash in a C extension, the OOM killer)."""


def _load(target: str) -> Any:
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def _serve(conn: Connection, target: str) -> None:
    """The worker: ``(body, url)`` in, ``("ok", article)`` or ``("error", exception)`` out."""
    extract = _load(target)
    conn.send(("ready", None))
    while True:
        job = conn.recv()
        if job is None:
            return
        try:
            conn.send(("ok", extract(job[0], url=job[1])))
        except Exception as exc:  # the parent re-raises it: in the worker it would be lost
            conn.send(("error", exc))


class BoundedExtractor:
    """``extract(body, url)`` in a worker process, at most ``timeout`` seconds per page. Use as a
    context manager (the worker is stopped on exit)."""

    def __init__(self, timeout: float, target: str = DEFAULT_TARGET) -> None:
        self.timeout = timeout
        self.target = target
        self.restarts = 0
        self._proc: Any = None
        self._conn: Connection | None = None

    def __enter__(self) -> BoundedExtractor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _start(self) -> Connection:
        ctx = multiprocessing.get_context("spawn")  # no fork of a parent that may hold threads and locks
        conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(child, self.target), name="warwatch-extract")
        self._proc.start()
        child.close()
        self._conn = conn
        if not conn.poll(STARTUP_SECONDS) or conn.recv()[0] != "ready":
            self._kill()
            raise ExtractionCrashed(f"the extraction worker did not start within {STARTUP_SECONDS:.0f} s")
        return conn

    def __call__(self, body: bytes | str, url: str | None) -> Any:
        return self.extract(body, url)

    def extract(self, body: bytes | str, url: str | None) -> Any:
        """The page's article; :class:`ExtractionTimeout` past the bound, :class:`ExtractionCrashed`
        when the worker died; the extractor's own exceptions as they are."""
        conn = self._conn if self._conn is not None and self._proc.is_alive() else self._start()
        conn.send((body, url))
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
            self._proc.join(10)
            self.restarts += 1
        if self._conn is not None:
            self._conn.close()
        self._proc = self._conn = None

    def close(self) -> None:
        if self._conn is not None and self._proc is not None:
            try:
                self._conn.send(None)
            except OSError:
                pass
            self._proc.join(10)
            if self._proc.is_alive():
                self._proc.kill()
                self._proc.join(10)
            self._conn.close()
        self._proc = self._conn = None
