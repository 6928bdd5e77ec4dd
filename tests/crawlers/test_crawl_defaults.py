"""The crawl settings' defaults are written once, in indexing.settings.CrawlSettings: the crawler's
components fall back to that model, never to a number of their own."""

from __future__ import annotations

import ast
from datetime import timedelta
from pathlib import Path

from scrapy.settings import Settings

from crawlers.crawl_report import CrawlReport
from crawlers.limits import CrawlLimits
from crawlers.policies import RetryPolicy
from indexing.settings import CrawlSettings

CRAWLERS = Path(__file__).resolve().parents[2] / "crawlers"
FIELDS = set(CrawlSettings.model_fields)


def _literal(node: ast.expr) -> bool:
    """A number or string written in place (``100 * 1024 * 1024`` included)."""
    if isinstance(node, ast.Constant):
        return node.value is not None
    if isinstance(node, ast.BinOp):
        return _literal(node.left) and _literal(node.right)
    return isinstance(node, ast.UnaryOp) and _literal(node.operand)


def _restated_defaults(text: str, label: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(text)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        if not node.func.attr.startswith("get") or len(node.args) < 2:
            continue
        name = node.args[0]
        if not (isinstance(name, ast.Constant) and isinstance(name.value, str)):
            continue
        field = name.value.removeprefix("WARWATCH_").lower()
        if name.value.startswith("WARWATCH_") and field in FIELDS and _literal(node.args[1]):
            found.append(f"{label}:{node.lineno} {name.value}")
    return found


def test_no_crawler_component_restates_a_crawl_setting_default() -> None:
    restated = [
        hit
        for path in sorted(CRAWLERS.rglob("*.py"))
        for hit in _restated_defaults(path.read_text(encoding="utf-8"), str(path.relative_to(CRAWLERS.parent)))
    ]
    assert restated == []


def test_the_scanner_sees_a_restated_default() -> None:
    text = (
        'a = settings.getfloat("WARWATCH_MAX_RETRY_AFTER", 120.0)\n'
        'b = settings.getint("WARWATCH_WARC_MAX_BYTES", 100 * 1024 * 1024)\n'
        'c = settings.getfloat("WARWATCH_MAX_RETRY_AFTER", DEFAULTS.max_retry_after)\n'
        'd = settings.getint("WARWATCH_NOT_A_CRAWL_SETTING", 1)\n'
    )
    assert _restated_defaults(text, "m.py") == ["m.py:1 WARWATCH_MAX_RETRY_AFTER", "m.py:2 WARWATCH_WARC_MAX_BYTES"]


def test_the_fallbacks_are_the_models_defaults() -> None:
    d = CrawlSettings()
    limits = CrawlLimits.from_settings(Settings())
    assert limits == CrawlLimits(max_body_bytes=Settings().getint("DOWNLOAD_MAXSIZE"))  # Scrapy's own
    assert CrawlLimits().max_body_bytes == d.max_body_bytes
    assert limits.recrawl_window == timedelta(hours=d.recrawl_window_hours)
    assert limits.recrawl_min_interval == timedelta(hours=d.recrawl_min_interval_hours)
    assert limits.max_articles_per_source == d.max_articles_per_source
    assert (limits.section_depth, limits.section_max_links) == (d.section_depth, d.section_max_links)
    assert (limits.sitemap_max_depth, limits.sitemap_max_children) == (d.sitemap_max_depth, d.sitemap_max_children)
    assert (limits.sitemap_max_urls, limits.sitemap_max_bytes) == (d.sitemap_max_urls, d.sitemap_max_bytes)
    assert limits.robots_max_sitemaps == d.robots_max_sitemaps
    assert RetryPolicy() == RetryPolicy(
        timedelta(minutes=d.retry_backoff_minutes), timedelta(hours=d.retry_backoff_max_hours), d.retry_max_attempts
    )
    assert CrawlReport("r", []).failure_ratio == d.failure_ratio_flag
