"""The crawl stage: one ``warwatch-crawl`` child process per batch, bounded in time, never outliving
the process that started it.

- Scrapy's reactor cannot restart in-process (ENVIRONMENT.md), so every crawl is a child process.
- The child runs in its own process group. Whatever stops the parent -- the budget running out,
  Ctrl-C, SIGTERM from Airflow, an exception -- stops the whole group: SIGTERM first (Scrapy
  closes cleanly and writes its report), SIGKILL after ``pipeline.crawl_grace_seconds``.
  If the parent is SIGKILLed, the kernel kills the child too (``PR_SET_PDEATHSIG``).
- The child inherits the batch lock (:mod:`warwatch.pipeline.batches`): nobody processes a batch
  that a crawler still writes to, and the lock drops the moment the crawler is gone.
- Nothing fetched is lost when a crawl is cut short: the crawler writes each manifest line before
  it marks the article seen, and the batch stays unprocessed until a processing run takes it.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import IO, Any

import yaml

from indexing.fileio import read_json
from indexing.settings import get_settings
from indexing.yamlconfig import load_document, read_config
from warwatch.pipeline import batches
from warwatch.pipeline.common import CrawlError, batch_files, run_dir
from warwatch.pipeline.discovery import record_full_discovery

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1


def crawler_command() -> list[str]:
    """The crawler's entry point (the ``warwatch-crawl`` console script installed beside this
    interpreter), or the same module through this interpreter where scripts are not installed."""
    script = Path(sys.executable).with_name("warwatch-crawl")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "crawlers.run"]


def process_owner() -> str:
    """The lease owner name of a run bound to this process (the CLI)."""
    return f"cli:{socket.gethostname()}:{os.getpid()}"


def crawl(
    run_id: str,
    sources_path: Path | None = None,
    source_ids: Iterable[str] = (),
    on_line: Callable[[str], None] | None = None,
    *,
    owner: str | None = None,
    budget: float | None = None,
    full_discovery: bool = True,
) -> dict[str, Any]:
    """Crawl the configured sources (or ``source_ids``) into the new batch ``run_id``.

    Returns the crawl report (per-source counts). Raises :class:`CrawlError` when the crawl could
    not run, failed, or had to be stopped past its budget; what it fetched stays in the batch.
    """
    from indexing.sources import load_sources

    settings = get_settings()
    sources = Path(sources_path or settings.sources)
    loaded = load_sources(sources)  # fail fast, in this process, with the file/line/key message
    wanted = list(source_ids) or [s.id for s in loaded]
    budget = settings.pipeline.crawl_budget_seconds if budget is None else budget
    grace = settings.pipeline.crawl_grace_seconds
    owner = owner or process_owner()
    publish_leftovers(owner)
    lease = batches.acquire(run_id, owner, stage="crawl", ttl=budget + 3 * grace + 60, create=True)
    if lease is None or batches.read_meta(run_id):
        if lease is not None:
            batches.release(lease)
        raise CrawlError(f"batch {run_id} exists already: a crawl never writes into an earlier batch")
    try:
        rdir = run_dir(run_id)
        started = datetime.now(UTC)
        meta = {"batch_id": run_id, "sources": wanted, "full_discovery": full_discovery, "owner": owner,
                "host": socket.gethostname(), "started": started.isoformat(), "budget_seconds": budget}
        batches.write_meta(run_id, meta)
        if not full_discovery:
            sources = feeds_only_sources(sources, wanted, rdir / "sources-feeds.yaml")
        cmd = [*crawler_command(), "--run-id", run_id, "--sources", str(sources.resolve())]
        for sid in source_ids:
            cmd += ["--source", sid]
        # The file backend's flock is inherited by the crawler; with state.backend postgres the lock
        # is this process's session's, held while the crawler runs (it dies with us: PDEATHSIG).
        code, timed_out = _run_child(cmd, _child_env(budget), rdir / "crawl.log", on_line,
                                     lease.fd, budget, grace)
        batches.write_meta(run_id, {**meta, "finished": datetime.now(UTC).isoformat(), "exit": code,
                                    "timed_out": timed_out})
        published = _publish_crawl(run_id)  # before the lease goes: whoever takes the batch next finds it whole
    finally:
        batches.release(lease)
    report = _crawl_result(run_id, rdir, code, timed_out, budget, full_discovery, wanted)
    return {**report, "batch_files": published} if published else report


#: what a crawl leaves in its batch for the stages after it, ``batch.json`` (the "finished" mark) last
CRAWL_FILES = ("manifest.jsonl", "crawl-report.json", "crawl.log", batches.META_FILE)
#: batch directories one crawl looks at for output an earlier crawl on this host did not publish
MAX_LEFTOVERS = 200


def _publish_crawl(run_id: str) -> dict[str, Any]:
    """The crawl's output into the object store ({} with the local backend: nothing to do). A store
    that fails leaves it here, counted, published by the next crawl on this host
    (:func:`publish_leftovers`); until then other hosts leave the batch alone (its ``batch.json``
    with ``finished`` is not in the store: :class:`~warwatch.pipeline.common.BatchNotReady`)."""
    from indexing.storage import StorageError

    files = batch_files()
    if not files.remote:
        return {}
    try:
        done = files.publish(run_id, *CRAWL_FILES)
    except (StorageError, OSError) as exc:
        log.warning("crawl %s: its files could not be put into the object store (%s); they stay in %s and the "
                    "next crawl on this host publishes them", run_id, exc, files.path(run_id, "x").parent)
        return {"published": 0, "publish_failed": 1, "error": str(exc)[:300]}
    files.mark_published(run_id)
    return {"published": done, "publish_failed": 0}


def publish_leftovers(owner: str, limit: int = MAX_LEFTOVERS) -> list[str]:
    """Publish the output of crawls on this host that ended without publishing it (killed, or the
    store was away), each under the batch's lease (a crawl still running holds it: left alone);
    a batch that never got its "finished" mark gets one (``interrupted``). Returns their ids."""
    files = batch_files()
    if not files.remote:
        return []
    done: list[str] = []
    host = socket.gethostname()
    for bid in files.unpublished(batches.all_batches())[-limit:]:
        meta = batches.read_meta(bid)
        if meta.get("host") != host or not meta.get("started"):
            continue  # not crawled here (a work copy of another host's batch): not ours to publish
        lease = batches.acquire(bid, owner, stage="publish", ttl=600)
        if lease is None:
            if batches.is_processed(bid):
                files.mark_published(bid)
            continue
        try:
            if not meta.get("finished"):
                batches.write_meta(bid, {**meta, "finished": datetime.now(UTC).isoformat(), "interrupted": True})
            if _publish_crawl(bid).get("publish_failed"):
                break  # the store is away: the rest waits too
            done.append(bid)
        finally:
            batches.release(lease)
    if done:
        log.warning("published the output of %d interrupted crawl(s) of this host: %s", len(done), done)
    return done


def _crawl_result(run_id: str, rdir: Path, code: int, timed_out: bool, budget: float,
                  full_discovery: bool, wanted: list[str]) -> dict[str, Any]:
    log_path = rdir / "crawl.log"
    if timed_out:
        raise CrawlError(f"crawl {run_id} ran past its budget of {budget:.0f} s and was stopped; what it "
                         f"fetched is kept and processed with the batch. Last log lines:\n{_tail(log_path, 8)}")
    if code != 0:
        raise CrawlError(f"crawl {run_id} exited with status {code}; last log lines:\n{_tail(log_path, 8)}")
    report = read_json(rdir / "crawl-report.json")
    if not report:
        raise CrawlError(f"crawl {run_id} wrote no report ({rdir / 'crawl-report.json'})")
    if full_discovery:  # not for a source skipped because another crawl had it (crawlers.locks)
        record_full_discovery([s for s in wanted if s not in set(report.get("locked") or [])])
    return report


#: What the crawler child (the process that parses hostile pages) inherits: an allow-list. It
#: never sees engine or SMTP credentials, webhook URLs, or Airflow's secrets (AIRFLOW__*: Fernet
#: key, JWT secret, database URL); it needs none of them.
CHILD_ENV_NAMES = frozenset({
    "PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "TEMP", "TMP",
    "SSL_CERT_FILE", "SSL_CERT_DIR", "VIRTUAL_ENV", "SYSTEMROOT",
    # proxies pass only where they are configured, for the crawl's own requests
    "http_proxy", "https_proxy", "no_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY",
})
CHILD_ENV_PREFIXES = ("LC_", "PYTHON", "WARWATCH_")
#: WARWATCH_* settings withheld all the same: the engine's and the alerts' (credentials, URLs with
#: credentials, webhook URLs), and anything named like a secret
_WITHHELD = re.compile(r"^WARWATCH_(ES_|ALERTS_|HEALTH__CHANNELS|EMBEDDINGS__)|PASSW|SECRET|TOKEN|API_?KEY|"
                       r"CREDENTIAL|WEBHOOK|COOKIE|AUTH", re.IGNORECASE)


#: with ``storage.backend: s3`` only: the object store's credentials, which the crawler needs to
#: upload its WARC files and read stored captures back for revisits (give it a key limited to the bucket)
STORAGE_ENV_NAMES = frozenset({
    "WARWATCH_STORAGE__ACCESS_KEY_ID", "WARWATCH_STORAGE__SECRET_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
    "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE", "AWS_CA_BUNDLE",
})


def child_environment(parent: Mapping[str, str], storage_credentials: bool = False) -> dict[str, str]:
    """The part of ``parent`` the crawler child may see (see :data:`CHILD_ENV_NAMES`; the object
    store's credentials too when ``storage_credentials``)."""
    return {k: v for k, v in parent.items()
            if (storage_credentials and k in STORAGE_ENV_NAMES) or (
                k not in STORAGE_ENV_NAMES and (k in CHILD_ENV_NAMES or k.startswith(CHILD_ENV_PREFIXES))
                and not _WITHHELD.search(k))}


def _child_env(budget: float) -> dict[str, str]:
    from indexing.settings import CrawlSettings

    env = child_environment(os.environ, storage_credentials=get_settings().storage.backend == "s3")
    env["WARWATCH_DATA_DIR"] = str(get_settings().data_dir.resolve())
    if "time_budget_seconds" in CrawlSettings.model_fields:
        # The crawler stops itself cleanly at the budget; the parent only enforces budget + grace.
        env["WARWATCH_CRAWL__TIME_BUDGET_SECONDS"] = str(budget)
    return env


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: the child gets SIGKILL when the parent dies, even by SIGKILL."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _pump(stream: IO[bytes], on_line: Callable[[str], None] | None) -> None:
    for raw in stream:
        if on_line:
            on_line(raw.decode("utf-8", "replace").rstrip("\n"))


def _run_child(cmd: list[str], env: dict[str, str], log_path: Path, on_line: Callable[[str], None] | None,
               lock_fd: int | None, budget: float, grace: float) -> tuple[int, bool]:
    """Run the crawler; returns (exit status, stopped past budget + grace)."""
    log.info("crawl: %s", " ".join(cmd))
    with log_path.open("ab") as log_fh:
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=log_fh, start_new_session=True,
                                pass_fds=() if lock_fd is None else (lock_fd,), preexec_fn=_die_with_parent)  # noqa: PLW1509
    assert proc.stdout is not None
    reader = threading.Thread(target=_pump, args=(proc.stdout, on_line), daemon=True)
    reader.start()
    timed_out = False
    with _stop_child_on_sigterm(proc, grace):
        try:
            proc.wait(timeout=budget + grace)
        except subprocess.TimeoutExpired:
            timed_out = True
            log.warning("crawl past its budget (%.0f s + %.0f s grace): stopping it", budget, grace)
        finally:
            # Budget exceeded, Ctrl-C, Airflow's timeout exception: the crawler never outlives us.
            if proc.poll() is None:
                stop_process_group(proc, grace)
    reader.join(timeout=5)
    return int(proc.returncode), timed_out


def stop_process_group(proc: subprocess.Popen[Any], grace: float) -> None:
    """SIGTERM to the child's process group, SIGKILL after ``grace`` seconds."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


@contextlib.contextmanager
def _stop_child_on_sigterm(proc: subprocess.Popen[Any], grace: float) -> Iterator[None]:
    """While the crawl runs, SIGTERM to this process (Airflow killing the task, ``kill``) stops the
    crawler's group first, then does what it did before (Airflow's handler, or exit 143)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGTERM)

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        stop_process_group(proc, grace)
        if callable(previous):
            previous(signum, frame)
        else:
            raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _tail(path: Path, n: int) -> str:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(lines[-n:])


# --------------------------------------------------------------------------- feeds vs discovery
def feeds_only_sources(path: Path, source_ids: list[str], out: Path) -> Path:
    """A copy of the sources file with only ``source_ids`` and without sitemaps and sections: a
    feed poll (conditional GETs; articles already discovered and still pending are resumed)."""
    doc = load_document(read_config(path, "sources file"), path, ["sources"])
    kept = []
    for entry in ([] if doc.empty else doc.data.get("sources")) or []:
        if isinstance(entry, dict) and entry.get("id") in source_ids:
            kept.append({**entry, "sitemaps": [], "sections": []})
    out.write_text(yaml.safe_dump({"sources": kept}, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return out


def crawl_progress(line: str) -> dict[str, Any] | None:
    """A progress event of the crawler's stdout, or None for any other line."""
    try:
        event = json.loads(line)
    except ValueError:
        return None
    return event if isinstance(event, dict) else None
