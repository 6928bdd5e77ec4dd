"""The last stages of a batch: alerts, and the merged report in ``data/reports/<batch>.json``."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from indexing.errors import ConfigError
from indexing.fileio import read_json
from indexing.settings import get_settings
from warwatch.pipeline import batches
from warwatch.pipeline.batches import Clock, _utcnow
from warwatch.pipeline.common import batch_files, parse_dt, run_dir, write_json

log = logging.getLogger(__name__)

#: the health rule of batches whose alerts stay pending
ALERTS_RULE = "alerts_pending"


def alerts(run_id: str, now: Clock = _utcnow) -> dict[str, Any]:
    """Alert every watch once per new story among the documents this batch indexed
    (``runs/<run_id>/alerts-report.json``); undelivered alerts stay queued for the next run.

    The batch's alerts stay pending (``alerts-pending.json``: the batch is not processed, the
    next run evaluates it again after a backoff) until every watch was evaluated against every
    document: an engine outage or a timed-out search loses nothing. Re-evaluating alerts no story
    twice (the alert state keeps every (watch, story) alerted)."""
    from indexing.alerts import evaluate

    run_dir(run_id)
    files = batch_files()
    if not files.fetch(run_id, "indexed-ids.txt", "index-report.json")[0].exists():
        files.fetch(run_id, "cleaned.jsonl")  # what evaluate() falls back to
    batches.begin_alerts(run_id, now)
    result = evaluate(run_id, settings=get_settings()).as_dict()
    files.publish(run_id, "alerts-report.json")
    complete = alerts_settled(run_id, result)
    pending = batches.end_alerts(run_id, complete, list(result.get("problems") or []), now)
    if pending:
        log.warning("batch %s: alerts pending (attempt %d), evaluated again after %s", run_id,
                    pending["attempts"], pending["next_try"])
    overdue_alerts(now)
    return result


def alerts_settled(run_id: str, result: dict[str, Any]) -> bool:
    """Every watch evaluated against every document of the batch. Documents the engine rejected
    (the index stage counted them ``failed``, they are in the dead-letter file) never will be:
    they do not hold the batch back."""
    if result.get("complete"):
        return True
    in_index, documents = result.get("documents_in_index"), result.get("documents")
    if in_index is None or documents is None or any(w.get("error") for w in (result.get("watches") or {}).values()):
        return False
    rejected = int(read_json(run_dir(run_id) / "index-report.json").get("failed") or 0)
    return 0 <= documents - in_index <= rejected


def overdue_alerts(now: Clock = _utcnow) -> list[str]:
    """Batches whose alerts have been pending longer than ``pipeline.alerts_pending_limit_minutes``;
    while there are any, one pipeline health alert (an episode, so once), closed when they are done."""
    from indexing.health import Finding, raise_alerts

    limit = get_settings().pipeline.alerts_pending_limit_minutes * 60
    at = now()
    late: dict[str, datetime] = {}
    for bid in batches.unprocessed():
        since = parse_dt(batches.alerts_pending(bid).get("since"))
        if since is not None and (at - since).total_seconds() > limit:
            late[bid] = since
    findings = []
    if late:
        oldest = min(late.values())
        hours = (at - oldest).total_seconds() / 3600
        findings.append(Finding("pipeline", ALERTS_RULE, f"alerts of {len(late)} batch(es) pending for up to "
                                f"{hours:.1f} h (oldest {min(late, key=late.__getitem__)}): the search engine "
                                "is away or watch searches fail", since=oldest.isoformat(),
                                value=hours * 3600, threshold=limit))
    try:
        raise_alerts(findings, settings=get_settings(), rules=(ALERTS_RULE,))
    except (ConfigError, OSError) as exc:
        log.warning("pipeline health alert for pending alerts not raised: %s", exc)
    return sorted(late)


def report(run_id: str) -> dict[str, Any]:
    """Merge the stage reports of a batch into data/reports/<run_id>.json and return it."""
    from indexing.health.check import INPUT_FILES, RECORDED_MARKER

    settings = get_settings()
    rdir = run_dir(run_id)
    files = batch_files()
    files.fetch(run_id, *dict.fromkeys([*INPUT_FILES, "alerts-report.json"]))  # the health figures read them too
    merged: dict[str, Any] = {
        "run_id": run_id,
        "finished_at": datetime.now(UTC).isoformat(),
        **{stage: read_json(rdir / f"{stage}-report.json") for stage in ("crawl", "clean", "enrich", "index", "alerts")},
        "alerts_pending": read_json(rdir / batches.ALERTS_PENDING_FILE) or None,
    }
    merged["problems"] = problems(merged)
    settings.reports_dir.mkdir(parents=True, exist_ok=True)
    write_json(settings.reports_dir / f"{run_id}.json", merged)
    if record_health(run_id):
        files.publish(run_id, RECORDED_MARKER)  # retention in the store waits for it
    return merged


def record_health(run_id: str) -> bool:
    """The batch's per-source figures into ``{prefix}runs`` (idempotent: keyed by batch and
    source). A batch without a crawl report has none; an engine that refuses is logged here and
    caught up by the maintenance DAG (``record_pending_runs``), never a reason to fail the batch."""
    from indexing import health
    from indexing.engine import EngineError

    try:
        health.record_run(run_id, settings=get_settings())
    except health.RunNotFound:
        return False
    except EngineError as exc:
        log.warning("health figures of %s not recorded (%s): the maintenance DAG catches up", run_id, exc)
        return False
    return True


def problems(merged: dict[str, Any]) -> list[str]:
    """Human-readable reasons this batch should not count as a success."""
    out: list[str] = []
    crawl_sources = (merged.get("crawl") or {}).get("sources") or {}
    for sid, counts in crawl_sources.items():
        for flag in counts.get("flags") or []:
            out.append(f"source {sid}: {flag}")
        render = counts.get("render") or {}
        # most of a source's pages unreadable for want of a browser (a site that needs one); a few
        # pages among many (a short page with scripts) are counted and warned of, not a failed run
        if render.get("unavailable") and 2 * int(render["unavailable"]) >= int(counts.get("fetched") or 0):
            out.append(f"source {sid}: {render['unavailable']} page(s) need JavaScript and no browser is installed "
                       "(apt-get install chromium, or set crawl.render_browser): kept as served, not readable")
    cleaned = merged.get("clean") or {}
    crashed = int(cleaned.get("failed:extraction_crashed") or 0)
    if crashed and not cleaned.get("articles"):  # not one page: the extractor, not the pages, is broken
        out.append(f"the extraction worker crashed on every page it was given ({crashed}): see the errors "
                   "logged; the pages stay in the archive for `warwatch reprocess`")
    idx = merged.get("index") or {}
    if idx.get("failed"):
        out.append(f"{idx['failed']} documents rejected by the search engine (see dead-letter file)")
    alerts_report = merged.get("alerts") or {}
    out.extend(f"alerts: {p}" for p in alerts_report.get("problems") or [])
    pending = merged.get("alerts_pending")
    if pending:
        out.append(f"alerts pending since {pending.get('since')} ({pending.get('attempts')} attempt(s)): "
                   f"the batch is evaluated again after {pending.get('next_try')}")
    for failure in alerts_report.get("failures") or []:
        out.append(f"alert {failure.get('alert_id')} of watch {failure.get('watch')} not delivered to "
                   f"{failure.get('channel')} (queued for the next run): {failure.get('error')}")
    return out
