"""Health rules over each source's recent runs (newest first), thresholds from ``settings.health``.

* ``silent``: a source that found new articles before has found none in its last
  ``silent_runs`` runs (a feed that moved, a changed page layout, a block);
* ``blocked``: most of the last run's answers were refusals - 401, 403 or a bot challenge page
  (``blocked_ratio`` above ``max_error_ratio``, once it made ``min_attempts`` requests): the
  site turns us away (rate limit, bot wall) rather than failing; reported instead of ``errors``;
* ``errors``: the last run's failures / (fetched + failures) is above ``max_error_ratio``
  (once it made ``min_attempts`` requests) and the source is not ``blocked``;
* ``stale``: the median freshness lag (``fetched_at - published``) of the newest run that found
  dated new articles is above ``max_freshness_lag_minutes``.

Each finding names the run (or time) where its episode began, ``since``: the same condition
seen again by a later check is the same episode and alerts once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from indexing.health.store import SourceHistory
from indexing.settings import HealthSettings

RULES = ("silent", "blocked", "errors", "stale")


@dataclass(frozen=True)
class Finding:
    source: str
    rule: str
    message: str
    #: where the episode began: a run id, or (silent) when the source last had new articles
    since: str
    value: float
    threshold: float


def _streak_start(runs: list[dict[str, Any]], holds: Callable[[dict[str, Any]], bool]) -> str:
    """The run id of the oldest run of the newest unbroken streak of runs for which ``holds``."""
    start = runs[0]
    for run in runs:
        if not holds(run):
            break
        start = run
    return str(start["run_id"])


def silent(h: SourceHistory, cfg: HealthSettings) -> Finding | None:
    quiet = 0
    for run in h.runs:
        if int(run.get("new") or 0) > 0:
            break
        quiet += 1
    if h.last_new_at is None or quiet < cfg.silent_runs:
        return None
    return Finding(h.source, "silent", f"{h.source}: no new article in its last {quiet} runs "
                   f"(the last new ones were found by the run finished at {h.last_new_at})",
                   since=h.last_new_at, value=float(quiet), threshold=float(cfg.silent_runs))


def _over(run: dict[str, Any], key: str, cfg: HealthSettings) -> bool:
    ratio = run.get(key)
    return int(run.get("attempts") or 0) >= cfg.min_attempts and ratio is not None and ratio > cfg.max_error_ratio


def blocked(h: SourceHistory, cfg: HealthSettings) -> Finding | None:
    def refused(run: dict[str, Any]) -> bool:
        return _over(run, "blocked_ratio", cfg)

    if not h.runs or not refused(h.runs[0]):
        return None
    last = h.runs[0]
    return Finding(h.source, "blocked", f"{h.source}: {last['blocked_ratio']:.0%} of {last['attempts']} requests "
                   f"were refused (401/403/challenge pages) in run {last['run_id']}: the site blocks us",
                   since=_streak_start(h.runs, refused), value=float(last["blocked_ratio"]),
                   threshold=cfg.max_error_ratio)


def errors(h: SourceHistory, cfg: HealthSettings) -> Finding | None:
    def bad(run: dict[str, Any]) -> bool:
        return _over(run, "error_ratio", cfg)

    if not h.runs or not bad(h.runs[0]) or _over(h.runs[0], "blocked_ratio", cfg):
        return None
    last = h.runs[0]
    reasons = sorted((last.get("failures") or {}).items(), key=lambda kv: -int(kv[1]))[:3]
    why = ", ".join(f"{r}={n}" for r, n in reasons) or "no reasons recorded"
    return Finding(h.source, "errors", f"{h.source}: {last['error_ratio']:.0%} of {last['attempts']} requests "
                   f"failed in run {last['run_id']} ({why})",
                   since=_streak_start(h.runs, bad), value=float(last["error_ratio"]),
                   threshold=cfg.max_error_ratio)


def stale(h: SourceHistory, cfg: HealthSettings) -> Finding | None:
    dated = [r for r in h.runs if r.get("freshness_lag_median_seconds") is not None]
    limit = cfg.max_freshness_lag_minutes * 60

    def late(run: dict[str, Any]) -> bool:
        return float(run["freshness_lag_median_seconds"]) > limit

    if not dated or not late(dated[0]):
        return None
    lag = float(dated[0]["freshness_lag_median_seconds"])
    return Finding(h.source, "stale", f"{h.source}: new articles reached us {lag / 60:.0f} min after publication "
                   f"(median of run {dated[0]['run_id']}; limit {cfg.max_freshness_lag_minutes:.0f} min)",
                   since=_streak_start(dated, late), value=lag, threshold=limit)


CHECKS: dict[str, Callable[[SourceHistory, HealthSettings], Finding | None]] = {
    "silent": silent, "blocked": blocked, "errors": errors, "stale": stale,
}


def evaluate_rules(history: SourceHistory, cfg: HealthSettings) -> list[Finding]:
    """The findings for one source, in :data:`RULES` order."""
    found = (CHECKS[name](history, cfg) for name in RULES)
    return [f for f in found if f is not None]
