"""
### warwatch_backfill — reprocess the archive, or migrate the index (manual)

* **reprocess**: cleans, enriches and indexes again the newest raw capture of every URL fetched
  between `since` and `until` from the chosen `sources` (empty: all), from the WARC archive —
  no network. Use it after improving extraction or enrichment. Alerts still fire once per story.
* **migrate**: moves the articles alias to a new index built from the current template
  (`warwatch es migrate`, no downtime).

**Trigger form**: `action`, `sources`, `since`, `until`, `dry_run` (counts the captures, or
shows the current index, and changes nothing).
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Param, dag, task

from warwatch import dagconfig


@dag(
    dag_id="warwatch_backfill",
    description="Reprocess raw captures of a date range without network, or migrate the index",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["warwatch"],
    default_args={"retries": 0, "execution_timeout": timedelta(hours=6)},
    params={
        "action": Param("reprocess", type="string", enum=["reprocess", "migrate"], title="Action",
                        description="reprocess: the archive again into the index; migrate: the index "
                                    "to the current template"),
        "sources": Param(**dagconfig.sources_param("Only these sources (reprocess); empty: all.")),
        "since": Param(None, type=["null", "string"], format="date", title="Since",
                       description="First fetch day to reprocess (YYYY-MM-DD, UTC); empty: the beginning."),
        "until": Param(None, type=["null", "string"], format="date", title="Until",
                       description="Last fetch day to reprocess (YYYY-MM-DD, UTC, inclusive); empty: today."),
        "dry_run": Param(False, type="boolean", title="Dry run", description="Count, change nothing."),
    },
    doc_md=__doc__,
)
def warwatch_backfill() -> None:
    @task
    def backfill(params: dict | None = None, run_id: str | None = None) -> dict:
        from warwatch.pipeline.tasks import backfill as run_backfill
        from warwatch.pipeline.tasks import day_bounds

        p = params or {}
        since, until = day_bounds(p.get("since"), p.get("until"))
        return run_backfill(p.get("action", "reprocess"), list(p.get("sources") or []), since, until,
                            bool(p.get("dry_run")), owner=f"airflow:warwatch_backfill:{run_id}")

    backfill()


warwatch_backfill()
