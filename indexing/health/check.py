"""Recording runs and checking the sources: what the DAGs and ``warwatch health`` call."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from indexing.engine import Engine, connect
from indexing.errors import ConfigError
from indexing.fileio import atomic_write_json
from indexing.health.alerting import AlertOutcome, raise_alerts
from indexing.health.figures import run_figures
from indexing.health.rules import Finding, evaluate_rules
from indexing.health.store import SourceHistory, read_history, write_figures
from indexing.settings import get_settings

log = logging.getLogger(__name__)

#: written into the run directory once its figures are in the index
RECORDED_MARKER = "runs-recorded.json"
#: the files a run's figures come from: one newer than the marker means "record again"
INPUT_FILES = ("crawl-report.json", "manifest.jsonl", "cleaned.jsonl", "clean-report.json", "enrich-report.json",
               "index-report.json")


def _with_engine(engine: Engine | None, fn: Callable[[Engine], Any]) -> Any:
    own = engine is None
    engine = engine or connect(get_settings())
    try:
        return fn(engine)
    finally:
        if own:
            engine.close()


def record_run(run_id: str, *, engine: Engine | None = None, now: datetime | None = None) -> list[dict[str, Any]]:
    """Write the run's per-source figures to ``{prefix}runs`` (idempotent: keyed by run and
    source) and return them. Call it after any stage; calling it again after later stages
    completes the figures. Raises :class:`~indexing.health.figures.RunNotFound` for a run
    without a crawl report, :class:`~indexing.engine.EngineError` when the index refuses."""
    docs = run_figures(run_id, now=now)
    _with_engine(engine, lambda e: write_figures(e, docs))
    marker = get_settings().runs_dir / run_id / RECORDED_MARKER
    atomic_write_json(marker, {"recorded_at": docs[0]["recorded_at"] if docs else None, "sources": len(docs)},
                      indent=None)
    log.info("run %s: figures of %d sources recorded", run_id, len(docs))
    return docs


def unrecorded_runs(limit: int = 500) -> list[str]:
    """Runs with a crawl report whose figures are not in the index, or older than their files
    (a run interrupted before it was recorded, or processed later), oldest first."""
    runs_dir = get_settings().runs_dir
    if not runs_dir.is_dir():
        return []
    out: list[str] = []
    for rdir in sorted(p for p in runs_dir.iterdir() if p.is_dir()):
        if not (rdir / "crawl-report.json").exists():
            continue
        marker = rdir / RECORDED_MARKER
        stamp = marker.stat().st_mtime if marker.exists() else -1.0
        if any((rdir / n).exists() and (rdir / n).stat().st_mtime > stamp for n in INPUT_FILES):
            out.append(rdir.name)
            if len(out) >= limit:
                break
    return out


def record_pending_runs(*, engine: Engine | None = None, limit: int = 500) -> list[str]:
    """Record every run :func:`unrecorded_runs` lists (the maintenance DAG's catch-up)."""
    pending = unrecorded_runs(limit)
    if pending:
        _with_engine(engine, lambda e: [record_run(r, engine=e) for r in pending])
    return pending


#: the revisit figures of ``{prefix}runs`` that ``warwatch health`` shows per source
REVISIT_FIGURES = ("revisits_due", "revisits_done", "revisits_overdue", "takedowns_confirmed")


@dataclass
class SourceStatus:
    source: str
    status: str  # "ok", "no runs", or the rules that found a problem ("silent,errors")
    last_run: str | None = None
    finished_at: str | None = None
    found: int | None = None
    fetched: int | None = None
    new: int | None = None
    error_ratio: float | None = None
    freshness_lag_median_seconds: float | None = None
    freshness_lag_max_seconds: float | None = None
    runs: int = 0
    problems: list[str] = field(default_factory=list)
    #: the last run's revisit figures (issue #19): revisits_due, _done, _overdue, takedowns_confirmed
    revisits: dict[str, int] = field(default_factory=dict)


@dataclass
class HealthReport:
    checked_at: str
    sources: list[SourceStatus] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    alerts: AlertOutcome | None = None

    @property
    def ok(self) -> bool:
        return not self.findings

    def as_dict(self) -> dict[str, Any]:
        return {"checked_at": self.checked_at, "ok": self.ok,
                "sources": [asdict(s) for s in self.sources],
                "findings": [asdict(f) for f in self.findings],
                "alerts": asdict(self.alerts) if self.alerts is not None else None}


def _status(source: str, history: SourceHistory | None, findings: list[Finding]) -> SourceStatus:
    if history is None or not history.runs:
        return SourceStatus(source, "no runs")
    last = history.runs[0]
    dated = next((r for r in history.runs if r.get("freshness_lag_median_seconds") is not None), {})
    return SourceStatus(
        source, ",".join(f.rule for f in findings) or "ok", last.get("run_id"), last.get("finished_at"),
        last.get("found"), last.get("fetched"), last.get("new"), last.get("error_ratio"),
        dated.get("freshness_lag_median_seconds"), dated.get("freshness_lag_max_seconds"),
        len(history.runs), [f.message for f in findings],
        {k: int(last.get(k) or 0) for k in REVISIT_FIGURES if last.get(k) is not None})


def _configured_sources() -> list[str]:
    from indexing.sources import load_sources

    try:
        return [s.id for s in load_sources(get_settings().sources)]
    except (ConfigError, OSError) as exc:
        log.warning("sources file unreadable (%s): checking the sources found in the runs index", exc)
        return []


def source_health(*, engine: Engine | None = None, now: datetime | None = None) -> HealthReport:
    """Every configured source (and any other the runs index knows) with its last run's figures
    and the rules' findings. Reads only; raises EngineError when the index cannot be read."""
    cfg = get_settings().health
    histories: dict[str, SourceHistory] = _with_engine(engine, lambda e: read_history(e, cfg.history_runs))
    report = HealthReport((now or datetime.now(UTC)).isoformat())
    for source in sorted({*_configured_sources(), *histories}):
        history = histories.get(source)
        findings = evaluate_rules(history, cfg) if history is not None and history.runs else []
        report.findings += findings
        report.sources.append(_status(source, history, findings))
    return report


def check_health(*, engine: Engine | None = None, now: datetime | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> HealthReport:
    """:func:`source_health`, then health alerts for new episodes through the configured
    channels (``settings.health.channels``). Delivery failures are in ``report.alerts``, queued
    for the next check, never raised."""
    report = source_health(engine=engine, now=now)
    report.alerts = raise_alerts(report.findings, sleep=sleep)
    log.info("health: %d sources, %d findings, episodes opened %s, closed %s", len(report.sources),
             len(report.findings), report.alerts.opened, report.alerts.closed)
    return report
