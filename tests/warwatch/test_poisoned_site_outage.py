"""Issue #16's check end to end: a site with a poisoned article beside good ones, while the engine
refuses the watch searches of the first run. Two ``warwatch run`` cycles (the function the CLI
calls; the crawl is the real ``warwatch-crawl`` child against a site served on 127.0.0.1):

- the page that makes the extractor hang is stopped by ``pipeline.clean_page_timeout_seconds``,
  counted ``extraction_timeout`` and listed for a reprocess; it does not hold the batch;
- a good article whose caption is 200 KB of separators (the caption-credit regex used to
  backtrack on it for half an hour) is extracted and indexed like any other;
- every good article is indexed by the first run already;
- the first run's alerts are refused, so its batch stays pending; the second run evaluates them:
  each watched story is alerted exactly once over the two runs (file channel).

Both runs finishing at all is the bound on time (the suite's timeout), not a wall-clock assert.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

import indexing.extraction
from indexing.engine import Engine, EngineUnavailable
from indexing.settings import reset_settings
from tests.conftest import REPO_ROOT, count_docs
from tests.warwatch import poison
from warwatch import pipeline
from warwatch.pipeline import batches, cycle

clean_module = importlib.import_module("warwatch.pipeline.clean")

DEMO_SITE = REPO_ROOT / "demo" / "site"
SEED_PATH = "/2024/10/28/nato-bestaetigt-praesenz-nordkoreanischer-soldaten-in-russland/"
NK = "north-korean-troops-in-russia"  # a shipped watch; the demo's seed article is its story
HANGS = "/2024/11/29/brueckenreparatur-in-odesa-abgeschlossen/"
CAPTION = "/2024/11/29/wasserversorgung-in-mykolajiw-wiederhergestellt/"

_PARAGRAPHS = [
    "Die Stadtverwaltung meldete am Freitagmorgen, dass die Arbeiten nach mehreren Wochen abgeschlossen "
    "worden seien und der Verkehr wieder ohne Einschränkungen fließen könne.",
    "Nach Angaben der Behörden hatten Ingenieure aus drei Regionen an dem Projekt gearbeitet, das wegen "
    "wiederholter Luftalarme mehrfach unterbrochen werden musste.",
    "Anwohner berichteten, dass sich die Lage in den betroffenen Vierteln spürbar verbessert habe, auch "
    "wenn einzelne Straßen weiterhin gesperrt blieben.",
    "Die Regionalverwaltung kündigte an, in den kommenden Monaten weitere Anlagen zu erneuern und die "
    "Versorgung gegen neue Angriffe besser abzusichern.",
    "Internationale Partner hatten einen Teil der Kosten übernommen, teilte das zuständige Ministerium in "
    "einer schriftlichen Erklärung mit.",
]


def _article(title: str, extra: str = "", mark: bytes = b"") -> bytes:
    body = "".join(f"<p>{p}</p>\n" for p in _PARAGRAPHS)
    page = (f'<!DOCTYPE html>\n<html lang="de"><head><meta charset="utf-8"><title>{title}</title>\n'
            '<meta property="article:published_time" content="2024-11-29T08:00:00+00:00"></head>\n'
            f"<body><article><h1>{title}</h1>\n{body}{extra}</article></body></html>\n")
    return mark + page.encode("utf-8")


def _site(root: Path) -> Path:
    """The demo site plus two pages listed in its news sitemap: one that hangs the extractor and
    one good article with a 200 KB caption of separators."""
    site = root / "site"
    shutil.copytree(DEMO_SITE, site)
    separators = " |" * 100_000  # a run of separators with no credit after it
    pages = {
        HANGS: _article("Brückenreparatur in Odesa abgeschlossen", mark=poison.MARK),
        CAPTION: _article("Wasserversorgung in Mykolajiw wiederhergestellt",
                          f'<figure><img src="/img/wasser.jpg"><figcaption>{separators}</figcaption></figure>\n'),
    }
    listing = ""
    for path, html in pages.items():
        (site / path.strip("/")).mkdir(parents=True)
        (site / path.strip("/") / "index.html").write_bytes(html)
        listing += (f" <url>\n  <loc>{{{{BASE_URL}}}}{path}</loc>\n"
                    "  <lastmod>2024-11-29T08:00:00+00:00</lastmod>\n </url>\n")
    sitemap = site / "news-sitemap.xml"
    sitemap.write_text(sitemap.read_text(encoding="utf-8").replace("</urlset>", listing + "</urlset>"),
                       encoding="utf-8")
    return site


def _alert_lines(data_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for p in sorted((data_dir / "alerts").glob("*.jsonl"))
            if p.name != "warwatch-health.jsonl" for x in p.read_text(encoding="utf-8").splitlines()]


@pytest.mark.es
def test_a_poisoned_page_and_refused_watch_searches_lose_nothing_over_two_runs(
        index_prefix: str, data_dir: Path, es_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from demo.server import render_sources, serve

    for name, value in {"WARWATCH_PIPELINE__CLEAN_PAGE_TIMEOUT_SECONDS": "5",
                        "WARWATCH_PIPELINE__ALERTS_RETRY_SECONDS": "0",
                        "WARWATCH_EMBEDDINGS__BACKEND": "none",
                        "WARWATCH_CRAWL__DOWNLOAD_DELAY": "0",
                        poison.PARENT_ENV: str(os.getpid())}.items():
        monkeypatch.setenv(name, value)
    reset_settings()
    monkeypatch.setattr(clean_module, "EXTRACTOR", "tests.warwatch.poison:extract")
    monkeypatch.setattr(indexing.extraction, "extract", poison.extract)  # never in the stage's own process

    # The engine refuses every search while the first run's alerts are evaluated (indexing works).
    refusing, refused = [False], []
    real_search, real_alerts = Engine.search, dict(cycle.STAGES)["alerts"]

    def search(self: Engine, index: str, body: Any, **params: Any) -> dict[str, Any]:
        if refusing[0]:
            refused.append(index)
            raise EngineUnavailable("search engine unavailable (refused by the test)")
        return real_search(self, index, body, **params)

    def alerts_of_run(run_id: str, progress: Any = None) -> Any:
        refusing[0] = outage[0]
        try:
            return real_alerts(run_id, progress=progress)
        finally:
            refusing[0] = False

    outage = [True]
    monkeypatch.setattr(Engine, "search", search)
    monkeypatch.setattr(cycle, "STAGES", (*cycle.STAGES[:-1], ("alerts", alerts_of_run)))

    demo_articles = json.loads((DEMO_SITE / "articles.json").read_text(encoding="utf-8"))["articles"]
    good = len(demo_articles) + 1  # the demo's articles and the one with the huge caption
    with serve(_site(tmp_path), port=0) as server:
        sources = render_sources(server.base_url, data_dir / "sources.yaml")
        first = cycle.run_cycle(sources)
        rid1 = first.run_id
        # The run's embedding stage is in its batch's merged report (the throughput benchmark reads it).
        saved = json.loads((data_dir / "reports" / f"{rid1}.json").read_text())
        assert saved["embed"] == first.report["embed"] and "seconds" in saved["embed"]

        # Run 1: every good article indexed; the hanging page stopped, counted, kept for a reprocess.
        assert count_docs(es_url, f"{index_prefix}articles") == good
        clean_report = json.loads((data_dir / "runs" / rid1 / "clean-report.json").read_text())
        assert clean_report["articles"] == good and clean_report["extraction_timeout"] == 1, clean_report
        assert [s["url"] for s in clean_report["extraction_timeouts"]] == [server.url(HANGS)]
        # The watch searches were refused: nothing alerted, the batch's alerts pending (not lost).
        assert refused and _alert_lines(data_dir) == []
        assert any("alerts pending" in p for p in first.report["problems"]), first.report["problems"]
        assert not batches.is_processed(rid1) and batches.unprocessed() == [rid1]

        # Run 2: the engine answers again.
        outage[0] = False
        searches_refused = len(refused)
        second = cycle.run_cycle(sources)
        assert len(refused) == searches_refused

    assert second.ok, (second.report, second.others)
    assert [o["run_id"] for o in second.others] == [rid1]
    assert batches.is_processed(rid1) and batches.is_processed(second.run_id) and batches.unprocessed() == []
    assert count_docs(es_url, f"{index_prefix}articles") == good
    assert json.loads((data_dir / "runs" / rid1 / "alerts-report.json").read_text())["complete"] is True

    lines = _alert_lines(data_dir)
    keys = [(x["watch"]["id"], x["story_id"]) for x in lines]
    assert lines and len(keys) == len(set(keys)), "each watched story alerted exactly once"
    nk = [x for x in lines if x["watch"]["id"] == NK]
    assert any(SEED_PATH in a["canonical_url"] for x in nk for a in x["articles"]), nk
    # Evaluated again (a retry, a reprocess): still once per story.
    pipeline.alerts(rid1)
    assert len(_alert_lines(data_dir)) == len(lines)
