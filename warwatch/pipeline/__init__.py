"""The pipeline: crawl (a subprocess) -> clean -> enrich -> index -> alerts -> report, per batch.

Each stage reads and writes files under ``data/runs/<batch_id>/`` so it can be re-run on its own
(Airflow retries, ``warwatch reprocess``) and changes nothing that was already right. Modules:
``batches`` (ids, leases, locks, which batches are left), ``crawl`` (the child process),
``clean``, ``index`` (enrich and index steps), ``report`` (alerts and the merged report),
``cycle`` (whole runs), ``maintenance`` (retention, index health, stuck batches).
"""

from indexing.dates import FUTURE_TOLERANCE
from warwatch.pipeline.batches import LeaseLost, LockTimeout
from warwatch.pipeline.clean import HTML_TYPES, _skip_reason, clean
from warwatch.pipeline.common import (
    CrawlError,
    IndexingError,
    PipelineError,
    ProgressCallback,
    StageCounts,
    new_run_id,
    run_dir,
    safe_id,
)
from warwatch.pipeline.crawl import crawl, crawler_command
from warwatch.pipeline.cycle import (
    CycleResult,
    latest_manifests,
    process_batch,
    process_pending,
    reprocess,
    run_cycle,
)
from warwatch.pipeline.index import enrich, index, resolve_published
from warwatch.pipeline.report import alerts, problems, report

__all__ = [
    "FUTURE_TOLERANCE", "HTML_TYPES", "CrawlError", "CycleResult", "IndexingError", "LeaseLost", "LockTimeout",
    "PipelineError", "ProgressCallback", "StageCounts", "_skip_reason", "alerts", "clean", "crawl",
    "crawler_command", "enrich", "index", "latest_manifests", "new_run_id", "problems", "process_batch",
    "process_pending", "reprocess", "report", "resolve_published", "run_cycle", "run_dir", "safe_id",
]
