"""Dates as feeds and sitemaps write them (RFC 822, ISO 8601, W3C datetime)."""

from __future__ import annotations

import email.utils
from datetime import UTC, datetime, timedelta

#: Dates further in the future than this are treated as unknown (publisher clocks and typos).
FUTURE_TOLERANCE = timedelta(days=1)


def parse_date(value: str | None, now: datetime | None = None) -> datetime | None:
    """A timezone-aware UTC datetime, or None when the value is missing, unparseable or in the
    future beyond :data:`FUTURE_TOLERANCE`. Dates without a zone are taken as UTC."""
    if not value:
        return None
    value = value.strip()
    dt: datetime | None = None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        try:
            dt = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            dt = None
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    dt = dt.astimezone(UTC)
    if dt > (now or datetime.now(UTC)) + FUTURE_TOLERANCE:
        return None
    return dt


def iso(dt: datetime | None) -> str | None:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if dt is not None else None
