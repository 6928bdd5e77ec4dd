"""dag.test() of warwatch_crawl then warwatch_process against the demo site on 127.0.0.1 and the
real local search node: the CONTRACT's `airflow dags test warwatch_crawl -c '{"sources": [id]}'`
followed by `airflow dags test warwatch_process`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from indexing.settings import reset_settings
from tests.conftest import REPO_ROOT as PROJECT_ROOT
from tests.conftest import count_docs


def _succeeded(dagrun: object) -> bool:
    return str(getattr(dagrun, "state", "")) in {"success", "DagRunState.SUCCESS"}


def test_crawl_then_process_indexes_the_chosen_source(airflow_db: Path, index_prefix: str, data_dir: Path,
                                                      es_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.dag_processing.dagbag import DagBag

    from demo.server import render_sources, serve
    from indexing.sources import load_sources
    from warwatch.pipeline import batches

    with serve(PROJECT_ROOT / "demo" / "site", port=0) as server:
        sources = render_sources(server.base_url, data_dir / "sources.yaml")
        monkeypatch.setenv("WARWATCH_SOURCES", str(sources))
        reset_settings()  # whatever read the settings before (in this process) read them without it
        ids = [s.id for s in load_sources(sources)]
        chosen = ids[0]
        bag = DagBag(dag_folder=str(PROJECT_ROOT / "dags"))
        crawl_run = bag.dags["warwatch_crawl"].test(run_conf={"sources": [chosen]})
    assert _succeeded(crawl_run), crawl_run.state
    crawled = batches.unprocessed()
    assert len(crawled) == 1 and chosen in crawled[0]
    manifest = [json.loads(line) for line in (data_dir / "runs" / crawled[0] / "manifest.jsonl").open()]
    assert manifest and {e["source"] for e in manifest} == {chosen}

    process_run = bag.dags["warwatch_process"].test()
    assert _succeeded(process_run), process_run.state
    assert batches.unprocessed() == []
    alias = f"{index_prefix}articles"
    indexed = count_docs(es_url, alias)
    articles = {json.loads(line)["url"] for line in (data_dir / "runs" / crawled[0] / "documents.jsonl").open()}
    assert indexed == len(articles) > 0
    assert (data_dir / "reports" / f"{crawled[0]}.json").exists()

    # Nothing left: a second processing run claims nothing and changes nothing.
    again = bag.dags["warwatch_process"].test()
    assert _succeeded(again)
    assert count_docs(es_url, alias) == indexed
