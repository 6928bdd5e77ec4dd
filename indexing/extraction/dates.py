"""Dates of a page: the one date module, :mod:`indexing.dates`, under the names extraction uses."""

from __future__ import annotations

from indexing.dates import MONTHS, date_from_url, parse_date, parse_text_date

__all__ = ["MONTHS", "date_from_url", "parse_date", "parse_text_date"]
