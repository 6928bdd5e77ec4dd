"""Scrapy settings of the warwatch crawler.

The static part (components, queues, protocol choices) is below. warwatch's own settings
(``indexing.settings.Settings.crawl`` and the data directories) enter the Scrapy settings once,
through :func:`from_warwatch`, which ``crawlers.run`` applies; every component then reads its
configuration from ``crawler.settings`` in ``from_crawler``. Nothing here reads the
environment or config files at import time.

Politeness lives here, not in the spider: robots.txt (plus Crawl-delay, which Scrapy itself
does not apply), AutoThrottle, per-source download slots and concurrency, an identifiable
User-Agent with a contact URL, a body size cap and retries that honour Retry-After.
"""

from __future__ import annotations

from typing import Any

from indexing.settings import Settings

BOT_NAME = "warwatch"
SPIDER_MODULES = ["crawlers.spiders"]
NEWSPIDER_MODULE = "crawlers.spiders"

ROBOTSTXT_USER_AGENT = "warwatch"
DOWNLOAD_DELAY_JITTER = 0.5
DOWNLOAD_WARNSIZE = 0
AUTOTHROTTLE_MAX_DELAY = 60.0

RETRY_ENABLED = True
RETRY_HTTP_CODES = [429, 500, 502, 503, 504, 522, 524, 408]
REDIRECT_MAX_TIMES = 10
METAREFRESH_ENABLED = False
COOKIES_ENABLED = False
# No proxies (not even http_proxy/https_proxy from the environment): through a proxy the
# private-network check would see the proxy's address, not the target's (private_network.py).
HTTPPROXY_ENABLED = False
TELNETCONSOLE_ENABLED = False
HTTPCACHE_ENABLED = False
# 304 reaches the spider (conditional GET of feeds and sitemaps).
HTTPERROR_ALLOWED_CODES: list[int] = []

DEFAULT_REQUEST_HEADERS = {
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,application/rss+xml;q=0.9,*/*;q=0.8",
    "Accept-Language": "*",
}

# Enforces CONCURRENT_REQUESTS_PER_DOMAIN per (source) slot, which Scrapy 2.19 does not under asyncio.
DOWNLOADER = "crawlers.downloader.SlotDownloader"
DOWNLOADER_MIDDLEWARES = {
    "crawlers.downloadermiddlewares.private_network.PrivateNetworkMiddleware": 50,
    "crawlers.downloadermiddlewares.scope.SourceScopeMiddleware": 60,
    "crawlers.downloadermiddlewares.time_budget.TimeBudgetMiddleware": 70,
    "crawlers.downloadermiddlewares.crawl_delay.CrawlDelayMiddleware": 120,
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    # renders the final answer of an article that needs JavaScript, after retries and redirects
    "crawlers.downloadermiddlewares.render.RenderMiddleware": 540,
    "crawlers.downloadermiddlewares.retry_after.RetryAfterMiddleware": 550,
    # process_response runs before RedirectMiddleware (600) sees the 3xx.
    "crawlers.downloadermiddlewares.known_redirect.KnownRedirectMiddleware": 650,
    # Next to the downloader: sees the peer address of every response, each redirect hop too.
    "crawlers.downloadermiddlewares.private_network.ConnectedPeerMiddleware": 990,
}
ITEM_PIPELINES = {
    "crawlers.pipelines.archive.ArchivePipeline": 100,
    "crawlers.pipelines.seen.SeenStorePipeline": 200,
}
EXTENSIONS = {
    # The crawl state (sources, seen-store, crawl report) opens first and closes last.
    "crawlers.extensions.crawl_state.CrawlState": 100,
    "crawlers.extensions.progress.ProgressExtension": 500,
    "scrapy.extensions.telnet.TelnetConsole": None,
}

# Breadth-first-ish memory queues; the spider sets priorities (discovery first, newest first).
# The downloader-aware queue hands out requests of the slot with the fewest active downloads
# first: with one slot per source, a slow source cannot take every global request slot.
SCHEDULER_PRIORITY_QUEUE = "scrapy.pqueues.DownloaderAwarePriorityQueue"
DEPTH_PRIORITY = 0
REACTOR_THREADPOOL_MAXSIZE = 10
# Scrapy starts CONCURRENT_ITEMS worker tasks for every callback's output (default 100). Our
# item pipelines and request scheduling are synchronous, so more than a few buy nothing and
# the task churn costs ~15% of the crawl's CPU.
CONCURRENT_ITEMS = 4
DNS_TIMEOUT = 20
# Lookups in the thread pool with DNS_TIMEOUT, short cache, non-public addresses refused at
# connect time (crawlers/downloadermiddlewares/private_network.py).
TWISTED_DNS_RESOLVER = "crawlers.resolver.PrivateNetworkResolver"
WARWATCH_DNS_CACHE_SECONDS = 60
LOG_LEVEL = "INFO"
# Scrapy re-parses the source of generator callbacks (inspect + ast) to warn about `return value`
# whenever its small weak cache misses - in a long crawl, every few responses. A development
# aid only; tests/crawlers cover the callbacks.
WARN_ON_GENERATOR_RETURN_VALUE = False
FEED_EXPORT_ENCODING = "utf-8"


def from_warwatch(settings: Settings) -> dict[str, Any]:
    """Scrapy settings from warwatch's settings: Scrapy's own names where Scrapy has the knob,
    ``WARWATCH_<FIELD>`` for every field of ``settings.crawl`` (``WARWATCH_SITEMAP_MAX_DEPTH``,
    ``WARWATCH_TIME_BUDGET_SECONDS``, ...), ``WARWATCH_{DATA,RUNS,STATE,WARC}_DIR`` and the
    revisits' ``WARWATCH_REVISIT_AFTER`` (seconds), ``WARWATCH_REVISIT_SHARE``,
    ``WARWATCH_CONFIRM_DELAY_SECONDS`` (``settings.changes``)."""
    crawl = settings.crawl
    out: dict[str, Any] = {f"WARWATCH_{name.upper()}": value for name, value in crawl.model_dump().items()}
    changes = settings.changes
    out.update(
        {
            # revisits (issue #19): the intervals as seconds, the budget share, the second check
            "WARWATCH_REVISIT_AFTER": [d.total_seconds() for d in changes.revisit_after],
            "WARWATCH_REVISIT_SHARE": changes.revisit_share,
            "WARWATCH_CONFIRM_DELAY_SECONDS": changes.confirm_delay_seconds,
            "WARWATCH_DATA_DIR": str(settings.data_dir),
            "WARWATCH_RUNS_DIR": str(settings.runs_dir),
            "WARWATCH_STATE_DIR": str(settings.state_dir),
            "WARWATCH_WARC_DIR": str(settings.warc_dir),
            "USER_AGENT": crawl.user_agent.format(contact_url=crawl.contact_url),
            "ROBOTSTXT_OBEY": crawl.obey_robots,
            "CONCURRENT_REQUESTS": crawl.concurrent_requests,
            "CONCURRENT_REQUESTS_PER_DOMAIN": crawl.concurrent_requests_per_domain,
            "DOWNLOAD_DELAY": crawl.download_delay,
            "DOWNLOAD_TIMEOUT": crawl.download_timeout,
            "DOWNLOAD_MAXSIZE": crawl.max_body_bytes,
            "AUTOTHROTTLE_ENABLED": crawl.autothrottle,
            "AUTOTHROTTLE_START_DELAY": max(crawl.download_delay, 0.5),
            "AUTOTHROTTLE_TARGET_CONCURRENCY": crawl.autothrottle_target_concurrency,
            "RETRY_TIMES": crawl.retry_times,
        }
    )
    return out
