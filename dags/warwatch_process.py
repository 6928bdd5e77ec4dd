"""
### warwatch_process — clean → enrich → index → alerts for every batch not yet processed

Scheduled on the asset `warwatch://batches` (each crawl batch that finishes) **or** every
`pipeline.process_catchup_minutes` (default 30), whichever comes first. The catch-up picks up what
nothing announced: batches of crawls that were killed or timed out, of `warwatch run` interrupted
after its crawl, of processing runs that failed.

* `claim` leases every unprocessed batch nobody else holds to this run (lease file with owner and
  expiry; a CLI run or an overlapping DAG run skips them). Each stage re-checks the lease and
  records its progress in it, so a batch is processed once even when runs overlap.
* `clean` and `enrich` are mapped per batch; `index` flushes into the engine under the data
  directory's index lock; `alerts` notifies each watch once per story.
* `finish` (runs whatever happened upstream) writes the reports, marks finished batches
  processed and hands the others back for the next run — it fails the run if any were left.
  Each batch's report also goes to the `{prefix}runs` index (pipeline health).
* `embed` gives new articles their vectors for hybrid search (`embeddings.*` settings, at most
  `embeddings.max_per_run` a run): keyword search and alerts never wait for it.

**Trigger form**: `dry_run` only lists the unprocessed batches.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Asset, AssetOrTimeSchedule, DeltaTriggerTimetable, Param, dag, task

from warwatch import dagconfig

BATCHES = Asset(name="warwatch_batches", uri="warwatch://batches")
DAG_ID = "warwatch_process"


@dag(
    dag_id=DAG_ID,
    description="Clean, enrich, index and alert every batch not yet processed",
    schedule=AssetOrTimeSchedule(timetable=DeltaTriggerTimetable(dagconfig.process_catchup_interval()),
                                 assets=[BATCHES]),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=2),
    tags=["warwatch"],
    default_args={"retries": 2, "retry_delay": timedelta(minutes=1), "execution_timeout": timedelta(hours=1)},
    params={"dry_run": Param(False, type="boolean", title="Dry run",
                             description="List the unprocessed batches; change nothing.")},
    doc_md=__doc__,
)
def warwatch_process() -> None:
    @task
    def claim(params: dict | None = None, run_id: str | None = None) -> list[str]:
        """Lease the unprocessed batches to this run."""
        from warwatch.pipeline.tasks import claim_batches, owner_of

        return claim_batches(owner_of(DAG_ID, str(run_id)), bool((params or {}).get("dry_run")))

    @task(map_index_template="{{ batch_id }}")
    def clean(batch_id: str, run_id: str | None = None) -> str:
        from airflow.sdk import get_current_context

        from warwatch.pipeline.tasks import clean_batch, owner_of

        get_current_context()["batch_id"] = batch_id  # type: ignore[typeddict-unknown-key]
        return clean_batch(batch_id, owner_of(DAG_ID, str(run_id)))

    @task(map_index_template="{{ batch_id }}")
    def enrich(batch_id: str, run_id: str | None = None) -> str:
        from airflow.sdk import get_current_context

        from warwatch.pipeline.tasks import enrich_batch, owner_of

        get_current_context()["batch_id"] = batch_id  # type: ignore[typeddict-unknown-key]
        return enrich_batch(batch_id, owner_of(DAG_ID, str(run_id)))

    @task(trigger_rule="all_done")
    def index(batch_ids: list[str], run_id: str | None = None) -> dict:
        from warwatch.pipeline.tasks import index_batches, owner_of

        return index_batches(batch_ids, owner_of(DAG_ID, str(run_id)))

    @task(trigger_rule="all_done")
    def alerts(batch_ids: list[str], run_id: str | None = None) -> dict:
        from warwatch.pipeline.tasks import alert_batches, owner_of

        return alert_batches(batch_ids, owner_of(DAG_ID, str(run_id)))

    @task(trigger_rule="all_done", retries=0)
    def finish(batch_ids: list[str], run_id: str | None = None) -> dict:
        """Reports, processed markers, leases back."""
        from warwatch.pipeline.tasks import finish_batches, owner_of

        return finish_batches(batch_ids, owner_of(DAG_ID, str(run_id)))

    @task(trigger_rule="all_done")
    def embed() -> dict:
        """Vectors for hybrid search (its own stage: keyword search and alerts never wait for it)."""
        from indexing.embeddings.stage import embed_new_articles
        from indexing.settings import get_settings

        return embed_new_articles(get_settings()).to_dict()

    claimed = claim()
    enriched = enrich.expand(batch_id=clean.expand(batch_id=claimed))
    indexed = index(claimed)
    alerted = alerts(claimed)
    enriched >> indexed >> alerted >> finish(claimed) >> embed()


warwatch_process()
