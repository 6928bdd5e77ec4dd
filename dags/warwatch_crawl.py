"""
### warwatch_crawl — fetch new articles, one mapped task per source

Runs every `pipeline.feeds_interval_minutes` (settings, default 5). Each run polls every source's
feeds with conditional GETs; a source's sitemaps and sections are walked again only when its last
full discovery is older than `pipeline.discovery_interval_hours` (default 6), or when you tick
**full_discovery**.

* **One mapped task per source** (dynamic task mapping over the sources file): a slow or hostile
  source fails or times out alone; at most `pipeline.max_parallel_crawls` crawl at once.
* Each crawl is a `warwatch-crawl` child process writing a new **batch** under
  `data/runs/<batch>/`. It stops cleanly after `pipeline.crawl_budget_seconds` keeping what it
  fetched; past budget + grace its process group is terminated, then killed; `execution_timeout`
  bounds the task; when the task is killed the crawler goes with it.
* Each finished batch emits an event on the asset `warwatch://batches`, which schedules
  **warwatch_process**. Batches of crashed or timed-out crawls are picked up by its periodic
  catch-up: nothing fetched is lost.

* Each crawl also **revisits** the source's stored articles that are due (`changes.revisit_after`,
  a source's own `revisit_after`), within `changes.revisit_share` of its article cap and behind its
  new articles (issue #19): the task passes nothing that turns them off.

**Trigger form**: `sources` (empty = all), `full_discovery`, `dry_run` (only shows the plan).
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Asset, Param, dag, task

from warwatch import dagconfig

BATCHES = Asset(name="warwatch_batches", uri="warwatch://batches")
#: The Celery queue of the crawl tasks: under the CeleryExecutor they go to the workers started
#: with `airflow celery worker --queues crawl` (README "Production shape"); `plan` and every other
#: DAG's tasks use the default queue. The LocalExecutor (standalone, `make airflow`) ignores queues.
CRAWL_QUEUE = "crawl"


@dag(
    dag_id="warwatch_crawl",
    description="Poll feeds (often) and walk sitemaps/sections (less often), one mapped task per source",
    schedule=dagconfig.feeds_interval(),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=dagconfig.crawl_timeout() * 3,
    tags=["warwatch"],
    default_args={"retries": 1, "retry_delay": timedelta(minutes=1)},
    params={
        "sources": Param(**dagconfig.sources_param("Source ids to crawl (from the sources file); empty: every source.")),
        "full_discovery": Param(
            False, type="boolean", title="Full discovery",
            description="Walk sitemaps and sections now, not only the feeds.",
        ),
        "dry_run": Param(False, type="boolean", title="Dry run",
                         description="Show which sources would be crawled; fetch nothing."),
    },
    doc_md=__doc__,
)
def warwatch_crawl() -> None:
    @task
    def plan(params: dict | None = None) -> list[str]:
        """The sources of this run (checked against the sources file)."""
        from warwatch.pipeline.tasks import plan_crawl

        p = params or {}
        ids = plan_crawl(p.get("sources"))
        if p.get("dry_run"):
            print(f"dry run: would crawl {ids}")  # noqa: T201 - the task log is the answer
            return []
        return ids

    @task(
        queue=CRAWL_QUEUE,
        max_active_tis_per_dag=dagconfig.max_parallel_crawls(),
        execution_timeout=dagconfig.crawl_timeout(),
        outlets=[BATCHES],
        map_index_template="{{ source_id }}",
    )
    def crawl(source_id: str, params: dict | None = None, run_id: str | None = None, ti=None) -> dict:  # noqa: ANN001
        """Crawl one source into a new batch (a child process with a time budget)."""
        from airflow.sdk import get_current_context

        from warwatch.pipeline.tasks import crawl_source

        get_current_context()["source_id"] = source_id  # type: ignore[typeddict-unknown-key]
        return crawl_source(source_id, run_id or "manual", ti.try_number if ti else 1,
                            force_full=bool((params or {}).get("full_discovery")))

    crawl.expand(source_id=plan())


warwatch_crawl()
