from __future__ import annotations

from pathlib import Path

from tests.dags.conftest import DAGS


def test_dags_import_without_errors(airflow_db: Path) -> None:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS))
    assert bag.import_errors == {}
    assert "warwatch_cycle" in bag.dags
    dag = bag.dags["warwatch_cycle"]
    assert {t.task_id for t in dag.tasks} == {"crawl", "clean", "index", "alerts", "report"}
    assert dag.catchup is False
    assert "warwatch" in dag.tags


def test_dag_files_import_nothing_heavy_at_top_level() -> None:
    # Parsing must stay cheap: the library, Scrapy and search clients are imported inside tasks.
    for path in DAGS.glob("*.py"):
        top = [ln for ln in path.read_text().splitlines() if ln.startswith(("import ", "from "))]
        joined = "\n".join(top)
        for heavy in ("indexing", "scrapy", "elasticsearch", "opensearchpy", "trafilatura"):
            assert heavy not in joined, f"{path.name} imports {heavy} at top level"
