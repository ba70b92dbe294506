"""Boilerplate that stays in the stored text but is never indexed or cited.

Each rule returns a reason string; the reasons are stored beside the sentence so that
``GET /v1/articles/{id}`` can show what was dropped and why.
"""

from __future__ import annotations

import re

PROMO_HEADLINE = "promo_headline"
TRAILER = "trailer"
CREDIT = "credit"

_TRAILER = re.compile(
    r"""^(
        (read|see|view|watch)\b.{0,40}\b(full|original|whole|entire|more|rest)\b.{0,40}$
      | (click|tap)\s+here\b.*
      | continue\s+reading\b.*
      | (this|the)\s+(article|story|post)\s+(originally\s+(appeared|was\s+published)
            |(appeared|was\s+published)\s+(originally|first|on|in|at)\b).*
      | (sign\s+up|subscribe)\b.{0,60}\b(newsletter|updates|alerts)\b.*
      | follow\s+(us|\w+)\s+on\s+(twitter|x|facebook|instagram)\b.*
      | (advertisement|ad|sponsored(\s+content)?)\s*:?\s*
    )$""",
    re.IGNORECASE | re.VERBOSE,
)
# Names only after "by": capitalised words, initials, "and", "by", commas, semicolons, "in <Place>".
_NAMES = r"(?:[A-Z][\w.'-]*|and|in|from|by|[,;])(?:\s+(?:[A-Z][\w.'-]*|and|in|from|by|[,;])|[,;])*"
_CREDIT = re.compile(
    rf"""^(?:
        ([\w.'&-]+\s+){{0,8}}?(also\s+)?contributed\s+(to\s+)?(this|the)\s+(report|story|article)
      | (?:[Aa]dditional\s+)?[Rr]eporting\s+by\s+{_NAMES}
      | (?:[Ww]riting|[Ee]diting)\s+by\s+{_NAMES}
      | (?:©|\([Cc]\)|[Cc]opyright\s*(?:©|\([Cc]\))?)\s*\d{{4}}\b.{{0,80}}
    )\.?$""",
    re.VERBOSE,
)


def _is_promo_headline(sentence: str, line_is_own: bool) -> bool:
    """An ALL-CAPS cross-headline on its own line, e.g. 'TRUMP BLASTS PUTIN, ...'."""
    if not line_is_own:
        return False
    letters = [c for c in sentence if c.isalpha()]
    if len(letters) < 12 or len(sentence.split()) < 3:
        return False
    upper = sum(c.isupper() for c in letters)
    return upper / len(letters) >= 0.85


def boilerplate_reason(sentence: str, *, line_is_own: bool) -> str | None:
    """Why ``sentence`` is boilerplate, or None when it is content.

    ``line_is_own`` says the sentence fills its whole line (cross-headlines always do).
    """
    s = sentence.strip()
    if _is_promo_headline(s, line_is_own):
        return PROMO_HEADLINE
    if len(s) <= 160 and _TRAILER.match(s):
        return TRAILER
    if len(s) <= 200 and _CREDIT.match(s):
        return CREDIT
    return None
