"""Topic watches that alert on ingest, once per story (not per copy).

``configured_watches(settings)`` reads the configured watches.yaml; ``evaluate(run_id, settings=)`` matches the run's documents
against every watch with the search's own query, alerts once per (watch, story), and delivers to
the watch's channels (JSONL file always; webhook, e-mail), keeping failed deliveries queued for
the next evaluation.
"""

from indexing.alerts.channels import DeliveryError, alert_text, alerts_dir
from indexing.alerts.config import (
    DeliverySettings,
    Watch,
    WatchConfig,
    WatchFilters,
    configured_watches,
    load_config,
    load_watches,
    parse_watches,
)
from indexing.alerts.evaluate import AlertReport, WatchCounts, alert_id, evaluate
from indexing.alerts.matching import TOPIC_STRENGTH, find_matches, run_doc_ids
from indexing.alerts.state import AlertState

__all__ = [
    "TOPIC_STRENGTH",
    "AlertReport",
    "AlertState",
    "DeliveryError",
    "DeliverySettings",
    "Watch",
    "WatchConfig",
    "WatchCounts",
    "WatchFilters",
    "alert_id",
    "alert_text",
    "alerts_dir",
    "configured_watches",
    "evaluate",
    "find_matches",
    "load_config",
    "load_watches",
    "parse_watches",
    "run_doc_ids",
]
