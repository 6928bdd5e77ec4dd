"""The watches file (config/watches.yaml): strict loading, with file, line, watch and key named
in every error (the same rules and helpers as the sources file, indexing/sources.py).

```yaml
delivery:                       # optional; every key also from WARWATCH_ALERTS_<KEY> (which wins)
  retries: 3                    # attempts per channel and evaluation (webhook, email)
  backoff_seconds: 1.0          # doubled after each failed attempt
  timeout_seconds: 10.0
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
    channels:                     # file (data/alerts/<id>.jsonl) is always on
      webhook: {url: https://hooks.example/..., url_env: NAME_OF_ENV_VAR_WITH_THE_URL}
      email: {to: [desk@example.org]}
```
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from indexing.settings import ConfigError, get_settings
from indexing.yamlconfig import check_http_url, compose, mapping_keys, node_line

log = logging.getLogger(__name__)

_ID_RE = re.compile(r"^[a-z0-9-]+$")
_EMAIL_RE = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+$")
WATCHES_FILE = "watches.yaml"


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


class WebhookChannel(BaseModel):
    """A JSON POST. ``url_env`` names an environment variable holding the URL (chat webhook URLs
    are secrets); it wins over ``url`` when set."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str | None = None
    url_env: str | None = None

    @field_validator("url")
    @classmethod
    def _http(cls, v: str | None) -> str | None:
        return check_http_url(v) if v is not None else None

    @model_validator(mode="after")
    def _some_url(self) -> WebhookChannel:
        if not self.url and not self.url_env:
            raise ValueError("needs 'url' or 'url_env'")
        return self


class EmailChannel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    to: list[str]
    subject_prefix: str = "[warwatch]"

    @field_validator("to", mode="before")
    @classmethod
    def _one_or_many(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v

    @field_validator("to")
    @classmethod
    def _addresses(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("at least one address")
        for addr in v:
            if not _EMAIL_RE.match(addr):
                raise ValueError(f"not an e-mail address: {addr!r}")
        return v


class Channels(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: always on; ``file: true`` (or ``{}``) may be written for clarity
    file: Any = True
    webhook: WebhookChannel | None = None
    email: EmailChannel | None = None

    @field_validator("file")
    @classmethod
    def _always_on(cls, v: Any) -> bool:
        if v is False or v is None:
            raise ValueError("the file channel is always on")
        if v is not True and v != {}:
            raise ValueError("the file channel takes no options (true or {})")
        return True

    def names(self) -> list[str]:
        """Configured channels, file first (the record that never fails for network reasons)."""
        return ["file"] + [n for n in ("webhook", "email") if getattr(self, n) is not None]


class Watch(BaseModel):
    """One topic watch."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    name: str = ""
    query: str
    filters: WatchFilters = Field(default_factory=WatchFilters)
    min_score: float | None = Field(default=None, gt=0)
    channels: Channels = Field(default_factory=Channels)

    @field_validator("id")
    @classmethod
    def _valid_id(cls, v: str) -> str:
        if not _ID_RE.match(v):
            raise ValueError(f"must match [a-z0-9-]+, got {v!r}")
        return v

    @field_validator("query")
    @classmethod
    def _non_empty(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must not be empty")
        return v.strip()

    @property
    def display_name(self) -> str:
        return self.name or self.id


class DeliverySettings(BaseSettings):
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
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The file's values are passed as init arguments: the environment must win over them.
        return (env_settings, init_settings)


_ENV_ONLY = ("smtp_user", "smtp_password")


@dataclass(frozen=True)
class WatchConfig:
    path: Path | None
    watches: list[Watch] = field(default_factory=list)
    delivery: DeliverySettings = field(default_factory=DeliverySettings)

    def by_id(self) -> dict[str, Watch]:
        return {w.id: w for w in self.watches}


# --- loading ---------------------------------------------------------------------------------


def _node_line(node: yaml.Node, loc: Sequence[Any]) -> int:
    """The line of the deepest node along a pydantic error location (key lines for mappings)."""
    line = node_line(node)
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if str(key_node.value) == str(part):
                    line, node = node_line(key_node), value_node
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            node = node.value[part]
            line = node_line(node)
        else:
            return line
    return line


def _errors(exc: ValidationError, node: yaml.Node | None, path: Path, label: str) -> ConfigError:
    messages = []
    for err in exc.errors():
        loc = list(err.get("loc", ()))
        key = ".".join(str(p) for p in loc) or "?"
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        if err.get("type") == "extra_forbidden":
            msg = "unknown key"
        elif err.get("type") == "missing":
            msg = "required key is missing"
        where = f"{path}:{_node_line(node, loc)}" if node is not None else str(path)
        messages.append(f"{where}: {label}: key '{key}': {msg}")
    unique = list(dict.fromkeys(messages))
    return ConfigError("; ".join(unique))


def _known_topics() -> set[str] | None:
    try:
        from indexing.enrich import load_topics

        return set(load_topics().topics)
    except (ImportError, ConfigError, OSError) as exc:
        log.warning("topics unavailable, watch topic filters not checked: %s", exc)
        return None


def parse_watches(text: str, path: Path) -> WatchConfig:
    """Parse and validate the text of a watches file (``path`` is used in messages)."""
    root, data = compose(text, path)
    if root is None or data is None:
        return WatchConfig(path)
    if not isinstance(root, yaml.MappingNode) or not isinstance(data, dict):
        raise ConfigError(f"{path}:{node_line(root)}: expected a mapping with a 'watches' list at the top level")
    top = mapping_keys(root, path, "top level")
    for key, (key_node, _) in top.items():
        if key not in ("watches", "delivery"):
            raise ConfigError(f"{path}:{node_line(key_node)}: top level: unknown key '{key}' "
                              "(expected 'watches' or 'delivery')")
    delivery = _parse_delivery(top.get("delivery"), data.get("delivery"), path)
    if "watches" not in top or data["watches"] is None:
        return WatchConfig(path, [], delivery)
    seq_node, items = top["watches"][1], data["watches"]
    if not isinstance(seq_node, yaml.SequenceNode) or not isinstance(items, list):
        raise ConfigError(f"{path}:{node_line(seq_node)}: key 'watches': expected a list of watches")

    watches: list[Watch] = []
    seen: dict[str, int] = {}
    topics: set[str] | None = None
    for index, (item_node, item) in enumerate(zip(seq_node.value, items, strict=True)):
        label = f"watch #{index + 1}"
        if not isinstance(item_node, yaml.MappingNode) or not isinstance(item, dict):
            raise ConfigError(f"{path}:{node_line(item_node)}: {label}: expected a mapping of keys")
        keys = mapping_keys(item_node, path, label)
        if isinstance(item.get("id"), str):
            label = f"watch '{item['id']}'"
        try:
            watch = Watch.model_validate(item)
        except ValidationError as exc:
            raise _errors(exc, item_node, path, label) from exc
        if watch.id in seen:
            raise ConfigError(f"{path}:{node_line(keys['id'][1])}: {label}: key 'id': duplicate id "
                              f"(first used on line {seen[watch.id]})")
        seen[watch.id] = node_line(keys["id"][1])
        if watch.filters.topics:
            topics = _known_topics() if topics is None else topics
            unknown = [t for t in watch.filters.topics if topics is not None and t not in topics]
            if unknown:
                line = _node_line(item_node, ["filters", "topics"])
                raise ConfigError(f"{path}:{line}: {label}: key 'filters.topics': unknown topic "
                                  f"{unknown[0]!r} (see config/topics.yaml)")
        watches.append(watch)
    return WatchConfig(path, watches, delivery)


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
        raise _errors(exc, nodes[1] if nodes else None, path, "delivery (or WARWATCH_ALERTS_* environment)") from exc


def watches_path() -> Path:
    """The default watches file: ``watches.yaml`` in the configuration directory."""
    return get_settings().config_file(WATCHES_FILE)


def load_config(path: Path | None = None) -> WatchConfig:
    """Watches and delivery settings. The default file may be absent (no watches); an explicit
    ``path`` must exist."""
    explicit = path is not None
    p = Path(path) if path is not None else watches_path()
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        if not explicit:
            log.info("no watches file at %s: no alerts", p)
            return WatchConfig(None, [], _parse_delivery(None, None, p))
        raise ConfigError(f"{p}: watches file not found") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: cannot read watches file: {exc}") from exc
    config = parse_watches(text, p)
    log.debug("loaded %d watches from %s", len(config.watches), p)
    return config


def load_watches(path: Path | None = None) -> list[Watch]:
    """The watches of ``path`` (default: config/watches.yaml), validated."""
    return load_config(path).watches
