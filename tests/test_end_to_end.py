"""The walking skeleton end to end: demo site on 127.0.0.1 -> `warwatch run` -> `warwatch search`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from indexing.settings import get_settings
from tests.conftest import REPO_ROOT as PROJECT_ROOT
from tests.conftest import count_docs

SEED_PATH = "/2024/10/28/nato-bestaetigt-praesenz-nordkoreanischer-soldaten-in-russland/"


def _warwatch(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "warwatch.cli", *args],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=600,
    )



def test_run_then_search_finds_the_seed_first(index_prefix: str, data_dir: Path, es_url: str) -> None:
    from demo.server import render_sources, serve

    env = dict(os.environ, WARWATCH_ES_URL=es_url, WARWATCH_INDEX_PREFIX=index_prefix,
               WARWATCH_DATA_DIR=str(data_dir))
    articles = json.loads((PROJECT_ROOT / "demo" / "site" / "articles.json").read_text())["articles"]
    with serve(PROJECT_ROOT / "demo" / "site", port=0) as server:
        sources = render_sources(server.base_url, data_dir / "sources.yaml")
        first = _warwatch("run", "--sources", str(sources), env=env)
        assert first.returncode == 0, first.stdout + first.stderr
        count = count_docs(es_url, f"{index_prefix}articles")
        assert count == len(articles)
        # the vectors were computed while the batch was indexed (warwatch/pipeline/warm.py): the
        # embedding stage wrote them without running the model again, text and title of each
        (report,) = [json.loads(p.read_text()) for p in (data_dir / "reports").glob("*.json")]
        assert report["embed"]["embedded"] == count and report["embed"]["reused"] == 2 * count, report["embed"]

        alert_file = data_dir / "alerts" / "north-korean-troops-in-russia.jsonl"
        alerts = [json.loads(line) for line in alert_file.read_text().splitlines()]
        story_ids = [a["story_id"] for a in alerts]
        assert alerts and len(story_ids) == len(set(story_ids)), "one alert per story"
        alerted_urls = {art["canonical_url"] for a in alerts for art in a["articles"]}
        assert any(SEED_PATH in u for u in alerted_urls)

        second = _warwatch("run", "--sources", str(sources), env=env)
        assert second.returncode == 0, second.stdout + second.stderr
        assert count_docs(es_url, f"{index_prefix}articles") == count, "a second run must not duplicate"
        assert len(alert_file.read_text().splitlines()) == len(alerts), "a second run must not alert again"

    found = _warwatch("search", "nordkoreanische Truppen", "--json", env=env)
    assert found.returncode == 0, found.stderr
    result = json.loads(found.stdout)
    assert result["total"] >= 1
    top = result["hits"][0]
    assert SEED_PATH in (top["canonical_url"] or top["url"])
    assert set(top) >= {"id", "url", "canonical_url", "title", "source", "language", "published", "score",
                        "topics", "highlights"}
    assert top["title"] == "NATO bestätigt Präsenz nordkoreanischer Soldaten in Russland"
    assert top["language"] == "de"
    assert any("<em>" in h for h in top["highlights"])

    german_only = json.loads(_warwatch("search", "Truppen", "--json", "--lang", "de", env=env).stdout)
    assert german_only["hits"] and all(h["language"] == "de" for h in german_only["hits"])

    # Every article is found by its own title, first.
    from indexing.engine import connect
    from indexing.search import search

    settings = get_settings()
    engine = connect(settings)
    for article in articles:
        hits = search(article["title"], size=3, engine=engine, index=settings.articles_alias,
                      settings=settings.search, embeddings=settings.embeddings).to_json()["hits"]
        assert hits and hits[0]["title"] == article["title"], (article["title"], [h["title"] for h in hits])
