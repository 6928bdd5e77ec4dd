"""What ``warwatch run`` gets ready while other work runs, so the stages after the crawl do not wait.

The crawl is a child process that mostly waits on the network and holds one core at most; the
stages after it used to start from cold, one after the other. :class:`WarmStart`, opened before
the crawl, does in background threads what those stages would do first anyway:

- the search engine's indices, templates and alias (what the index stage's first step checks);
- the embedding model's stage instances (loaded once per process);
- the imports of enrichment (story grouping, documents); the topics and entities files are the
  extraction worker's (it enriches each article it extracts: :mod:`indexing.enrich.prepared`);
- one extraction worker process, started and warmed up, which the clean stage adopts.

While the crawl runs, that worker extracts the pages the crawler has archived so far (it flushes
each WARC record, then its manifest line: :meth:`WarmStart.follow`); the clean stage takes those
outcomes -- the same bounded extraction of the same bytes -- and extracts only the rest. Once a
batch is cleaned, the vectors of its articles (:func:`indexing.embeddings.stage.precompute`)
while the batch is enriched, indexed and its alerts run; the embedding stage then writes them
instead of running the model again (any text it does not find there, it embeds as before).

Nothing here changes what a stage produces: every step is one the stage would do itself, and a
step that fails here (engine down, model missing) is only logged -- the stage meets the same
problem and reports it the way it always has.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from indexing.settings import Settings

log = logging.getLogger(__name__)

#: imported ahead: the enrich stage's and the index stage's first calls
WARM_IMPORTS = ("indexing.enrich", "indexing.dedup", "indexing.index.documents", "indexing.index.bulk",
                "indexing.alerts")
#: pages extracted while the crawl runs, at most (their articles wait in memory for the clean stage)
MAX_AHEAD = 2000
#: how often the crawl's manifest is looked at for new lines
FOLLOW_POLL_SECONDS = 0.1


class WarmStart:
    """Background preparation for one ``warwatch run`` (a context manager; everything started is
    waited for or stopped on exit)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._threads = ThreadPoolExecutor(max_workers=6, thread_name_prefix="warm")
        self._engine: Future[None] | None = None
        self._embedders: Future[list[Any]] | None = None
        self._extractor: Future[Any] | None = None
        self._adopted = False
        self._ahead: dict[tuple[str, int], Future[Any]] = {}
        self._stop_following = threading.Event()
        #: set when the run leaves early (an exception): vectors still being computed stop at the next page
        self._closing = threading.Event()
        self._following: Future[None] | None = None
        self._vectors: list[Future[dict[str, Any]]] = []
        self._budget = settings.embeddings.max_per_run

    def __enter__(self) -> WarmStart:
        # the extraction worker first: it takes longest to come up, and extracts while the crawl runs
        self._extractor = self._threads.submit(self._start_extractor)
        self._engine = self._threads.submit(_quietly, "search engine set-up", self._prepare_engine)
        self._threads.submit(_quietly, "imports", lambda: [importlib.import_module(m) for m in WARM_IMPORTS])
        if self._vectors_on():
            self._embedders = self._threads.submit(self._load_embedders)
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        self._stop_following.set()
        if exc_type is not None:  # nobody will write the vectors: do not wait for all of them
            self._closing.set()
        self._threads.shutdown(wait=True, cancel_futures=True)
        extractor = self._take(self._extractor)
        if extractor is not None and not self._adopted:
            extractor.close()

    # ------------------------------------------------------------------ what runs in the threads
    def _prepare_engine(self) -> None:
        from indexing.engine import connect
        from indexing.index.setup import setup_indices
        from warwatch.pipeline.batches import data_lock

        engine = connect(self.settings)
        with data_lock("index"):  # as the index stage does it
            setup_indices(engine, self.settings.index_prefix, partition=self.settings.pipeline.index_partition)

    def _load_embedders(self) -> list[Any]:
        from indexing.embeddings import get_stage_embedders
        from indexing.embeddings.parallel import stage_workers

        config = self.settings.embeddings
        try:
            return get_stage_embedders(config, stage_workers(config.stage_workers))
        except Exception as exc:  # noqa: BLE001 - the embedding stage reports it
            log.info("warm start: embedding model not loaded ahead (%s)", exc)
            return []

    def _start_extractor(self) -> Any:
        from warwatch.pipeline.extractor import BoundedExtractor, ExtractionCrashed

        timeout = self.settings.pipeline.clean_page_timeout_seconds
        if timeout is None:  # the clean stage extracts in its own process
            return None
        # the clean stage's module (the package exports its function under the same name)
        extractor = BoundedExtractor(timeout, importlib.import_module("warwatch.pipeline.clean").EXTRACTOR)
        try:
            extractor.start()
        except ExtractionCrashed as exc:  # the clean stage starts its own, and reports what goes wrong
            log.info("warm start: extraction worker not started ahead (%s)", exc)
            extractor.close()
            return None
        return extractor

    # ------------------------------------------------------------------ while the crawl runs
    @contextlib.contextmanager
    def follow(self, run_id: str) -> Iterator[None]:
        """Around the crawl of batch ``run_id``: the warm extraction worker extracts its pages as
        they are archived, until the crawl is over (then the page in hand is finished)."""
        from warwatch.pipeline.common import run_dir

        self._following = self._threads.submit(_quietly, "extraction while crawling",
                                               lambda: self._extract_ahead(run_dir(run_id) / "manifest.jsonl"))
        try:
            yield
        finally:
            self._stop_following.set()
            self._take(self._following)

    def _extract_ahead(self, manifest: Path) -> None:
        from indexing.storage import LocalStorage
        from warwatch.pipeline.clean import _skip_reason, capture_key, read_job
        from warwatch.pipeline.common import StageCounts, capture_storage

        storage, scratch = capture_storage(), StageCounts("clean")
        if not isinstance(storage, LocalStorage):  # an object store gets each WARC file once it is closed
            return
        extractor = self._take(self._extractor)
        if extractor is None:
            return
        for entry in _new_entries(manifest, self._stop_following):
            key = capture_key(entry)
            if len(self._ahead) >= MAX_AHEAD:
                return
            if key is None or entry.get("takedown") or _skip_reason(entry) or key in self._ahead:
                continue
            job = read_job(entry, scratch, storage)  # unreadable: left to the clean stage, which counts it
            if job is None:
                continue
            outcome: Future[Any] = Future()
            try:
                outcome.set_result(extractor.extract(*job))
            except Exception as exc:  # noqa: BLE001 - the clean stage counts it as it counts its own
                outcome.set_exception(exc)
            self._ahead[key] = outcome

    # ------------------------------------------------------------------ what the stages take
    @contextlib.contextmanager
    def stage(self, name: str, run_id: str) -> Iterator[None]:
        """Around one stage of a batch: the clean stage adopts the warm extraction worker; once
        it is done, the batch's vectors are computed in the background. The index stage starts
        once the engine set-up begun ahead is over (it checks the same indices)."""
        if name != "clean":
            if name == "index":
                self._take(self._engine)
            yield
            return
        from warwatch.pipeline.clean import adopting

        if self._following is not None:  # the extraction along the crawl is over before the stage starts
            self._stop_following.set()
            self._take(self._following)
        extractor = None if self._adopted else self._take(self._extractor)
        self._adopted = True
        with adopting(extractor, self._ahead):
            yield
        self._precompute(run_id)

    def _precompute(self, run_id: str) -> None:
        if self._budget is not None and self._budget <= 0 or not self._vectors_on():
            return
        docs = _cleaned_articles(run_id, self._budget)
        if self._budget is not None:
            self._budget -= len(docs)
        if docs:
            self._vectors.append(self._threads.submit(self._embed, docs))

    def _embed(self, docs: list[dict[str, Any]]) -> dict[str, Any]:
        from indexing.embeddings.stage import precompute

        embedders = self._take(self._embedders) or []
        config = self.settings.embeddings
        return precompute(embedders, docs, config.max_chars, batch_size=config.batch_size,
                          stop=self._closing.is_set)

    def _vectors_on(self) -> bool:
        from indexing.embeddings import vectors_off

        return not vectors_off(self.settings.embeddings)

    def vectors(self) -> dict[str, Any]:
        """The vectors computed ahead so far (waiting for those still running), keyed by text."""
        out: dict[str, Any] = {}
        for future in self._vectors:
            out.update(self._take(future) or {})
        return out

    @staticmethod
    def _take(future: Future[Any] | None) -> Any:
        if future is None:
            return None
        try:
            return future.result()
        except Exception as exc:  # noqa: BLE001 - only a head start was lost
            log.info("warm start: %s", exc)
            return None


def _quietly(what: str, step: Any) -> None:
    try:
        step()
    except Exception as exc:  # noqa: BLE001 - the stage that needs it meets it again and reports it
        log.info("warm start: %s not done ahead (%s)", what, exc)


def _cleaned_articles(run_id: str, limit: int | None) -> list[dict[str, Any]]:
    """The articles of the batch's cleaned.jsonl (at most ``limit``)."""
    from warwatch.pipeline.common import jsonl_lines, run_dir

    path = run_dir(run_id) / "cleaned.jsonl"
    out: list[dict[str, Any]] = []
    if not path.exists():
        return out
    for rec in jsonl_lines(path):
        if limit is not None and len(out) >= limit:
            break
        out.append(rec["article"])
    return out


def _new_entries(manifest: Path, stop: threading.Event) -> Iterator[dict[str, Any]]:
    """The manifest's entries as the crawler appends them (complete lines only), until ``stop``."""
    offset, partial = 0, b""
    while not stop.is_set():
        try:
            with open(manifest, "rb") as fh:
                fh.seek(offset)
                chunk = fh.read(1 << 20)
        except FileNotFoundError:
            chunk = b""
        if not chunk:
            stop.wait(FOLLOW_POLL_SECONDS)
            continue
        offset += len(chunk)
        *lines, partial = (partial + chunk).split(b"\n")
        for line in lines:
            if stop.is_set():
                return
            try:
                entry = json.loads(line)
            except ValueError:  # the clean stage reads the same line and says what is wrong with it
                continue
            if isinstance(entry, dict):
                yield entry
