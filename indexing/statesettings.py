"""Where shared state lives: ``state.backend`` (``file``: one machine, the default; ``postgres``:
several hosts) and ``state.dsn`` (the Postgres connection string, a secret: environment only,
``WARWATCH_STATE__DSN``). Also the one check that keeps secrets out of the settings file."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, SecretStr, model_validator

from indexing.errors import ConfigError
from indexing.yamlconfig import node_line

#: keys (paths of nested keys) that must come from the environment, never from a file
SECRET_KEYS: tuple[tuple[str, ...], ...] = (("es_password",), ("es_api_key",), ("state", "dsn"),
                                             ("storage", "access_key_id"), ("storage", "secret_access_key"))


class StateSettings(BaseModel):
    """The crawl locks and the crawl's seen-store (``crawlers.state.open_seen_store``), the
    discovery times, the batch registry and leases, the alert outbox, the story index
    (``indexing.dedup.open_story_index``) and the health episodes
    (``indexing.health.episodes.open_episodes``): in files under the data directory (``file``) or
    in one Postgres database that every host reaches (``postgres``)."""

    backend: Literal["file", "postgres"] = "file"
    dsn: SecretStr | None = None
    #: seconds a new connection may take before the state counts as unreachable
    connect_timeout: int = 10

    @model_validator(mode="after")
    def _postgres_needs_dsn(self) -> StateSettings:
        if self.backend == "postgres" and not (self.dsn and self.dsn.get_secret_value().strip()):
            raise ValueError("state.backend is postgres but no DSN is set: set WARWATCH_STATE__DSN="
                             "postgresql://user:password@host:5432/db (environment only)")
        return self

    @property
    def postgres_dsn(self) -> str | None:
        """The DSN when the backend is postgres, else None (the file backend)."""
        if self.backend != "postgres" or self.dsn is None:
            return None
        return self.dsn.get_secret_value()


def refuse_file_secrets(root: yaml.MappingNode, path: Path) -> None:
    """ConfigError naming file:line when the settings file holds a secret (:data:`SECRET_KEYS`)."""
    for secret in SECRET_KEYS:
        node: yaml.Node = root
        for depth, name in enumerate(secret):
            if not isinstance(node, yaml.MappingNode):
                break
            found = next(((k, v) for k, v in node.value if k.value == name), None)
            if found is None:
                break
            if depth == len(secret) - 1:
                dotted = ".".join(secret)
                raise ConfigError(f"{path}:{node_line(found[0])}: '{dotted}' must come from the environment, "
                                  "not a file")
            node = found[1]
