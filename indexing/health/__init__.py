"""Pipeline health: per-run, per-source figures in ``{prefix}runs`` and rules that raise health
alerts through the topic watches' channels, once per (source, rule) episode.

For the DAGs and the CLI::

    record_run(run_id, settings=settings)   # after a run's stages (any of them): its figures into {prefix}runs
    record_pending_runs(settings=settings)  # catch-up: every run whose figures are missing or out of date
    check_health(settings=settings)         # evaluate the rules, open/close episodes, deliver health alerts
    source_health(settings=settings)        # the same table without alerting (`warwatch health`)
"""

from indexing.health.alerting import HEALTH_WATCH_ID, AlertOutcome, health_watch, raise_alerts
from indexing.health.check import (
    HealthReport,
    SourceStatus,
    check_health,
    record_pending_runs,
    record_run,
    source_health,
    unrecorded_runs,
)
from indexing.health.figures import RunNotFound, run_figures
from indexing.health.rules import RULES, Finding, evaluate_rules

__all__ = [
    "HEALTH_WATCH_ID",
    "RULES",
    "AlertOutcome",
    "Finding",
    "HealthReport",
    "RunNotFound",
    "SourceStatus",
    "check_health",
    "evaluate_rules",
    "health_watch",
    "raise_alerts",
    "record_pending_runs",
    "record_run",
    "run_figures",
    "source_health",
    "unrecorded_runs",
]
