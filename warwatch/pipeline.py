"""One cycle: crawl (a subprocess) -> clean -> enrich -> index -> report.

Each stage reads and writes files under ``data/runs/<run_id>/`` so it can be re-run on its own
(Airflow retries, ``warwatch reprocess``) and changes nothing that was already right.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from indexing.dates import clamp, parse_iso
from indexing.settings import get_settings

log = logging.getLogger(__name__)

ProgressCallback = Callable[[str, int, int | None], None]


class PipelineError(RuntimeError):
    """A stage could not run at all (as opposed to per-record failures, which are counted)."""


class CrawlError(PipelineError):
    pass


class IndexingError(PipelineError):
    pass


@dataclass
class StageCounts:
    stage: str
    counts: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"stage": self.stage, "seconds": round(self.seconds, 3), **dict(self.counts)}


def new_run_id(now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def run_dir(run_id: str) -> Path:
    if not run_id or "/" in run_id or run_id.startswith("."):
        raise PipelineError(f"bad run id {run_id!r}")
    path = get_settings().runs_dir / run_id
    path.mkdir(parents=True, exist_ok=True)
    return path


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _jsonl_lines(path: Path) -> Iterator[dict[str, Any]]:
    """Records of a JSONL file; a truncated last line (a killed writer) is skipped with a warning."""
    if not path.exists():
        return
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            line = line.strip()
            if not line:
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                log.warning("%s:%d: unreadable line skipped", path, lineno)


# --------------------------------------------------------------------------- crawl
def crawl(
    run_id: str,
    sources_path: Path | None = None,
    source_ids: Iterable[str] = (),
    on_line: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Crawl every configured source in a subprocess (Scrapy's reactor cannot restart in-process).

    Returns the crawl report (per source counts). Raises CrawlError if the crawl could not run.
    """
    settings = get_settings()
    rdir = run_dir(run_id)
    sources = Path(sources_path or settings.sources)
    from indexing.sources import load_sources

    load_sources(sources)  # fail fast, in this process, with the file/line/key message
    cmd = [*crawler_command(), "--run-id", run_id, "--sources", str(sources.resolve())]
    for sid in source_ids:
        cmd += ["--source", sid]
    env = dict(os.environ)
    env["WARWATCH_DATA_DIR"] = str(settings.data_dir.resolve())
    log_path = rdir / "crawl.log"
    log.info("crawl %s: %s", run_id, " ".join(cmd))
    with log_path.open("ab") as log_fh:
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=log_fh)
        assert proc.stdout is not None
        for raw in proc.stdout:
            if on_line:
                on_line(raw.decode("utf-8", "replace").rstrip("\n"))
        code = proc.wait()
    if code != 0:
        tail = _tail(log_path, 8)
        raise CrawlError(f"crawl {run_id} exited with status {code}; last log lines:\n{tail}")
    report_path = rdir / "crawl-report.json"
    if not report_path.exists():
        raise CrawlError(f"crawl {run_id} wrote no report ({report_path})")
    report: dict[str, Any] = json.loads(report_path.read_text(encoding="utf-8"))
    return report


def crawler_command() -> list[str]:
    """The crawler's entry point (the ``warwatch-crawl`` console script installed beside this
    interpreter), or the same module through this interpreter where scripts are not installed."""
    script = Path(sys.executable).with_name("warwatch-crawl")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "crawlers.run"]


def _tail(path: Path, n: int) -> str:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(lines[-n:])


# --------------------------------------------------------------------------- clean
HTML_TYPES = ("text/html", "application/xhtml+xml")


def clean(run_id: str, progress: ProgressCallback | None = None) -> StageCounts:
    """Extract the article of every archived response of the run into cleaned.jsonl.

    Responses that are not articles are counted by reason, never silently dropped.
    """
    from indexing.archive import iter_manifest, read_record
    from indexing.extraction import extract

    settings = get_settings()
    rdir = run_dir(run_id)
    manifest = rdir / "manifest.jsonl"
    result = StageCounts("clean")
    started = time.monotonic()
    entries = list(iter_manifest(manifest)) if manifest.exists() else []
    out_tmp = rdir / "cleaned.jsonl.tmp"
    with out_tmp.open("w", encoding="utf-8") as out:
        for i, entry in enumerate(entries, 1):
            if progress:
                progress("clean", i, len(entries))
            result.counts["responses"] += 1
            reason = _skip_reason(entry)
            if reason:
                result.counts[f"skipped:{reason}"] += 1
                continue
            try:
                record = read_record(settings.data_dir / entry["warc_file"], int(entry["warc_offset"]))
            except Exception as exc:  # a damaged archive must not stop the run: count it
                log.warning("cannot read WARC record for %s: %s", entry.get("url"), exc)
                result.counts["failed:warc_unreadable"] += 1
                continue
            article = extract(record.body, url=entry.get("final_url") or entry.get("url"))
            if article.status != "ok":
                if article.status_reason == "paywall" and article.body:
                    # Kept, but marked (access: paywall_teaser): never passed off as the article.
                    result.counts["paywall_teasers"] += 1
                else:
                    result.counts[f"not_article:{article.status_reason or 'unknown'}"] += 1
                    continue
            out.write(json.dumps({"article": article.to_dict(), "crawl": entry}, ensure_ascii=False) + "\n")
            result.counts["articles"] += 1
    os.replace(out_tmp, rdir / "cleaned.jsonl")
    result.seconds = time.monotonic() - started
    _atomic_write_text(rdir / "clean-report.json", json.dumps(result.as_dict(), indent=2))
    return result


def _skip_reason(entry: dict[str, Any]) -> str | None:
    status = entry.get("status")
    if status is not None and not (200 <= int(status) < 300):
        return f"http_{status}"
    ctype = (entry.get("content_type") or "").split(";")[0].strip().lower()
    if ctype and ctype not in HTML_TYPES:
        return "not_html"
    if not entry.get("warc_file"):
        return "not_archived"
    return None


# --------------------------------------------------------------------------- index
def index(run_id: str, progress: ProgressCallback | None = None) -> StageCounts:
    """Enrich the run's cleaned articles, assign stories, and index them (pending ones first)."""
    from indexing.dedup import StoryIndex
    from indexing.engine import EngineUnavailable, connect
    from indexing.enrich import enrich
    from indexing.index.bulk import index_documents
    from indexing.index.documents import DocumentError, article_to_document
    from indexing.index.pending import PendingQueue
    from indexing.index.setup import setup_indices

    rdir = run_dir(run_id)
    result = StageCounts("index")
    started = time.monotonic()
    docs: list[dict[str, Any]] = []
    stories = StoryIndex.open()
    try:
        for rec in _jsonl_lines(rdir / "cleaned.jsonl"):
            article, crawl_entry = rec["article"], rec["crawl"]
            article["published"] = resolve_published(article.get("published"), crawl_entry)
            enriched = enrich(article)
            try:
                doc = article_to_document(
                    article,
                    source=crawl_entry["source"],
                    # CONTRACT: `url` is where it was fetched from (canonicalised); the id comes
                    # from the canonical URL.
                    url=crawl_entry.get("final_url") or crawl_entry["url"],
                    fetched_at=crawl_entry.get("fetched_at"),
                    enrichment=enriched,
                )
            except DocumentError as exc:
                log.warning("not indexed: %s", exc)
                result.counts["failed:no_usable_url"] += 1
                continue
            story = stories.assign(doc["_id"] if "_id" in doc else doc["id"], article.get("body") or "",
                                   _parse_dt(article.get("published")))
            doc["story_id"] = story.story_id
            doc["duplicate_of"] = story.duplicate_of
            docs.append(doc)
        stories.save()
    finally:
        close = getattr(stories, "close", None)
        if close:
            close()
    pending = PendingQueue()
    pending.add(run_id, docs)
    try:
        engine = connect()
        setup_indices(engine)
    except EngineUnavailable as exc:
        result.counts["pending"] = pending.count()
        raise IndexingError(
            f"search engine unavailable ({exc}); {pending.count()} documents kept pending in "
            f"{pending.path} and indexed by the next run"
        ) from exc
    indexed_ids: list[str] = []

    def index_batch(batch: list[dict[str, Any]]) -> Any:
        counts = index_documents(engine, batch, progress=progress)
        indexed_ids.extend(str(d["id"]) for d in batch)
        return counts

    try:
        stats = pending.flush(index_batch)
    except EngineUnavailable as exc:  # the node went away mid-run: what is left stays pending
        raise IndexingError(f"{exc}; the rest stays pending in {pending.path} for the next run") from exc
    finally:
        # What this run put into the index (documents left pending by an earlier run included):
        # the alerts stage looks at exactly these.
        _atomic_write_text(rdir / "indexed-ids.txt", "".join(f"{i}\n" for i in dict.fromkeys(indexed_ids)))
    result.counts.update({k: v for k, v in stats.items() if isinstance(v, int)})
    # A finished run is searchable at once (the next scheduled refresh could be a second away).
    engine.refresh(get_settings().articles_alias)
    result.seconds = time.monotonic() - started
    _atomic_write_text(rdir / "index-report.json", json.dumps(result.as_dict(), indent=2))
    return result


#: How far past the fetch time a publication date may lie (time zones, clock skew) before it is wrong.
def resolve_published(extracted: Any, crawl_entry: dict[str, Any]) -> str | None:
    """The page's own publication date unless it is missing or implausible (in the future, see
    ``indexing.dates``); then the date the feed or news sitemap gave (``published_hint``)."""
    fetched = _parse_dt(crawl_entry.get("fetched_at")) or datetime.now(UTC)
    for candidate in (extracted, crawl_entry.get("published_hint")):
        dt = _parse_dt(candidate)
        if dt is None:
            continue
        plausible = clamp(dt, now=fetched)
        if plausible is not None:
            return plausible.isoformat()
        log.info("publication date %s of %s is implausible: ignored", dt, crawl_entry.get("url"))
    return None


def _parse_dt(value: Any) -> datetime | None:
    return parse_iso(value) if value else None


# --------------------------------------------------------------------------- alerts
def alerts(run_id: str) -> dict[str, Any]:
    """Alert every watch once per new story among the documents this run indexed
    (``runs/<run_id>/alerts-report.json``); undelivered alerts stay queued for the next run."""
    from indexing.alerts import evaluate

    run_dir(run_id)
    return evaluate(run_id).as_dict()


# --------------------------------------------------------------------------- report
def report(run_id: str) -> dict[str, Any]:
    """Merge the stage reports of a run into data/reports/<run_id>.json and return it."""
    settings = get_settings()
    rdir = run_dir(run_id)

    def load(name: str) -> dict[str, Any]:
        p = rdir / name
        return json.loads(p.read_text(encoding="utf-8")) if p.exists() else {}

    merged = {
        "run_id": run_id,
        "finished_at": datetime.now(UTC).isoformat(),
        "crawl": load("crawl-report.json"),
        "clean": load("clean-report.json"),
        "index": load("index-report.json"),
        "alerts": load("alerts-report.json"),
    }
    merged["problems"] = problems(merged)
    settings.reports_dir.mkdir(parents=True, exist_ok=True)
    _atomic_write_text(settings.reports_dir / f"{run_id}.json", json.dumps(merged, indent=2, ensure_ascii=False))
    return merged


def problems(merged: dict[str, Any]) -> list[str]:
    """Human-readable reasons this run should not count as a success."""
    out: list[str] = []
    crawl_sources = (merged.get("crawl") or {}).get("sources") or {}
    for sid, counts in crawl_sources.items():
        for flag in counts.get("flags") or []:
            out.append(f"source {sid}: {flag}")
    idx = merged.get("index") or {}
    if idx.get("failed"):
        out.append(f"{idx['failed']} documents rejected by the search engine (see dead-letter file)")
    alerts_report = merged.get("alerts") or {}
    out.extend(f"alerts: {p}" for p in alerts_report.get("problems") or [])
    for failure in alerts_report.get("failures") or []:
        out.append(f"alert {failure.get('alert_id')} of watch {failure.get('watch')} not delivered to "
                   f"{failure.get('channel')} (queued for the next run): {failure.get('error')}")
    return out


# --------------------------------------------------------------------------- cycle
@dataclass
class CycleResult:
    run_id: str
    report: dict[str, Any]

    @property
    def ok(self) -> bool:
        return not self.report.get("problems")


def run_cycle(
    sources_path: Path | None = None,
    run_id: str | None = None,
    progress: ProgressCallback | None = None,
    on_crawl_line: Callable[[str], None] | None = None,
) -> CycleResult:
    """crawl -> clean -> index -> report for every configured source."""
    from indexing.alerts import load_config

    run_id = run_id or new_run_id()
    load_config()  # a broken watches file fails the cycle before anything is fetched
    crawl(run_id, sources_path, on_line=on_crawl_line)
    return _clean_index_report(run_id, progress)


def _clean_index_report(run_id: str, progress: ProgressCallback | None) -> CycleResult:
    """The stages after the crawl; the report is written even when indexing fails."""
    clean(run_id, progress=progress)
    try:
        index(run_id, progress=progress)
        alerts(run_id)
    finally:
        merged = report(run_id)
    return CycleResult(run_id, merged)


def latest_manifests(since: datetime | None = None, source: str | None = None) -> Iterator[dict[str, Any]]:
    """The newest archived entry per URL across all runs (for reprocessing without the network)."""
    from indexing.archive import iter_manifest

    newest: dict[str, dict[str, Any]] = {}
    runs = get_settings().runs_dir
    if not runs.exists():
        return
    for manifest in sorted(runs.glob("*/manifest.jsonl")):
        for entry in iter_manifest(manifest):
            if source and entry.get("source") != source:
                continue
            fetched = _parse_dt(entry.get("fetched_at"))
            if since and fetched and fetched < since:
                continue
            prev = newest.get(entry["url"])
            if prev is None or str(entry.get("fetched_at")) >= str(prev.get("fetched_at")):
                newest[entry["url"]] = entry
    yield from newest.values()


def reprocess(
    since: datetime | None = None, source: str | None = None, progress: ProgressCallback | None = None
) -> CycleResult:
    """Re-run cleaning and indexing from the archive, without touching the network."""
    run_id = "reprocess-" + new_run_id()
    rdir = run_dir(run_id)
    entries = list(latest_manifests(since, source))
    with (rdir / "manifest.jsonl").open("w", encoding="utf-8") as fh:
        for entry in entries:
            fh.write(json.dumps(entry, ensure_ascii=False) + "\n")
    return _clean_index_report(run_id, progress)
