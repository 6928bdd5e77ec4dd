from __future__ import annotations

from pathlib import Path

from tests.dags.conftest import DAGS

DAG_IDS = {"warwatch_crawl", "warwatch_process", "warwatch_maintenance", "warwatch_backfill"}


def test_dags_import_without_errors(airflow_db: Path) -> None:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS))
    assert bag.import_errors == {}
    assert set(bag.dags) == DAG_IDS
    for dag_id in DAG_IDS:
        dag = bag.dags[dag_id]
        assert dag.catchup is False
        assert "warwatch" in dag.tags
        assert dag.doc_md and dag_id in dag.doc_md
    process = bag.dags["warwatch_process"]
    assert {t.task_id for t in process.tasks} == {"claim", "clean", "enrich", "index", "alerts", "finish"}
    crawl = bag.dags["warwatch_crawl"].get_task("crawl")
    assert crawl.execution_timeout is not None
    assert [o.uri for o in crawl.outlets] == ["warwatch://batches/"]


def test_dag_files_import_nothing_heavy_at_top_level() -> None:
    # Parsing must stay cheap: the library, Scrapy and search clients are imported inside tasks.
    for path in DAGS.glob("*.py"):
        top = [ln for ln in path.read_text().splitlines() if ln.startswith(("import ", "from "))]
        joined = "\n".join(top)
        for heavy in ("indexing", "scrapy", "elasticsearch", "opensearchpy", "trafilatura", "warwatch.pipeline"):
            assert heavy not in joined, f"{path.name} imports {heavy} at top level"
