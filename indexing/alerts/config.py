"""The watches file (config/watches.yaml): strict loading, with file, line, watch and key named
in every error (the same rules and helpers as the sources file, indexing/sources.py).

```yaml
delivery:                       # optional; every key also from WARWATCH_ALERTS_<KEY> (which wins)
  retries: 3                    # attempts per channel and evaluation (webhook, email)
  backoff_seconds: 1.0          # doubled after each failed attempt
  timeout_seconds: 10.0         # one deadline for a whole delivery attempt (lookup to answer)
  smtp_host: 127.0.0.1
  smtp_port: 25
  smtp_sender: warwatch@localhost
  smtp_starttls: false
  smtp_ssl: false               # SMTP user/password: WARWATCH_ALERTS_SMTP_USER / _PASSWORD only
watches:
  - id: north-korean-troops-in-russia     # [a-z0-9-]+, unique, stable: used in state and file names
    name: North Korean troops in Russia
    query: North Korean troops in Russia  # `warwatch search` syntax, cross-lingual
    filters: {topics: [], entities: [], languages: [], sources: []}   # optional
    min_score: 40                 # optional: replaces the default "about the query" test
    on: [new, edited, removed]    # optional: which events alert (default [new]): a new story, an
                                  # article edited (indexing/changes), an article taken down
    channels:                     # file (data/alerts/<id>.jsonl) is always on
      webhook: {url: https://hooks.example/..., url_env: NAME_OF_ENV_VAR_WITH_THE_URL,
                allow_private_network: false}   # true: the receiver may be on 127.0.0.1/10.x/...
      email: {to: [desk@example.org]}
```
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import PydanticBaseSettingsSource, SettingsConfigDict

from indexing.channelconfig import Channels
from indexing.errors import ConfigError
from indexing.settings import LayeredSettings, get_settings
from indexing.yamlconfig import (
    ItemId,
    load_document,
    mapping_keys,
    node_line,
    read_config,
    validate_items,
    validation_error,
)

log = logging.getLogger(__name__)

WATCHES_FILE = "watches.yaml"
#: what a watch may alert on (``on:``)
Event = Literal["new", "edited", "removed"]


class WatchFilters(BaseModel):
    """Restrict a watch like ``warwatch search --topic/--entity/--lang/--source`` (any of the values)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    topics: list[str] = Field(default_factory=list)
    entities: list[str] = Field(default_factory=list)
    languages: list[str] = Field(default_factory=list)
    sources: list[str] = Field(default_factory=list)

    @field_validator("topics", "entities", "languages", "sources", mode="before")
    @classmethod
    def _one_or_many(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v

    @field_validator("topics", "entities", "languages", "sources")
    @classmethod
    def _no_commas(cls, v: list[str]) -> list[str]:
        out = [s.strip() for s in v if s.strip()]
        if any("," in s for s in out):
            raise ValueError("one value per list item (no commas)")
        return out


class Watch(BaseModel):
    """One topic watch."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: ItemId
    name: str = ""
    query: str
    filters: WatchFilters = Field(default_factory=WatchFilters)
    min_score: float | None = Field(default=None, gt=0)
    channels: Channels = Field(default_factory=Channels)
    #: which events alert: new stories, edits of matching articles, takedowns of matching articles
    on: list[Event] = Field(default_factory=lambda: list[Event](["new"]), min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _yaml_on(cls, data: Any) -> Any:
        """YAML 1.1 reads a bare ``on`` key as the boolean true: it is the ``on`` key here."""
        if isinstance(data, dict) and True in data and "on" not in data:
            return {("on" if k is True else k): v for k, v in data.items()}
        return data

    @field_validator("on", mode="before")
    @classmethod
    def _events(cls, v: Any) -> Any:
        """One event or a list of them, each once."""
        v = [v] if isinstance(v, str) else v
        return list(dict.fromkeys(v)) if isinstance(v, list) and all(isinstance(x, str) for x in v) else v

    @field_validator("query")
    @classmethod
    def _non_empty(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must not be empty")
        return v.strip()

    @property
    def display_name(self) -> str:
        return self.name or self.id


class DeliverySettings(LayeredSettings):
    """How alerts are delivered: the ``delivery`` section of the watches file, overridden by
    ``WARWATCH_ALERTS_*`` environment variables. SMTP credentials come only from the environment."""

    model_config = SettingsConfigDict(env_prefix="WARWATCH_ALERTS_", extra="forbid")

    retries: int = Field(default=3, ge=1, le=20)
    backoff_seconds: float = Field(default=1.0, ge=0)
    timeout_seconds: float = Field(default=10.0, gt=0)
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=25, gt=0, lt=65536)
    smtp_sender: str = "warwatch@localhost"
    smtp_starttls: bool = False
    smtp_ssl: bool = False
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None

    @classmethod
    def layers(
        cls, init: PydanticBaseSettingsSource, env: PydanticBaseSettingsSource
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The file's values are passed as init arguments: the environment must win over them.
        return (env, init)


_ENV_ONLY = ("smtp_user", "smtp_password")


@dataclass(frozen=True)
class WatchConfig:
    path: Path | None
    watches: list[Watch] = field(default_factory=list)
    delivery: DeliverySettings = field(default_factory=DeliverySettings)

    def by_id(self) -> dict[str, Watch]:
        return {w.id: w for w in self.watches}


# --- loading ---------------------------------------------------------------------------------


def _known_topics() -> set[str] | None:
    try:
        from indexing.enrich import load_topics

        return set(load_topics().topics)
    except (ImportError, ConfigError, OSError) as exc:
        log.warning("topics unavailable, watch topic filters not checked: %s", exc)
        return None


def parse_watches(text: str, path: Path) -> WatchConfig:
    """Parse and validate the text of a watches file (``path`` is used in messages)."""
    doc = load_document(text, path, ["watches", "delivery"])
    if doc.empty:
        return WatchConfig(path)
    delivery = _parse_delivery(doc.top.get("delivery"), doc.data.get("delivery"), path)
    items = validate_items(doc, "watches", Watch, "watch")
    topics: set[str] | None = None
    for item in items:
        if item.value.filters.topics:
            topics = _known_topics() if topics is None else topics
            unknown = [t for t in item.value.filters.topics if topics is not None and t not in topics]
            if unknown:
                raise ConfigError(f"{path}:{item.line('filters', 'topics')}: {item.label}: key 'filters.topics': "
                                  f"unknown topic {unknown[0]!r} (see config/topics.yaml)")
    return WatchConfig(path, [item.value for item in items], delivery)


def _parse_delivery(nodes: tuple[yaml.Node, yaml.Node] | None, data: Any, path: Path) -> DeliverySettings:
    if nodes is None or data is None:
        values: dict[str, Any] = {}
    else:
        key_node, value_node = nodes
        if not isinstance(value_node, yaml.MappingNode) or not isinstance(data, dict):
            raise ConfigError(f"{path}:{node_line(key_node)}: key 'delivery': expected a mapping")
        keys = mapping_keys(value_node, path, "delivery")
        for secret in _ENV_ONLY:
            if secret in keys:
                raise ConfigError(f"{path}:{node_line(keys[secret][0])}: delivery: key '{secret}' must come from "
                                  f"the environment (WARWATCH_ALERTS_{secret.upper()}), not a file")
        values = dict(data)
    try:
        return DeliverySettings(**values)
    except ValidationError as exc:
        raise validation_error(exc, nodes[1] if nodes else None, path,
                               "delivery (or WARWATCH_ALERTS_* environment)") from exc


def watches_path() -> Path:
    """The default watches file: ``watches.yaml`` in the configuration directory."""
    return get_settings().config_file(WATCHES_FILE)


def load_config(path: Path | None = None) -> WatchConfig:
    """Watches and delivery settings. The default file may be absent (no watches); an explicit
    ``path`` must exist."""
    explicit = path is not None
    p = Path(path) if path is not None else watches_path()
    if not explicit and not p.exists():
        log.info("no watches file at %s: no alerts", p)
        return WatchConfig(None, [], _parse_delivery(None, None, p))
    config = parse_watches(read_config(p, "watches file"), p)
    log.debug("loaded %d watches from %s", len(config.watches), p)
    return config


def load_watches(path: Path | None = None) -> list[Watch]:
    """The watches of ``path`` (default: config/watches.yaml), validated."""
    return load_config(path).watches
