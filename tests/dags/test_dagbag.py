from __future__ import annotations

from pathlib import Path

import pytest

from indexing.settings import reset_settings
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
    assert {t.task_id for t in process.tasks} == {"claim", "clean", "enrich", "index", "alerts", "finish", "embed"}
    crawl = bag.dags["warwatch_crawl"].get_task("crawl")
    assert crawl.execution_timeout is not None
    assert [o.uri for o in crawl.outlets] == ["warwatch://batches/"]
    # Under the CeleryExecutor the crawls go to the crawl workers, everything else to the default
    # queue (tests/production/test_airflow_celery.py runs both kinds of worker).
    assert crawl.queue == "crawl"
    from airflow.configuration import conf

    default_queue = conf.get("operators", "default_queue")
    others = [(d, t.task_id) for d in DAG_IDS for t in bag.dags[d].tasks if t.task_id != "crawl"]
    assert [(d, t) for d, t in others if bag.dags[d].get_task(t).queue != default_queue] == []


def test_dag_files_import_nothing_heavy_at_top_level() -> None:
    # Parsing must stay cheap: the library, Scrapy and search clients are imported inside tasks.
    for path in DAGS.glob("*.py"):
        top = [ln for ln in path.read_text().splitlines() if ln.startswith(("import ", "from "))]
        joined = "\n".join(top)
        for heavy in ("indexing", "scrapy", "elasticsearch", "opensearchpy", "trafilatura", "warwatch.pipeline"):
            assert heavy not in joined, f"{path.name} imports {heavy} at top level"


def test_trigger_forms_offer_and_validate_the_configured_sources(airflow_db: Path, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.dag_processing.dagbag import DagBag
    from airflow.sdk.exceptions import ParamValidationError

    sources = tmp_path / "sources.yaml"
    sources.write_text("sources:\n"
                       "  - {id: alpha-news, name: A, url: 'http://127.0.0.1:1/', allow_private_network: true}\n"
                       "  - {id: beta-news, name: B, url: 'http://127.0.0.1:2/', allow_private_network: true}\n")
    monkeypatch.setenv("WARWATCH_SOURCES", str(sources))
    reset_settings()
    bag = DagBag(dag_folder=str(DAGS))
    assert bag.import_errors == {}
    for dag_id in ("warwatch_crawl", "warwatch_backfill"):
        param = bag.dags[dag_id].params.get_param("sources")
        # A multi-select in the UI (examples), validated on the server (items.enum).
        assert param.schema["examples"] == ["alpha-news", "beta-news"]
        assert param.schema["items"]["enum"] == ["alpha-news", "beta-news"]
        assert param.description
        assert param.resolve(["beta-news"]) == ["beta-news"]
        with pytest.raises(ParamValidationError):
            param.resolve(["gamma-news"])
    backfill = bag.dags["warwatch_backfill"].params
    assert backfill.get_param("since").schema["format"] == "date"
    with pytest.raises(ParamValidationError):
        backfill.get_param("action").resolve("drop-everything")
    for dag_id in DAG_IDS:
        params = bag.dags[dag_id].params
        for name in params:
            assert params.get_param(name).description, f"{dag_id}.{name} has no description"
