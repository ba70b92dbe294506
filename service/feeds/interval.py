"""Poll intervals written the way people write them: ``90s``, ``15m``, ``1h``, ``1h30m``, ``2d``."""

from __future__ import annotations

import re

from service.errors import InvalidInput

MIN_EVERY_S = 60
MAX_EVERY_S = 7 * 86400
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_PART = re.compile(r"(\d+)\s*([smhd])")


def parse_interval(text: str | int, field: str = "every") -> int:
    """Seconds in ``text``; a bare number is seconds. Between 1 minute and 7 days."""
    if isinstance(text, int):
        seconds = text
    else:
        s = text.strip().lower().replace(" ", "")
        if s.isdigit():
            seconds = int(s)
        elif s and _PART.sub("", s) == "":
            seconds = sum(int(n) * _UNITS[u] for n, u in _PART.findall(s))
        else:
            raise InvalidInput.for_field(field, f"not an interval: {text!r}; write e.g. 90s, 15m, 1h or 1h30m")
    if not MIN_EVERY_S <= seconds <= MAX_EVERY_S:
        raise InvalidInput.for_field(field, f"{text!r} is outside 1m..7d")
    return seconds


def format_interval(seconds: int) -> str:
    out = []
    for unit in "dhms":
        n, seconds = divmod(seconds, _UNITS[unit])
        if n:
            out.append(f"{n}{unit}")
    return "".join(out) or "0s"
