"""
### warwatch_maintenance — daily upkeep

* `retention`: deletes raw captures (WARC files) older than `pipeline.raw_retention_days`
  (default 30; `null` keeps them), never one that a batch not processed yet still references.
  Then the derived files of processed batches (cleaned/documents files, crawl logs), merged reports
  and dead letters older than `pipeline.batch_files_retention_days` (default 14).
* `index_health`: cluster status, the articles alias and the index it points to, document count;
  fails on a red cluster or a missing alias.
* `recover_stuck`: frees batches whose lease expired with nobody working on them (so the next
  `warwatch_process` takes them) and names batches held by a hung process.
* `freshness`: per source, the last crawl and the last crawl that brought articles.
* `pipeline_health`: records every batch's per-source figures not yet in `{prefix}runs`, evaluates
  the health rules (`health.*` settings: a source gone silent, an error ratio, a freshness lag)
  and sends health alerts through the topic watches' channels, once per episode.

**Trigger form**: `dry_run` reports what retention would delete without deleting.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Param, dag, task


@dag(
    dag_id="warwatch_maintenance",
    description="Retention of raw captures, index health, stuck batches, per-source freshness",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["warwatch"],
    default_args={"retries": 1, "retry_delay": timedelta(minutes=5), "execution_timeout": timedelta(hours=1)},
    params={"dry_run": Param(False, type="boolean", title="Dry run",
                             description="Report what retention would delete; delete nothing.")},
    doc_md=__doc__,
)
def warwatch_maintenance() -> None:
    @task
    def retention(params: dict | None = None) -> dict:
        from warwatch.pipeline.maintenance import retention as run_retention

        return run_retention(dry_run=bool((params or {}).get("dry_run")))

    @task
    def index_health() -> dict:
        from warwatch.pipeline.maintenance import index_health as check

        return check()

    @task
    def recover_stuck() -> dict:
        from warwatch.pipeline.maintenance import recover_stuck as recover

        return recover()

    @task
    def freshness() -> dict:
        from warwatch.pipeline.maintenance import freshness as per_source

        return per_source()

    @task
    def pipeline_health() -> dict:
        from warwatch.pipeline.maintenance import pipeline_health as check

        return check()

    recover_stuck() >> retention()
    index_health()
    freshness()
    pipeline_health()


warwatch_maintenance()
