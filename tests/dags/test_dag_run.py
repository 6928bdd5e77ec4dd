"""dag.test() of the cycle DAG against the real local search node and the demo site on 127.0.0.1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT as PROJECT_ROOT
from tests.conftest import count_docs


@pytest.mark.es
@pytest.mark.airflow
def test_cycle_dag_indexes_the_demo_site(airflow_db: Path, index_prefix: str, data_dir: Path, es_url: str) -> None:
    from airflow.dag_processing.dagbag import DagBag

    from demo.server import render_sources, serve

    bag = DagBag(dag_folder=str(PROJECT_ROOT / "dags"))
    dag = bag.dags["warwatch_cycle"]
    with serve(PROJECT_ROOT / "demo" / "site", port=0) as server:
        sources = render_sources(server.base_url, data_dir / "sources.yaml")
        dagrun = dag.test(run_conf={"sources": str(sources)})
    assert str(dagrun.state) in {"success", "DagRunState.SUCCESS"}, dagrun.state

    alias = f"{index_prefix}articles"
    count = count_docs(es_url, alias)
    articles = json.loads((PROJECT_ROOT / "demo" / "site" / "articles.json").read_text())["articles"]
    assert count == len(articles)  # syndicated copies are documents too, grouped by story_id
    reports = list((data_dir / "reports").glob("*.json"))
    assert len(reports) == 1
