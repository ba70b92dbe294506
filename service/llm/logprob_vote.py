"""The model's vote over numbered candidates, read from a server's ``logprobs`` / ``top_logprobs``.

The embedded backend reads the vote exactly from llama.cpp's logits, after a pre-filled
"... is [S" (:func:`service.llm.engine.number_probs`).  An OpenAI-compatible server cannot be
pre-filled, but it can say, for each token of its reply, the probabilities of the
``top_logprobs`` most likely tokens at that place.  Asked to reply with the marker only, the
model writes "[S3]" (or "3", or "S3"): the first reply token that holds a digit is where the
vote is cast, and its alternatives are the other candidates' probabilities.

Tokenizers split numbers differently.  Qwen and Llama write "10" as "1" then "0"; OpenAI's
o200k writes it as one token.  So a digit token is a *prefix* of the numbers it starts:

* the reply's own (greedy) digit token is resolved exactly by the next position, which holds
  P(another digit | this one): P(1) = P("1") x P(no digit next), P(10) = P("1") x P("0" | "1");
* an alternative that is not the reply's own is only known as a whole: P("1") is split evenly
  among the candidates it starts (S1 and S10).  Even is the least that can be assumed; the
  candidate the model favours is always the resolved one.

A reply with no digit at all ("INSUFFICIENT") is a vote for ``0``, "none of these", when 0 is
a candidate.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

_NUMBER = re.compile(r"(\d+)(.*)", re.S)


@dataclass(frozen=True)
class Position:
    """One token of a reply and the most likely tokens at its place (``logprob`` as sent)."""

    token: str
    top: tuple[tuple[str, float], ...]


def number_votes(positions: Sequence[Position], numbers: Sequence[int]) -> list[float]:
    """P(the reply's marker is k) for each k in ``numbers`` (see the module's docstring)."""
    names = [str(k) for k in numbers]
    votes = dict.fromkeys(names, 0.0)
    at = next((i for i, p in enumerate(positions) if any(c.isdigit() for c in p.token)), None)
    if at is None:
        if "0" in votes:
            votes["0"] = 1.0
        return [votes[n] for n in names]
    lead = positions[at].token[: _first_digit(positions[at].token)].strip()
    own = _digits(positions[at].token, lead)
    after = positions[at + 1].top if at + 1 < len(positions) else None
    for token, logprob in positions[at].top:
        parsed = _digits(token, lead)
        if parsed is None:
            continue
        digits, ended = parsed
        p = math.exp(logprob)
        if ended or not _longer(digits, names):
            _add(votes, digits, p)
        elif own == parsed and after is not None:
            _resolve(votes, digits, p, after, names)
        else:
            _spread(votes, digits, p, names)
    return [votes[n] for n in names]


def _first_digit(token: str) -> int:
    return next(i for i, c in enumerate(token) if c.isdigit())


def _digits(token: str, lead: str) -> tuple[str, bool] | None:
    """(the digits a token starts with after the reply's lead, whether the number ends in it)."""
    text = token.strip()
    if lead and text.startswith(lead):
        text = text[len(lead):]
    match = _NUMBER.fullmatch(text)
    if match is None:
        return None
    return match.group(1), bool(match.group(2))


def _longer(digits: str, names: Sequence[str]) -> bool:
    return any(n != digits and n.startswith(digits) for n in names)


def _add(votes: dict[str, float], digits: str, p: float) -> None:
    if digits in votes:
        votes[digits] += p


def _spread(votes: dict[str, float], digits: str, p: float, names: Sequence[str]) -> None:
    started = [n for n in names if n.startswith(digits)]
    for n in started:
        votes[n] += p / len(started)


def _resolve(votes: dict[str, float], digits: str, p: float, after: Sequence[tuple[str, float]],
             names: Sequence[str]) -> None:
    """Split P(digits) by the next token: another digit continues the number, anything else ends it."""
    more = 0.0
    for token, logprob in after:
        match = re.match(r"\d+", token)
        if match is None:
            continue
        q = p * math.exp(logprob)
        more += math.exp(logprob)
        longer = digits + match.group(0)
        if _longer(longer, names):
            _spread(votes, longer, q, names)
        else:
            _add(votes, longer, q)
    _add(votes, digits, p * max(0.0, 1.0 - more))
