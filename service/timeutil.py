"""Parsing of the date filters shared by the API and the CLI."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from service.errors import InvalidInput


def parse_bound(value: str | None, field: str, *, upper: bool = False) -> int | None:
    """ISO date or datetime -> epoch seconds.

    A plain date as an upper bound covers that whole day (``until=2023-01-31`` includes the
    31st).  Naive datetimes are UTC.  Impossible dates are an InvalidInput naming ``field``.
    """
    if value is None or value == "":
        return None
    text = value.strip()
    try:
        if len(text) == 10:
            d = date.fromisoformat(text)
            start = datetime(d.year, d.month, d.day, tzinfo=UTC)
            return int((start + timedelta(days=1) if upper else start).timestamp())
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidInput.for_field(field, f"not a valid ISO 8601 date or datetime: {value!r}") from exc
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp())


AS_OF_RANGE = (datetime(1900, 1, 1, tzinfo=UTC), datetime(9999, 1, 1, tzinfo=UTC))


def parse_as_of(value: str | None, field: str = "as_of") -> int | None:
    """The moment a question is asked (ISO date or datetime) -> epoch seconds, between 1900 and
    9999 (a question period counts back up to a year from it)."""
    epoch = parse_bound(value, field)
    if epoch is None:
        return None
    low, high = AS_OF_RANGE
    if not low.timestamp() <= epoch < high.timestamp():
        raise InvalidInput.for_field(field, f"must fall between {low.year} and {high.year - 1}: {value!r}")
    return epoch
