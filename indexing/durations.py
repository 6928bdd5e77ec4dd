"""Durations as people write them in settings: ``90`` (seconds), ``10s``, ``5m``, ``1h30m``,
``2d``, ``1w``, ISO 8601 (``PT1H``, ``P1D``), and lists of them (``"1h, 3h, 1d"`` or a JSON list).

Used by settings such as ``changes.revisit_after`` so that an environment variable
(``WARWATCH_CHANGES__REVISIT_AFTER=10s,30s``) and a YAML list read the same way.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

from pydantic import TypeAdapter, ValidationError

_UNITS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(sec|min|s|m|h|d|w)", re.IGNORECASE)
_COMPACT = re.compile(r"(?:\d+(?:\.\d+)?\s*(?:sec|min|s|m|h|d|w)\s*){1,6}", re.IGNORECASE)
_MAX_ITEMS = 100
_ISO = TypeAdapter(timedelta)


def parse_duration(value: Any) -> timedelta:
    """One duration; raises ValueError with the value in the message when it is not one."""
    if isinstance(value, timedelta):
        out = value
    elif isinstance(value, bool):
        raise ValueError(f"not a duration: {value!r}")
    elif isinstance(value, int | float):
        out = timedelta(seconds=float(value))
    elif isinstance(value, str):
        out = _parse_text(value.strip())
    else:
        raise ValueError(f"not a duration: {value!r}")
    if out <= timedelta(0):
        raise ValueError(f"a duration must be positive: {value!r}")
    return out


def _parse_text(text: str) -> timedelta:
    if not text or len(text) > 64:
        raise ValueError(f"not a duration: {text[:64]!r}")
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return timedelta(seconds=float(text))
    if _COMPACT.fullmatch(text):
        return timedelta(seconds=sum(float(n) * _UNITS[u.lower()] for n, u in _PART.findall(text)))
    if text[:1] in "Pp":
        try:
            return _ISO.validate_python(text.upper())
        except ValidationError:
            pass
    raise ValueError(f"not a duration: {text!r} (write 90, 10s, 5m, 1h, 2d, 1w or ISO 8601 like PT1H)")


def parse_durations(value: Any) -> list[timedelta]:
    """A list of durations from a list, a JSON list, or a string separated by commas or spaces;
    sorted, duplicates removed; at most 100."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except ValueError as exc:
                raise ValueError(f"not a list of durations: {text[:80]!r}") from exc
        else:
            value = [p for p in re.split(r"[,\s]+", text) if p]
    if not isinstance(value, list | tuple):
        value = [value]
    if len(value) > _MAX_ITEMS:
        raise ValueError(f"at most {_MAX_ITEMS} durations, got {len(value)}")
    return sorted({parse_duration(v) for v in value})
