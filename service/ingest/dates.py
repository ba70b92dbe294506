"""Publication dates as feeds and files write them, parsed into the value the JSON API stores.

The JSON API takes ISO 8601 only (a date, or a datetime with or without an offset).  Feeds and
files carry whatever their publishers wrote, so for them :func:`parse_date` also reads:

- RFC 822 / RFC 2822, as RSS writes them: ``Thu, 05 Jan 2023 14:03:00 GMT``, ``5 Jan 2023 14:03
  +0100``, US zone names (``EST``, ``PDT`` ...), two-digit years;
- ISO 8601 with a space instead of ``T``, a basic-format ``20230105T140300Z``, a lower-case ``z``;
- slashes and dots: ``2023/01/05`` (RealTimeQA), ``2023/01/05 14:03``, ``2023/01/07/05:11``,
  ``2023.01.05``;
- month names: ``January 5, 2023``, ``Jan 5 2023 2:03 PM``, ``5 January 2023``;
- day-first or month-first numeric dates (``05/01/2023``) only when they cannot be misread: when
  one of the two numbers is above 12.

A value with no time is midnight UTC and a value with no offset is UTC, exactly as the JSON API
stores ``2023-01-05``.  Anything else is a :class:`DateError` whose message says what was expected.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, timezone
from email.utils import parsedate_tz

ISO_HINT = "use ISO 8601, e.g. 2023-01-05 or 2023-01-05T14:03:00Z"

_MONTHS = {m: i for i, m in enumerate(
    "jan feb mar apr may jun jul aug sep oct nov dec".split(), start=1)}
_ZONES = {  # RFC 822 names plus the few that feeds use in practice
    "UT": 0, "UTC": 0, "GMT": 0, "Z": 0, "EST": -5, "EDT": -4, "CST": -6, "CDT": -5, "MST": -7, "MDT": -6,
    "PST": -8, "PDT": -7, "BST": 1, "CET": 1, "CEST": 2, "EET": 2, "EEST": 3, "JST": 9, "IST": 5.5,
    "AEST": 10, "AEDT": 11,
}
_TIME = r"(?:[ T/,]+(?P<h>\d{1,2}):(?P<mi>\d{2})(?::(?P<s>\d{2})(?:\.\d+)?)?\s*(?P<ampm>[AaPp]\.?[Mm]\.?)?)?"
_ZONE = r"\s*(?P<tz>[A-Za-z]{1,5}|[+-]\d{2}:?\d{2})?"
_YMD = re.compile(r"(?P<y>\d{4})[/.\-](?P<m>\d{1,2})[/.\-](?P<d>\d{1,2})" + _TIME + _ZONE + r"$")
_NUMERIC = re.compile(r"(?P<a>\d{1,2})[/.\-](?P<b>\d{1,2})[/.\-](?P<y>\d{4})" + _TIME + _ZONE + r"$")
_MDY = re.compile(r"(?:[A-Za-z]+,?\s+)?(?P<mon>[A-Za-z]{3,9})\.?\s+(?P<d>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<y>\d{4})"
                  + _TIME + _ZONE + r"$")
_DMY = re.compile(r"(?:[A-Za-z]+,?\s+)?(?P<d>\d{1,2})(?:st|nd|rd|th)?\s+(?P<mon>[A-Za-z]{3,9})\.?,?\s+(?P<y>\d{4})"
                  + _TIME + _ZONE + r"$")
_BASIC = re.compile(r"(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})(?:T(?P<h>\d{2})(?P<mi>\d{2})(?P<s>\d{2})?)?"
                    + _ZONE + r"$")


class DateError(ValueError):
    """A date that none of the accepted formats reads; the message says what to write."""


def parse_date(value: str) -> datetime:
    """Read a publication date in any of the formats above; aware, UTC when no offset is given."""
    text = " ".join(value.strip().split())
    if not text:
        raise DateError("empty date")
    for parse in (_iso, _patterned, _rfc822):
        found = parse(text)
        if found is not None:
            return found
    raise DateError(f"unrecognised date {value!r}; {ISO_HINT}, or RFC 822 (Thu, 05 Jan 2023 14:03:00 GMT)")


def to_iso(value: str) -> str:
    """``parse_date`` as the ISO string the JSON API would take."""
    return parse_date(value).isoformat()


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


def _iso(text: str) -> datetime | None:
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        try:
            return datetime.combine(date.fromisoformat(text), time(0), tzinfo=UTC)
        except ValueError as exc:
            raise DateError(f"impossible date {text!r}: {exc}") from None
    if not re.match(r"\d{4}-\d{2}-\d{2}[Tt ]\d", text):
        return None
    try:
        return _aware(datetime.fromisoformat(re.sub(r"[zZ]$", "+00:00", text[:10] + "T" + text[11:])))
    except ValueError as exc:
        if re.match(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([zZ]|[+-]\d{2}:?\d{2})?$", text):
            raise DateError(f"impossible date or time {text!r}: {exc}") from None
        return None


def _rfc822(text: str) -> datetime | None:
    if not re.search(r"[A-Za-z]{3}", text) or not re.search(r"\d{1,2}:\d{2}", text):
        return None  # parsedate_tz guesses wildly at dates without a month name and a time
    parts = parsedate_tz(text)
    if parts is None:
        return None
    y, mo, d, h, mi, s, *_, offset = parts
    if y < 100:  # RFC 822 two-digit years, the way email.utils reads them
        y += 2000 if y < 50 else 1900
    try:
        naive = datetime(y, mo, d, h, mi, s)
    except ValueError:
        return None
    tz_word = text.rsplit(" ", 1)[-1].upper()
    if offset is None and tz_word in _ZONES:
        offset = int(_ZONES[tz_word] * 3600)
    elif offset is None and re.fullmatch(r"[A-Z]{2,5}", tz_word) and tz_word not in _MONTH_WORDS:
        return None  # an unknown zone name: refuse rather than guess the hour
    return naive.replace(tzinfo=_tz(offset or 0))


_MONTH_WORDS = {m.upper() for m in _MONTHS} | {"AM", "PM"}


def _patterned(text: str) -> datetime | None:
    for pattern in (_YMD, _BASIC, _MDY, _DMY, _NUMERIC):
        m = pattern.fullmatch(text)
        if m is None:
            continue
        g = m.groupdict()
        if pattern is _NUMERIC:
            a, b = int(g["a"]), int(g["b"])
            if a <= 12 and b <= 12 and a != b:
                raise DateError(f"ambiguous date {text!r}: day and month could be either way round; {ISO_HINT}")
            month, day = (a, b) if b > 12 else (b, a)
        elif "mon" in g:
            month = _MONTHS.get(g["mon"][:3].lower(), 0)
            day = int(g["d"])
        else:
            month, day = int(g["m"]), int(g["d"])
        try:
            d = date(int(g["y"]), month, day)
        except ValueError as exc:
            raise DateError(f"impossible date {text!r}: {exc}") from None
        return _at(d, g, text)
    return None


def _at(d: date, g: dict[str, str | None], text: str) -> datetime:
    hour, minute, second = int(g.get("h") or 0), int(g.get("mi") or 0), int(g.get("s") or 0)
    ampm = (g.get("ampm") or "").replace(".", "").lower()
    if ampm:
        if not 1 <= hour <= 12:
            raise DateError(f"impossible time in {text!r}")
        hour = hour % 12 + (12 if ampm == "pm" else 0)
    try:
        t = time(hour, minute, second)
    except ValueError as exc:
        raise DateError(f"impossible time in {text!r}: {exc}") from None
    zone = g.get("tz")
    if zone is None:
        return datetime.combine(d, t, tzinfo=UTC)
    if zone[0] in "+-":
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        return datetime.combine(d, t, tzinfo=_tz(sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)))
    if zone.upper() not in _ZONES:
        raise DateError(f"unknown time zone {zone!r} in {text!r}; give an offset such as +01:00")
    return datetime.combine(d, t, tzinfo=_tz(int(_ZONES[zone.upper()] * 3600)))


def _tz(offset_s: int) -> timezone:
    return UTC if offset_s == 0 else timezone(timedelta(seconds=offset_s))


def parse_iso(value: str) -> datetime:
    """ISO 8601 only (extended or basic format), as the JSON API takes it.

    Anything else is a :class:`DateError`; when :func:`parse_date` can read it, the message
    gives the ISO spelling to send instead.
    """
    text = value.strip()
    found = _iso(text)
    if found is None and (m := _BASIC.fullmatch(text)) is not None and (m["tz"] is None or m["tz"] in "Zz"):
        found = _patterned(text)
    if found is not None:
        return found
    try:
        meant = parse_date(text)
    except DateError:
        number = " (or a JSON number for a Unix timestamp)" if text.isdigit() else ""
        raise DateError(f"not an ISO 8601 date: {value!r}; {ISO_HINT}{number}") from None
    iso = meant.date().isoformat() if meant.timetz() == time(0, tzinfo=UTC) and ":" not in text else meant.isoformat()
    raise DateError(f"not an ISO 8601 date: {value!r}; the JSON API takes ISO 8601 only, so send {iso!r} "
                    f"(files and feeds also read RFC 822 and the common variants)")
