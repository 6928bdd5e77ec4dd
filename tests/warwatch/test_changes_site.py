"""Issue #19's acceptance, small: a news site in three languages changes under the crawler, and
`warwatch run` (the CLI entry; the crawl is the real ``warwatch-crawl`` child against the site on
127.0.0.1) must report every planted change with its kind and nothing else.

The site (``benchmarks/changes_site.py``) rotates furniture on every request (most-read box,
"updated N minutes ago", counters, ad slots, ``?v=`` cache-busters, related links, a CSRF
token, ``article:modified_time``); between the first and the second run one article of each
edit kind changes (numbers in the language's own format, a paragraph cut, a sentence added, a
sentence reworded, the headline, a quote, the byline, the published date, a correction notice,
and two articles with two edits), and one is taken down in each way (404, 410, redirect to the
home page or a section, soft 404, paywall, consent wall, stub); a flaky article answers 404 once
and is back at its second check. A third run confirms any takedown the second left suspected;
a fourth changes nothing (alerts once per change event).

The revisit interval passes in real time (``WARWATCH_CHANGES__REVISIT_AFTER=1s``: the crawler is
a child process with its own clock); the only wait is what remains of that second after a run.
"""

from __future__ import annotations

import io
import json
import random
import shutil
import time
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest

from benchmarks.changes_score import score, score_alerts
from benchmarks.changes_site import (
    EDIT_KINDS,
    FLAKY,
    TAKEDOWN_MODES,
    WATCH,
    ChangingSite,
    build_world,
    mutate,
    plan_changes,
)
from indexing.settings import reset_settings
from tests.conftest import REPO_ROOT, count_docs
from warwatch.cli import main

LANGUAGES = ("en", "de", "uk")
ARTICLES = 30
REVISIT_AFTER = 1.0


def _cli(*argv: str) -> Any:
    buf = io.StringIO()
    with redirect_stdout(buf):
        code = main(list(argv))
    assert code == 0, (argv, buf.getvalue()[-2000:])
    return buf.getvalue()


def _run(sources: Path) -> float:
    _cli("run", "--sources", str(sources))
    return time.monotonic()


def _change_alerts(data_dir: Path) -> list[dict[str, Any]]:
    path = data_dir / "alerts" / "zaporizhzhia-changes.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    return [x for x in map(json.loads, lines) if x.get("event") in ("edited", "removed")]


@pytest.fixture
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    config = tmp_path / "config"
    shutil.copytree(REPO_ROOT / "config", config)
    (config / "watches.yaml").write_text(WATCH, encoding="utf-8")
    monkeypatch.setenv("WARWATCH_CONFIG_DIR", str(config))
    for name, value in {"WARWATCH_CHANGES__REVISIT_AFTER": f"{REVISIT_AFTER:g}s",
                        "WARWATCH_CHANGES__CONFIRM_DELAY_SECONDS": "1",
                        "WARWATCH_CRAWL__DOWNLOAD_DELAY": "0",
                        "WARWATCH_CRAWL__AUTOTHROTTLE": "false",
                        "WARWATCH_PIPELINE__ALERTS_RETRY_SECONDS": "0",
                        "WARWATCH_EMBEDDINGS__BACKEND": "none"}.items():
        monkeypatch.setenv(name, value)
    reset_settings()
    return config


def test_every_planted_change_is_found_with_its_kind_and_nothing_else(
        index_prefix: str, data_dir: Path, es_url: str, config_dir: Path, tmp_path: Path) -> None:
    world = build_world(ARTICLES, LANGUAGES)
    truths = plan_changes(world, random.Random(19))
    planted = [t for t in truths if t.kinds]
    assert {k for t in planted for k in t.kinds} == set(EDIT_KINDS) | set(TAKEDOWN_MODES.values())
    assert sum(t.mode == FLAKY for t in truths) == 1 and len(truths) - len(planted) >= 10
    zaporizhzhia = {world.langs[a.lang]["places"][1] for a in world.articles}

    with ChangingSite(world) as site:
        sources = tmp_path / "sources.yaml"
        sources.write_text(site.sources_yaml(), encoding="utf-8")
        urls = [site.url(a) for a in world.articles]

        first = _run(sources)
        assert count_docs(es_url, f"{index_prefix}articles") == ARTICLES
        mutate(world)
        time.sleep(max(0.0, first + REVISIT_AFTER + 0.2 - time.monotonic()))  # see the docstring
        _run(sources)
        _run(sources)  # confirms takedowns the second run only suspected
        records = json.loads(_cli("changes", "--json", "--limit", "1000"))["changes"]
        alerts = _change_alerts(data_dir)
        _run(sources)  # nothing new: no record, no alert
        again = json.loads(_cli("changes", "--json", "--limit", "1000"))["changes"]
        served = list(site.requests)

    # The flaky article was checked twice after its 404 (so its "takedown" was really refuted),
    # and every article was revisited (full captures: the furniture makes every body new).
    flaky = next(world.articles[i] for i, t in enumerate(truths) if t.mode == FLAKY)
    answers = [status for lang, path, status, _ in served if (lang, path) == (flaky.lang, flaky.path)]
    assert answers[:3] == [200, 404, 200], answers
    assert all(sum((lang, p) == (a.lang, a.path) for lang, p, _, _ in served) >= 2 for a in world.articles)

    result = score(truths, urls, records)
    assert result["missed"] == [], result["missed"]
    assert result["false_change_list"] == [] and result["false_takedown_list"] == [], result
    assert result["numbers_wrong"] == [] and result["numbers_both_values"] == result["numbers_planted"] >= 2
    assert result["duplicates"] == [] and result["stray_records"] == 0, result
    assert sorted(r["id"] for r in again) == sorted(r["id"] for r in records)

    # Alerts: one per change record of a watched article, none twice, none on the rerun.
    watched = {u for u, a in zip(urls, world.articles, strict=True) if a.place in zaporizhzhia}
    expected = {r["id"] for r in records if r.get("canonical_url") in watched}
    assert expected, "the plan must change at least one watched article"
    counted = score_alerts(alerts, [r["id"] for r in records])
    assert counted["alerted_more_than_once"] == [] and counted["alerts_without_record"] == []
    assert {str(a["change"]["id"]) for a in alerts} == expected
    assert _change_alerts(data_dir) == alerts

    # History of an edited article: its versions, the change record with both captures.
    edited = next(urls[i] for i, t in enumerate(truths) if t.numbers)
    history = json.loads(_cli("history", edited, "--json"))
    assert len(history["versions"]) == 2 and [c["kinds"] for c in history["changes"]][0][0] in EDIT_KINDS
    record = history["changes"][0]
    assert record["capture_before"]["warc_offset"] != record["capture_after"]["warc_offset"] or \
        record["capture_before"]["warc_file"] != record["capture_after"]["warc_file"]
