"""Dates from machine-readable attributes, URLs and running text, always tz-aware UTC.

A timestamp without a zone is taken as UTC (the least surprising guess for a server clock and
what the index stores anyway); a date without a time is midnight UTC.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta, timezone

logger = logging.getLogger(__name__)

_ISO = re.compile(
    r"^\s*(\d{4})-?(\d{2})-?(\d{2})"
    r"(?:[T\s_](\d{1,2}):?(\d{2})(?::?(\d{2})(?:[.,]\d+)?)?)?"
    r"\s*(Z|z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?\s*$"
)
_RFC = re.compile(
    r"^\s*(?:[A-Za-z]{3},?\s+)?(\d{1,2})\s+([A-Za-z]{3})[a-z]*\.?\s+(\d{4})"
    r"(?:\s+(\d{1,2}):(\d{2})(?::(\d{2}))?)?\s*(Z|UTC|GMT|[+-]\d{4})?\s*$"
)
_EPOCH = re.compile(r"^\s*(\d{10})(\d{3})?\s*$")

MONTHS: dict[str, int] = {}
for _names in (
    "january february march april may june july august september october november december",
    "jan feb mar apr may jun jul aug sep oct nov dec",
    "januar februar märz april mai juni juli august september oktober november dezember",
    "janvier février mars avril mai juin juillet août septembre octobre novembre décembre",
    "січня лютого березня квітня травня червня липня серпня вересня жовтня листопада грудня",
    "січень лютий березень квітень травень червень липень серпень вересень жовтень листопад грудень",
    "января февраля марта апреля мая июня июля августа сентября октября ноября декабря",
    "январь февраль март апрель май июнь июль август сентябрь октябрь ноябрь декабрь",
):
    for _i, _n in enumerate(_names.split()):
        MONTHS.setdefault(_n, _i + 1)
MONTHS.update({"sept": 9, "jänner": 1, "maerz": 3, "févr": 2, "déc": 12, "juil": 7})

_MONTH_ALT = "|".join(sorted((re.escape(m) for m in MONTHS), key=len, reverse=True))
_TIME = r"(?:[,\s]+(?:um|à|at|в|о|o)?\s*(\d{1,2})[:.h](\d{2})(?:\s*(am|pm|a\.m\.|p\.m\.))?)?"
_TEXT_DMY = re.compile(r"\b(\d{1,2})\.?\s+(" + _MONTH_ALT + r")\.?,?\s+(\d{4})" + _TIME, re.I)
_TEXT_MDY = re.compile(r"\b(" + _MONTH_ALT + r")\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})" + _TIME, re.I)
_TEXT_NUMERIC = re.compile(r"\b(\d{1,2})\.(\d{1,2})\.(\d{4})(?:[,\s]+(?:um\s+)?(\d{1,2})[:.](\d{2}))?\b")
_URL_DATE = re.compile(r"/((?:19|20)\d{2})[/-]?(0[1-9]|1[0-2])[/-]?(0[1-9]|[12]\d|3[01])(?:/|[-_.]|$)")
_URL_YM = re.compile(r"/((?:19|20)\d{2})/(0[1-9]|1[0-2])/")


def _tz(value: str | None) -> timezone:
    if not value or value.upper() in {"Z", "UTC", "GMT"}:
        return UTC
    sign = -1 if value[0] == "-" else 1
    digits = value[1:].replace(":", "")
    hours = int(digits[:2])
    minutes = int(digits[2:4]) if len(digits) > 2 else 0
    if hours > 14 or minutes > 59:
        raise ValueError(f"bad offset {value}")
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def _plausible(dt: datetime) -> datetime | None:
    if not 1990 <= dt.year <= datetime.now(UTC).year + 1:
        return None
    return dt.astimezone(UTC)


def parse_date(value: object) -> datetime | None:
    """A machine-readable date (ISO 8601, RFC 2822, epoch seconds/ms) -> aware UTC, or None."""
    if isinstance(value, datetime):
        dt = value if value.tzinfo else value.replace(tzinfo=UTC)
        return _plausible(dt)
    if not isinstance(value, str) or not value.strip() or len(value) > 80:
        return None
    try:
        m = _ISO.match(value)
        if m:
            y, mo, d, h, mi, s, tz = m.groups()
            dt = datetime(int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(s or 0), tzinfo=_tz(tz))
            return _plausible(dt)
        m = _RFC.match(value)
        if m:
            d, mon, y, h, mi, s, tz = m.groups()
            month = MONTHS.get(mon.lower())
            if month:
                dt = datetime(int(y), month, int(d), int(h or 0), int(mi or 0), int(s or 0), tzinfo=_tz(tz))
                return _plausible(dt)
        m = _EPOCH.match(value)
        if m:
            return _plausible(datetime.fromtimestamp(int(m.group(1)), tz=UTC))
    except (ValueError, OverflowError):
        return None
    return parse_text_date(value)


def _hour(h: str | None, ampm: str | None) -> int:
    hour = int(h or 0)
    if ampm:
        pm = ampm.lower().startswith("p")
        hour = hour % 12 + (12 if pm else 0)
    return hour


def parse_text_date(text: str) -> datetime | None:
    """The first date written out in running text ("28. Oktober 2024, 17:42", "Oct 28, 2024")."""
    if not text:
        return None
    sample = text[:5000]
    candidates: list[tuple[int, datetime]] = []
    try:
        for m in _TEXT_DMY.finditer(sample):
            d, mon, y, h, mi, ampm = m.groups()
            dt = datetime(int(y), MONTHS[mon.lower()], int(d), _hour(h, ampm), int(mi or 0), tzinfo=UTC)
            candidates.append((m.start(), dt))
            break
        for m in _TEXT_MDY.finditer(sample):
            mon, d, y, h, mi, ampm = m.groups()
            dt = datetime(int(y), MONTHS[mon.lower()], int(d), _hour(h, ampm), int(mi or 0), tzinfo=UTC)
            candidates.append((m.start(), dt))
            break
        for m in _TEXT_NUMERIC.finditer(sample):
            d, mo, y, h, mi = m.groups()
            dt = datetime(int(y), int(mo), int(d), int(h or 0), int(mi or 0), tzinfo=UTC)
            candidates.append((m.start(), dt))
            break
    except (ValueError, KeyError):
        pass
    for _, dt in sorted(candidates, key=lambda c: c[0]):
        ok = _plausible(dt)
        if ok:
            return ok
    return None


def date_from_url(url: str | None) -> datetime | None:
    """/2024/10/28/ or /20241028/ in a URL path -> that day, midnight UTC."""
    if not url:
        return None
    m = _URL_DATE.search(url)
    try:
        if m:
            return _plausible(datetime(int(m.group(1)), int(m.group(2)), int(m.group(3)), tzinfo=UTC))
    except ValueError:
        return None
    return None
