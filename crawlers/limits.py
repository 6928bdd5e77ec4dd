"""The crawl's bounds, read once from the Scrapy settings (``WARWATCH_*``, filled from
``indexing.settings.CrawlSettings`` by ``crawlers.settings.from_warwatch``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from scrapy.settings import BaseSettings

from indexing.settings import CrawlSettings

#: the code defaults of the crawl settings: written once, in ``indexing.settings.CrawlSettings``;
#: every crawler component falls back to these when a ``WARWATCH_*`` setting is absent
DEFAULTS = CrawlSettings()


def _optional(settings: BaseSettings, name: str) -> float | None:
    value = settings.get(name)
    return float(value) if value is not None else None


def _days(days: float | None) -> timedelta | None:
    return timedelta(days=days) if days is not None else None


@dataclass(frozen=True)
class CrawlLimits:
    recrawl_window: timedelta = timedelta(hours=DEFAULTS.recrawl_window_hours)
    recrawl_min_interval: timedelta = timedelta(hours=DEFAULTS.recrawl_min_interval_hours)
    max_age: timedelta | None = _days(DEFAULTS.max_age_days)
    #: new articles per source and run (None: no cap)
    max_articles_per_source: int | None = DEFAULTS.max_articles_per_source
    section_depth: int = DEFAULTS.section_depth
    section_max_links: int = DEFAULTS.section_max_links
    sitemap_max_depth: int = DEFAULTS.sitemap_max_depth
    sitemap_max_children: int = DEFAULTS.sitemap_max_children
    sitemap_max_urls: int = DEFAULTS.sitemap_max_urls
    sitemap_max_bytes: int = DEFAULTS.sitemap_max_bytes
    robots_max_sitemaps: int = DEFAULTS.robots_max_sitemaps
    max_body_bytes: int = DEFAULTS.max_body_bytes

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> CrawlLimits:
        d = cls()
        max_age = _optional(settings, "WARWATCH_MAX_AGE_DAYS")
        max_articles = settings.get("WARWATCH_MAX_ARTICLES_PER_SOURCE", d.max_articles_per_source)
        return cls(
            recrawl_window=timedelta(
                hours=settings.getfloat("WARWATCH_RECRAWL_WINDOW_HOURS", DEFAULTS.recrawl_window_hours)
            ),
            recrawl_min_interval=timedelta(
                hours=settings.getfloat("WARWATCH_RECRAWL_MIN_INTERVAL_HOURS", DEFAULTS.recrawl_min_interval_hours)
            ),
            max_age=_days(max_age),
            max_articles_per_source=int(max_articles) if max_articles is not None else None,
            section_depth=settings.getint("WARWATCH_SECTION_DEPTH", d.section_depth),
            section_max_links=settings.getint("WARWATCH_SECTION_MAX_LINKS", d.section_max_links),
            sitemap_max_depth=settings.getint("WARWATCH_SITEMAP_MAX_DEPTH", d.sitemap_max_depth),
            sitemap_max_children=settings.getint("WARWATCH_SITEMAP_MAX_CHILDREN", d.sitemap_max_children),
            sitemap_max_urls=settings.getint("WARWATCH_SITEMAP_MAX_URLS", d.sitemap_max_urls),
            sitemap_max_bytes=settings.getint("WARWATCH_SITEMAP_MAX_BYTES", d.sitemap_max_bytes),
            robots_max_sitemaps=settings.getint("WARWATCH_ROBOTS_MAX_SITEMAPS", d.robots_max_sitemaps),
            max_body_bytes=settings.getint("DOWNLOAD_MAXSIZE", d.max_body_bytes),
        )
