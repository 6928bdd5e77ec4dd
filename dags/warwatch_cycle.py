"""warwatch: one crawl -> clean -> index -> alerts cycle over every configured source.

Thin on purpose: each task calls one function of `warwatch.pipeline` with the run id, and the
stages hand each other files under data/runs/<run_id>/, not XCom payloads. Heavy imports happen
inside the tasks so parsing this file stays cheap.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Param, dag, task


def _pipeline_run_id(airflow_run_id: str) -> str:
    """A filesystem-safe run id derived from Airflow's (so retries reuse the same directory)."""
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in airflow_run_id)[:120]


@dag(
    dag_id="warwatch_cycle",
    description="Crawl every configured news source, clean, enrich and index the articles",
    schedule="@hourly",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["warwatch"],
    default_args={"retries": 2, "retry_delay": timedelta(minutes=2)},
    params={"sources": Param(None, type=["null", "string"], description="sources file (default: settings)")},
    doc_md=__doc__,
)
def warwatch_cycle() -> None:
    @task
    def crawl(params: dict | None = None, run_id: str | None = None) -> str:
        from pathlib import Path

        from warwatch import pipeline

        rid = _pipeline_run_id(run_id or pipeline.new_run_id())
        sources = (params or {}).get("sources")
        pipeline.crawl(rid, Path(sources) if sources else None)
        return rid

    @task
    def clean(rid: str) -> dict:
        from warwatch import pipeline

        return pipeline.clean(rid).as_dict()

    @task
    def index(rid: str) -> dict:
        from warwatch import pipeline

        return pipeline.index(rid).as_dict()

    @task
    def alerts(rid: str) -> dict:
        from warwatch import pipeline

        return pipeline.alerts(rid)["totals"]

    @task(trigger_rule="all_done")
    def report(rid: str) -> dict:
        from warwatch import pipeline

        merged = pipeline.report(rid)
        if merged["problems"]:
            raise RuntimeError("run finished with problems: " + "; ".join(merged["problems"]))
        return {"run_id": rid, "index": merged.get("index", {})}

    rid = crawl()
    cleaned = clean(rid)
    indexed = index(rid)
    alerted = alerts(rid)
    cleaned >> indexed >> alerted >> report(rid)


warwatch_cycle()
