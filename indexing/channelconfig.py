"""The options of the alert channels (``file``, ``webhook``, ``email``) as pydantic models: a
watch's ``channels`` in watches.yaml and ``health.channels`` in the settings have this one shape,
validated when the file is loaded (unknown keys and bad values are errors with file and line).

A leaf module (no import of the settings), so the settings can type ``health.channels`` with it.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from indexing.yamlconfig import check_http_url

_EMAIL_RE = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+$")


class WebhookChannel(BaseModel):
    """A JSON POST. ``url_env`` names an environment variable holding the URL (chat webhook URLs
    are secrets); it wins over ``url`` when set."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str | None = None
    url_env: str | None = None
    #: the receiver may be on a loopback/private/link-local address (an intranet receiver, a
    #: test on 127.0.0.1); off, such addresses are refused like the crawler refuses them
    allow_private_network: bool = False

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
