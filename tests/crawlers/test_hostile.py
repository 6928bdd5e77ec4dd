"""The crawler against a hostile site (tests/crawlers/hostile_site.py): every trap costs bounded
time and memory, is counted in the crawl report, and every good article beside the traps is
fetched - and, end to end, indexed."""

from __future__ import annotations

import json
import os
import sys
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from crawlers.settings import REDIRECT_MAX_TIMES
from indexing.archive import iter_manifest
from indexing.settings import CrawlSettings
from tests.conftest import REPO_ROOT
from tests.conftest import REPO_ROOT as PROJECT_ROOT
from tests.crawlers.hostile_site import (
    HUGE_SECTION_LINKS,
    POISON_DATES,
    ROBOTS_SITEMAP_LINES,
    TRAP_PAGES,
    HostileServer,
    Measured,
    build_hostile_site,
    hostile_sources_yaml,
    run_measured,
)

N_GOOD = 50
#: A hang guard only (the crawl is bounded by the work counted below; its wall time is measured by
#: benchmarks/hostile.py): the whole hostile crawl, 50 good articles, politeness delays off.
MAX_SECONDS = 240
MAX_RSS = 600 * 1024 * 1024
#: Below the junk the traps offer (1,000+ dead links), above the good articles: the cap must bite
#: on the junk, newest (dated, good) first.
MAX_ARTICLES = 300


def _env(data_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "WARWATCH_DATA_DIR": str(data_dir),
            "WARWATCH_CRAWL__DOWNLOAD_DELAY": "0",
            "WARWATCH_CRAWL__AUTOTHROTTLE": "false",
            "WARWATCH_CRAWL__CONCURRENT_REQUESTS_PER_DOMAIN": "8",
            # The one-byte-per-second page costs this times 1 + its retries (it is on the crawl's
            # critical path), not the default 30 s; what is tested is that it fails as a timeout.
            "WARWATCH_CRAWL__DOWNLOAD_TIMEOUT": "5",
            "WARWATCH_CRAWL__MAX_ARTICLES_PER_SOURCE": str(MAX_ARTICLES),
            "PYTHONPATH": str(REPO_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
        }
    )
    return env


@dataclass
class HostileCrawl:
    measured: Measured
    report: dict[str, Any]
    manifest: list[dict[str, Any]]
    good_paths: list[str]
    charset_paths: list[str]
    poisoned_paths: list[str]
    hits: list[str]
    log: str

    @property
    def source(self) -> dict[str, Any]:
        return self.report["sources"]["fixture"]

    def fetched_paths(self) -> set[str]:
        from urllib.parse import urlsplit

        return {urlsplit(e.get("final_url") or e["url"]).path for e in self.manifest}


@pytest.fixture(scope="module")
def hostile_crawl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostileCrawl]:
    tmp = tmp_path_factory.mktemp("hostile")
    site = build_hostile_site(N_GOOD)
    with HostileServer(site) as srv:
        sources = tmp / "sources.yaml"
        sources.write_text(hostile_sources_yaml(srv.base_url), encoding="utf-8")
        cmd = [sys.executable, "-m", "crawlers.run", "--run-id", "hostile", "--sources", str(sources)]
        measured = run_measured(cmd, _env(tmp / "data"), tmp, timeout=MAX_SECONDS + 60, log=tmp / "crawl.log")
        hits = srv.paths()
    run_dir = tmp / "data" / "runs" / "hostile"
    report_path = run_dir / "crawl-report.json"
    log = (tmp / "crawl.log").read_text(encoding="utf-8", errors="replace")
    report = json.loads(report_path.read_text(encoding="utf-8")) if report_path.exists() else {"sources": {}}
    manifest = (
        list(iter_manifest(run_dir / "manifest.jsonl")) if (run_dir / "manifest.jsonl").exists() else []
    )
    yield HostileCrawl(
        measured, report, manifest, site.good_paths, site.charset_paths, site.poisoned_paths, hits, log
    )


def test_crawl_ends_in_bounded_work_and_memory(hostile_crawl: HostileCrawl) -> None:
    m = hostile_crawl.measured
    assert not m.timed_out, f"still crawling after {m.seconds:.0f}s:\n{hostile_crawl.log[-3000:]}"
    assert m.returncode == 0, hostile_crawl.log[-3000:]
    # Bounded by the work done, counted on the wire (not by the clock): at most MAX_ARTICLES
    # article URLs next to the discovery documents the caps allow (robots.txt, the feed, the
    # sitemap index, its children and robots' Sitemap: lines, the two sections), and no URL asked
    # for more often than its retries allow - or, for a redirect loop's URLs, its hops.
    caps = CrawlSettings()
    per_url = Counter(hostile_crawl.hits)
    assert max(per_url.values()) <= max(1 + caps.retry_times, REDIRECT_MAX_TIMES + 1), per_url.most_common(5)
    discovery = 3 + caps.sitemap_max_children + caps.robots_max_sitemaps + 2
    assert len(per_url) <= MAX_ARTICLES + discovery, len(per_url)
    assert len(hostile_crawl.hits) <= (MAX_ARTICLES + discovery) * (1 + caps.retry_times), len(hostile_crawl.hits)
    assert m.peak_rss_bytes < MAX_RSS, f"peak RSS {m.peak_rss_bytes / 2**20:.0f} MiB"
    assert "Traceback" not in hostile_crawl.log, hostile_crawl.log[hostile_crawl.log.index("Traceback") :][
        :3000
    ]


def test_every_good_article_is_fetched(hostile_crawl: HostileCrawl) -> None:
    missing = set(hostile_crawl.good_paths) - hostile_crawl.fetched_paths()
    assert not missing, f"{len(missing)} good articles not fetched, e.g. {sorted(missing)[:5]}"


def test_poisoned_dates_lose_no_entry(hostile_crawl: HostileCrawl) -> None:
    """The feed's first entries and the sitemap's last ones carry the poisoned dates."""
    poisoned = set(
        hostile_crawl.good_paths[: len(POISON_DATES)] + hostile_crawl.good_paths[-len(POISON_DATES) :]
    )
    assert poisoned <= hostile_crawl.fetched_paths()
    assert not any(k.startswith("feed:") for k in hostile_crawl.source["discovery_failed"])


def test_bad_charsets_are_stored_not_crashed(hostile_crawl: HostileCrawl) -> None:
    assert set(hostile_crawl.charset_paths) <= hostile_crawl.fetched_paths()


@pytest.mark.parametrize(
    ("trap", "reason"),
    [
        ("gzip_bomb_page", "gzip_bomb"),
        ("huge_page", "too_large"),
        ("huge_page_unannounced", "too_large"),
        ("slow_page", "timeout"),
        ("redirect_loop", "redirect_loop"),
        ("redirect_chain", "redirect_loop"),
        ("truncated", "data_loss"),
    ],
)
def test_trap_page_fails_and_is_counted(hostile_crawl: HostileCrawl, trap: str, reason: str) -> None:
    failed = hostile_crawl.source["failed"]
    assert failed.get(reason, 0) >= 1, f"{trap}: no {reason!r} in {failed}"
    assert TRAP_PAGES[trap] not in hostile_crawl.fetched_paths()


def test_redirect_chain_stops(hostile_crawl: HostileCrawl) -> None:
    chain = [p for p in hostile_crawl.hits if p.startswith("/trap/2026/11/redirect-chain-")]
    assert 0 < len(chain) <= 11 * 3, "REDIRECT_MAX_TIMES hops (a few retries at most)"


def test_sitemap_bomb_is_refused_and_counted(hostile_crawl: HostileCrawl) -> None:
    failed = hostile_crawl.source["discovery_failed"]
    assert any(k.startswith("sitemap:") for k in failed), failed


def test_endless_sitemap_chain_is_cut_and_counted(hostile_crawl: HostileCrawl) -> None:
    assert hostile_crawl.source["capped"].get("sitemap_depth", 0) >= 1
    depth = max(
        int(p.split("index-")[1].split(".")[0]) for p in hostile_crawl.hits if "/trap/sitemaps/index-" in p
    )
    assert depth <= 10


def test_huge_sitemap_is_capped_and_counted(hostile_crawl: HostileCrawl) -> None:
    capped = hostile_crawl.source["capped"]
    assert capped.get("sitemap_urls", 0) >= 1, capped  # one sitemap cut
    dead = sum(1 for p in hostile_crawl.hits if p.startswith("/dead/"))
    assert dead <= 1000, f"{dead} dead URLs fetched"


def test_huge_section_is_capped_and_counted(hostile_crawl: HostileCrawl) -> None:
    capped = hostile_crawl.source["capped"]
    assert capped.get("section_links", 0) >= HUGE_SECTION_LINKS - 1000, capped


def test_robots_sitemap_lines_are_capped_and_counted(hostile_crawl: HostileCrawl) -> None:
    capped = hostile_crawl.source["capped"]
    assert capped.get("robots_sitemaps", 0) >= ROBOTS_SITEMAP_LINES - 50, capped
    fetched = sum(1 for p in hostile_crawl.hits if p.startswith("/trap/robots-sitemap-"))
    assert fetched <= 50 * 3


# -- end to end: warwatch run indexes every good article ------------------------------------


def _indexed_paths(es_url: str, alias: str) -> set[str]:
    from urllib.parse import urlsplit

    body = json.dumps(
        {"size": 1000, "_source": ["url", "canonical_url"], "query": {"match_all": {}}}
    ).encode()
    req = urllib.request.Request(
        f"{es_url}/{alias}/_search", data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        hits = json.load(resp)["hits"]["hits"]
    return {urlsplit(h["_source"].get("canonical_url") or h["_source"]["url"]).path for h in hits}


def test_warwatch_run_indexes_every_good_article(
    index_prefix: str, data_dir: Path, es_url: str, tmp_path: Path
) -> None:
    site = build_hostile_site(N_GOOD)
    env = _env(data_dir)
    env.update({"WARWATCH_ES_URL": es_url, "WARWATCH_INDEX_PREFIX": index_prefix})
    with HostileServer(site) as srv:
        sources = tmp_path / "sources.yaml"
        sources.write_text(hostile_sources_yaml(srv.base_url), encoding="utf-8")
        cmd = [sys.executable, "-m", "warwatch.cli", "run", "--sources", str(sources)]
        measured = run_measured(cmd, env, PROJECT_ROOT, timeout=MAX_SECONDS + 120, log=tmp_path / "run.log")
    log = (tmp_path / "run.log").read_text(encoding="utf-8", errors="replace")
    assert not measured.timed_out, log[-3000:]
    # The traps make most article attempts fail: the run completes and says so (exit 1 with the
    # source flagged mostly_failed, CONTRACT: per-source failures are reported, not hidden).
    problems = [line.strip(" •") for line in log.split("Problems:", 1)[-1].splitlines() if "•" in line]
    assert measured.returncode == 0 or problems == ["source fixture: mostly_failed"], log[-3000:]
    assert "index:" in log and "created=" in log.split("index:", 1)[1], log[-3000:]
    assert measured.peak_rss_bytes < MAX_RSS + 400 * 1024 * 1024, "crawl + processing"
    missing = set(site.good_paths) - _indexed_paths(es_url, f"{index_prefix}articles")
    assert not missing, f"{len(missing)} good articles not indexed, e.g. {sorted(missing)[:5]}"
