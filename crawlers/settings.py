"""Scrapy settings, derived from ``indexing.settings.get_settings().crawl``.

Politeness lives here, not in the spider: robots.txt (plus Crawl-delay, which Scrapy itself
does not apply), AutoThrottle, per-domain concurrency, an identifiable User-Agent with a contact
URL, a body size cap and retries that honour Retry-After.
"""

from __future__ import annotations

from indexing.settings import get_settings

_crawl = get_settings().crawl

BOT_NAME = "warwatch"
SPIDER_MODULES = ["crawlers.spiders"]
NEWSPIDER_MODULE = "crawlers.spiders"

USER_AGENT = _crawl.user_agent.format(contact_url=_crawl.contact_url)
ROBOTSTXT_OBEY = _crawl.obey_robots
ROBOTSTXT_USER_AGENT = "warwatch"

CONCURRENT_REQUESTS = _crawl.concurrent_requests
CONCURRENT_REQUESTS_PER_DOMAIN = _crawl.concurrent_requests_per_domain
DOWNLOAD_DELAY = _crawl.download_delay
RANDOMIZE_DOWNLOAD_DELAY = True
DOWNLOAD_TIMEOUT = _crawl.download_timeout
DOWNLOAD_MAXSIZE = _crawl.max_body_bytes
DOWNLOAD_WARNSIZE = 0

AUTOTHROTTLE_ENABLED = _crawl.autothrottle
AUTOTHROTTLE_START_DELAY = max(_crawl.download_delay, 0.5)
AUTOTHROTTLE_MAX_DELAY = 60.0
AUTOTHROTTLE_TARGET_CONCURRENCY = _crawl.autothrottle_target_concurrency

RETRY_ENABLED = True
RETRY_TIMES = _crawl.retry_times
RETRY_HTTP_CODES = [429, 500, 502, 503, 504, 522, 524, 408]
#: Longest Retry-After we wait for; beyond it the request fails as http_429/http_503.
WARWATCH_MAX_RETRY_AFTER = _crawl.max_retry_after
REDIRECT_MAX_TIMES = 10
METAREFRESH_ENABLED = False
COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False
HTTPCACHE_ENABLED = False
# 304 reaches the spider (conditional GET of feeds and sitemaps).
HTTPERROR_ALLOWED_CODES: list[int] = []

DEFAULT_REQUEST_HEADERS = {
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,application/rss+xml;q=0.9,*/*;q=0.8",
    "Accept-Language": "*",
}

DOWNLOADER_MIDDLEWARES = {
    "crawlers.downloadermiddlewares.private_network.PrivateNetworkMiddleware": 50,
    "crawlers.downloadermiddlewares.scope.SourceScopeMiddleware": 60,
    "crawlers.downloadermiddlewares.crawl_delay.CrawlDelayMiddleware": 120,
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
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
    "crawlers.extensions.run_report.RunReportExtension": 500,
    "scrapy.extensions.telnet.TelnetConsole": None,
}

# Breadth-first-ish memory queues; the spider sets priorities (discovery first, newest first).
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
