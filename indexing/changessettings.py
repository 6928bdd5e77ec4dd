"""The settings of edits and takedowns (``changes``: revisits of stored articles and the change
records they give); a module of its own so that indexing/settings.py stays under 450 lines."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import NoDecode

from indexing.durations import parse_durations


class ChangesSettings(BaseModel):
    """Revisits of stored articles and the change records they give (edits and takedowns)."""

    model_config = {"extra": "forbid"}
    #: revisit every article this long after publication (first fetch when undated), whether
    #: or not it is still listed; a list of durations (``WARWATCH_CHANGES__REVISIT_AFTER=10s,30s``)
    revisit_after: Annotated[list[timedelta], NoDecode] = Field(
        default_factory=lambda: [timedelta(hours=h) for h in (1, 3, 12, 24, 72, 168, 720)])
    #: share of each source's request budget (its article cap per run) that revisits may use
    revisit_share: float = Field(default=0.3, ge=0, le=1)
    #: a takedown is reported only when a second check, this long after the first, agrees
    confirm_delay_seconds: float = Field(default=5.0, ge=0)

    @field_validator("revisit_after", mode="before")
    @classmethod
    def _durations(cls, v: object) -> list[timedelta]:
        return parse_durations(v)
