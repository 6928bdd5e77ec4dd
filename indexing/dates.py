"""Dates, in one place: parsing what pages, feeds, sitemaps and HTTP headers write, always to an
aware UTC ``datetime`` -- or ``None``. Nothing here raises on bad input.

One contract for every caller:

- a timestamp without a zone is taken as UTC (the least surprising guess for a server clock and
  what the index stores anyway); a date without a time is midnight UTC;
- a date is *plausible* from :data:`MIN_YEAR` up to :data:`FUTURE_TOLERANCE` after ``now``;
  anything else (``0001-01-01`` written by .NET for "no date", year 9999, typos, publisher
  clocks set to next year) is unknown: ``None``;
- unparseable, overflowing or out-of-range values are ``None``, never an exception, so one
  poisoned date never costs the document, feed or sitemap it sits in.

Formats: ISO 8601 / W3C datetime (sitemaps, JSON-LD, ``<time datetime>``), RFC 2822 and HTTP
dates (RSS, ``Last-Modified``, ``Retry-After``), epoch seconds or milliseconds, dates written out
in running text in English, German, French, Ukrainian, Russian, Spanish, Polish, Italian and
Portuguese ("14. März 2024, 08:15", "Oct 28, 2024", "8 de mayo de 2022", "29 marca 2020",
"28.10.2024"), and ``/2024/10/28/`` in URL paths.
"""

from __future__ import annotations

import email.utils
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone

__all__ = [
    "FUTURE_TOLERANCE",
    "MIN_YEAR",
    "MONTHS",
    "clamp",
    "date_from_url",
    "iso",
    "parse_date",
    "parse_http_date",
    "parse_iso",
    "parse_text_date",
    "to_utc",
    "writes_day_first",
]

#: Dates further in the future than this are unknown (publisher clocks and typos).
FUTURE_TOLERANCE = timedelta(days=1)
#: Dates before this year are unknown (no news page was published before the web).
MIN_YEAR = 1990
# Longer values are not a date (and regexes over them cost time).
_MAX_LEN = 80

# Whitespace runs are possessive ("\s*+"): the two around the optional zone could split the same
# spaces, quadratic on a long run of them.
_ISO = re.compile(
    r"^\s*+(\d{4})-?(\d{2})-?(\d{2})"
    r"(?:[T\s_](\d{1,2}):?(\d{2})(?::?(\d{2})(?:[.,]\d+)?)?)?"
    r"\s*+(Z|z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?\s*+$"
)
_YEAR_BEFORE_1000 = re.compile(r"\b\d{1,2}\s+[A-Za-z]{3,}\.?\s+0\d{3}\b")
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
    "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre",
    "stycznia lutego marca kwietnia maja czerwca lipca sierpnia września października listopada grudnia",
    "styczeń luty marzec kwiecień maj czerwiec lipiec sierpień wrzesień październik listopad grudzień",
    "gennaio febbraio marzo aprile maggio giugno luglio agosto settembre ottobre novembre dicembre",
    "janeiro fevereiro março abril maio junho julho agosto setembro outubro novembro dezembro",
):
    for _i, _n in enumerate(_names.split()):
        MONTHS.setdefault(_n, _i + 1)
MONTHS.update({"sept": 9, "jänner": 1, "maerz": 3, "févr": 2, "déc": 12, "juil": 7, "setiembre": 9})

_MONTH_ALT = "|".join(sorted((re.escape(m) for m in MONTHS), key=len, reverse=True))
_TIME = r"(?:[,\s]+(?:um|à|at|в|о|o)?\s*(\d{1,2})[:.h](\d{2})(?:\s*(am|pm|a\.m\.|p\.m\.))?)?"
# "14. März 2024", "29 marca 2020", "8 de mayo de 2022" (es, pt), "8 de Mayo 2022"
_TEXT_DMY = re.compile(r"\b(\d{1,2})\.?\s+(?:de\s+)?(" + _MONTH_ALT + r")\.?,?\s+(?:del?\s+)?(\d{4})" + _TIME, re.I)
_TEXT_MDY = re.compile(r"\b(" + _MONTH_ALT + r")\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})" + _TIME, re.I)
# "2022/05/10 17:36", and "10/05/2022" only when the day cannot be the month ("25/05/2022",
# "05/25/2022"): "10/05/2022" is 10 May in Bogotá and 5 October in Boston
_TEXT_YMD_SLASH = re.compile(r"\b(\d{4})/(\d{1,2})/(\d{1,2})(?:[,\s]+(\d{1,2}):(\d{2}))?\b")
_TEXT_SLASH = re.compile(r"\b(\d{1,2})/(\d{1,2})/(\d{4})\b")
# an ISO date whose time part is not an ISO time ("2018-11-28CET11:59:00+0100") or whose month and
# day are not padded ("2023-1-26"): the day is still known; an ISO time that is wrong ("T25:61")
# leaves the whole value unknown
_ISO_DAY = re.compile(r"^\s*+((?:19|20)\d{2})-(\d{1,2})-(\d{1,2})(?![\dT_ ]|\s\d)")
_TEXT_NUMERIC = re.compile(r"\b(\d{1,2})\.(\d{1,2})\.(\d{4})(?:[,\s]+(?:um\s+)?(\d{1,2})[:.](\d{2}))?\b")
_URL_DATE = re.compile(r"/((?:19|20)\d{2})[/-]?(0[1-9]|1[0-2])[/-]?(0[1-9]|[12]\d|3[01])(?:/|[-_.]|$)")

# Everything date arithmetic and the standard parsers raise on bad input.
_DATE_ERRORS = (ValueError, OverflowError, TypeError, IndexError, KeyError, AttributeError)


def to_utc(dt: datetime) -> datetime | None:
    """``dt`` as aware UTC (naive taken as UTC); None when the shift leaves datetime's range
    (``0001-01-01T00:00:00+01:00`` is a year-0 instant)."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    try:
        return dt.astimezone(UTC)
    except _DATE_ERRORS:
        return None


def clamp(dt: datetime | None, now: datetime | None = None) -> datetime | None:
    """``dt`` in UTC when plausible (:data:`MIN_YEAR` .. ``now`` + :data:`FUTURE_TOLERANCE`), else None."""
    if dt is None:
        return None
    utc = to_utc(dt)
    if utc is None or utc.year < MIN_YEAR:
        return None
    if utc > (now or datetime.now(UTC)) + FUTURE_TOLERANCE:
        return None
    return utc


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


def parse_iso(value: object) -> datetime | None:
    """ISO 8601 / W3C datetime -> aware UTC with no plausibility window (stored values, query
    bounds); None when it is not one."""
    if isinstance(value, datetime):
        return to_utc(value)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if not isinstance(value, str) or not value.strip() or len(value) > _MAX_LEN:
        return None
    text = value.strip()
    try:
        m = _ISO.match(text)
        if m:
            y, mo, d, h, mi, s, tz = m.groups()
            return to_utc(datetime(int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(s or 0), tzinfo=_tz(tz)))
        return to_utc(datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00")))
    except _DATE_ERRORS:
        return None


def parse_http_date(value: object) -> datetime | None:
    """RFC 2822 / HTTP date ("Tue, 30 Apr 2024 08:00:00 GMT") -> aware UTC, or None."""
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    if not isinstance(value, str) or not value.strip() or len(value) > _MAX_LEN:
        return None
    if _YEAR_BEFORE_1000.search(value):
        # email.utils reads "0001" as 2001 (two-digit year rules): .NET's empty date is no date.
        return None
    try:
        return to_utc(email.utils.parsedate_to_datetime(value.strip()))
    except _DATE_ERRORS:
        return None


def _parse_epoch(value: str) -> datetime | None:
    m = _EPOCH.match(value)
    if not m:
        return None
    try:
        return datetime.fromtimestamp(int(m.group(1)), tz=UTC)
    except _DATE_ERRORS:
        return None


def writes_day_first(locale: str | None) -> bool:
    """Whether a page in ``locale`` ("de", "es-CO", "en_GB", "uk-UA") writes 10/05/2022 for 10 May:
    every language but English, and English outside the United States and Canada when the locale
    says where ("en" alone says nothing)."""
    if not locale or not isinstance(locale, str):
        return False
    lang, _, region = locale.strip().replace("_", "-").lower().partition("-")
    if not lang.isalpha() or len(lang) not in (2, 3):
        return False
    if lang != "en":
        return True
    return bool(region) and region[:2] not in {"us", "ca", "ph"}


def parse_date(value: object, now: datetime | None = None, *, dayfirst: bool = False) -> datetime | None:
    """A date as pages, feeds and sitemaps write it -> plausible aware UTC, or None.

    Tries ISO 8601/W3C, RFC 2822/HTTP, epoch seconds/ms, then a date written out in the text.
    ``now`` (default: the clock) bounds the future; see the module docstring for the contract.
    """
    if isinstance(value, datetime | date):
        return clamp(parse_iso(value), now)
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    if not isinstance(value, str) or not value.strip() or len(value) > _MAX_LEN:
        return None
    for parser in (parse_iso, parse_http_date, _parse_epoch, _parse_iso_day):
        dt = parser(value)
        if dt is not None:
            return clamp(dt, now)
    return parse_text_date(value, now, dayfirst=dayfirst)


def _parse_iso_day(value: str) -> datetime | None:
    m = _ISO_DAY.match(value)
    try:
        return datetime(int(m.group(1)), int(m.group(2)), int(m.group(3)), tzinfo=UTC) if m else None
    except _DATE_ERRORS:
        return None


def _hour(h: str | None, ampm: str | None) -> int:
    hour = int(h or 0)
    if ampm:
        pm = ampm.lower().startswith("p")
        hour = hour % 12 + (12 if pm else 0)
    return hour


def _slash(dayfirst: bool) -> Callable[[str, str, str], tuple[str, str, str, int, None]]:
    """(year, month, day, ...) of a/b/year: when only one of a and b can be the month, or day
    first when the page's locale writes dates that way (``dayfirst``)."""
    def fields(a: str, b: str, y: str) -> tuple[str, str, str, int, None]:
        if int(a) > 12 >= int(b) or a == b or (dayfirst and int(b) <= 12):
            return y, b, a, 0, None
        if int(b) > 12 >= int(a):
            return y, a, b, 0, None
        raise ValueError(f"{a}/{b}/{y}: day and month cannot be told apart")
    return fields


def _first_text_dates(sample: str, dayfirst: bool = False) -> list[tuple[int, datetime]]:
    """The first match of each written-out form, with its position in ``sample``."""
    found: list[tuple[int, datetime]] = []
    forms = (
        (_TEXT_DMY, lambda d, mon, y, h, mi, ap: (y, MONTHS[mon.lower()], d, _hour(h, ap), mi)),
        (_TEXT_MDY, lambda mon, d, y, h, mi, ap: (y, MONTHS[mon.lower()], d, _hour(h, ap), mi)),
        (_TEXT_NUMERIC, lambda d, mo, y, h, mi: (y, mo, d, int(h or 0), mi)),
        (_TEXT_YMD_SLASH, lambda y, mo, d, h, mi: (y, mo, d, int(h or 0), mi)),
        (_TEXT_SLASH, _slash(dayfirst)),
    )
    for pattern, fields in forms:
        m = pattern.search(sample)
        if m is None:
            continue
        try:
            y, mo, d, h, mi = fields(*m.groups())
            found.append((m.start(), datetime(int(y), int(mo), int(d), h, int(mi or 0), tzinfo=UTC)))
        except _DATE_ERRORS:
            continue
    return found


def parse_text_date(text: str | None, now: datetime | None = None, *, dayfirst: bool = False) -> datetime | None:
    """The first plausible date written out in running text ("28. Oktober 2024, 17:42",
    "Oct 28, 2024", "28.10.2024 um 17:42"), or None. ``dayfirst``: "10/05/2022" is 10 May (the
    page's locale writes the day first: :func:`writes_day_first`); else such a date is unknown."""
    if not text or not isinstance(text, str):
        return None
    for _, dt in sorted(_first_text_dates(text[:5000], dayfirst), key=lambda c: c[0]):
        ok = clamp(dt, now)
        if ok:
            return ok
    return None


def date_from_url(url: str | None, now: datetime | None = None) -> datetime | None:
    """/2024/10/28/ or /20241028/ in a URL path -> that day, midnight UTC."""
    if not url:
        return None
    m = _URL_DATE.search(url)
    if not m:
        return None
    try:
        return clamp(datetime(int(m.group(1)), int(m.group(2)), int(m.group(3)), tzinfo=UTC), now)
    except _DATE_ERRORS:
        return None


def end_of_day(day: datetime) -> datetime:
    """The last instant (microsecond) of ``day``'s date: an ``until`` given as a day covers that
    whole day (9999-12-31 included: no next day to step to)."""
    return day.replace(hour=23, minute=59, second=59, microsecond=999999)


def iso(dt: datetime | None) -> str | None:
    """``2024-10-28T21:42:00Z`` (seconds, UTC) or None."""
    utc = to_utc(dt) if dt is not None else None
    return utc.strftime("%Y-%m-%dT%H:%M:%SZ") if utc is not None else None
