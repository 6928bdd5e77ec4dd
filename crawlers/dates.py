"""Dates as feeds and sitemaps write them: the library's one date module, :mod:`indexing.dates`."""

from __future__ import annotations

from indexing.dates import FUTURE_TOLERANCE, iso, parse_date

__all__ = ["FUTURE_TOLERANCE", "iso", "parse_date"]
