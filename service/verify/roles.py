"""Who did what to whom: catch a claim that swaps the roles its evidence gives.

"Russia thanked North Korea" is not supported by "Russian President Vladimir Putin thanked
North Korea", and "Ukraine attacked Russia" is not supported by "Russia attacked Ukraine",
although every word of both claims is in the evidence.  Lexical overlap and sentence
embeddings miss this; a light reading of each verb's roles does not.

For every past-tense verb that the claim and an evidence sentence share (attribution verbs --
said, told, assessed, reported, claimed... -- count as one), the *agent* is the
name right before the verb (right after "by" in the passive) and the *patient* the name right
after it, each looked for only within a few tokens and never across punctuation, so that a
name from another clause is not mistaken for a role.  The claim conflicts with the evidence
when the same verb has a different agent or patient there.  Names are compared by their core
(titles and leading demonyms dropped: "Russian President Vladimir Putin" is "Vladimir Putin"),
with a demonym matching its country ("Ukrainian officials" ~ "Ukraine").  Where a role cannot
be read with confidence the verb is skipped: the check only ever removes support.

Numbers have roles too: in "moved forward from 100 seconds to midnight to 90 seconds", 100 is
where the clock came from, and a claim that it "moved to 100 seconds" swaps the two
(:func:`transition_conflicts`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from service.verify.lexicon import common_words

_TOKEN = re.compile(r"\d[\d,.\-]*\d|\d|[A-Za-z][A-Za-z'\u2019.\-]*[A-Za-z]|[A-Za-z]|[^\sA-Za-z\d]")
_PUNCT = re.compile(r"^[^\w]+$")
_IRREGULAR_PAST = frozenset(
    """said told sent won lost took led met paid made gave began beat bought brought built caught chose
    came drew drove fell fought found fled flew forbade forgave froze got grew held hid hit hurt kept knew
    laid left lent let lay lit meant overtook overthrew ran rang rose saw sold sought shot shut sang sank
    sat slew spoke spent split spread stole struck swore swept swam threw thought tore understood upheld
    withdrew wrote""".split())
_BE = frozenset("was were is are been being be".split())
_TITLES = frozenset(
    """president prime minister senator sen rep representative gov governor judge justice chancellor king
    queen prince princess pope general gen secretary chief mayor coach manager captain capt dr mr mrs ms sir
    dame lord lady saint st bishop rev professor prof officer sergeant sgt detective inspector lt col colonel
    spokesman spokeswoman spokesperson leader foreign defense defence state deputy vice former""".split())
_DEMONYM = re.compile(r"(?:ian|ean|ese|ish|i|an)$")
_STOP_NAMES = frozenset(
    """the a an in on at of for and but or monday tuesday wednesday thursday friday saturday sunday january
    february march april may june july august september october november december jan feb mar apr jun jul aug
    sep sept oct nov dec""".split())
_PREPOSITIONS = frozenset("in on at for to from with by of during after before since until into over under "
                          "about against between through".split())
WINDOW = 4


@dataclass(frozen=True, slots=True)
class Role:
    verb: str
    agent: frozenset[str] | None
    patient: frozenset[str] | None


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.replace("\u2019", "'"))


def _is_name(tok: str, initial: bool, next_tok: str | None) -> bool:
    """Capitalised and not a function word; at the start of a sentence only when the lexicon
    does not know it as a common word ("Police said") or the next word is capitalised too."""
    low = tok.lower()
    if not tok[:1].isupper() or low in _STOP_NAMES or low in _BE:
        return False
    if not initial:
        return True
    return low not in common_words() or bool(next_tok and next_tok[:1].isupper())


_SAY = frozenset(
    """say says said tell tells told state states stated assess assesses assessed report reports reported
    claim claims claimed estimate estimates estimated announce announces announced add adds added note notes
    noted write writes wrote""".split())
"""Attribution verbs are one verb: "Russia said" is not supported by "South Korea's military assessed"."""


def _verb(tok: str) -> str | None:
    low = tok.lower()
    if low in _SAY:
        return "say"
    if low in _IRREGULAR_PAST:
        return low
    if len(low) > 4 and low.endswith("ed") and not tok[:1].isupper():
        return low[:-1] if low.endswith("ied") else low[:-2]  # "denied" ~ "deni", "thanked" ~ "thank"
    return None


def _core(run: list[str]) -> frozenset[str]:
    """Identity of a name run: titles and leading demonym modifiers dropped."""
    words = [w.lower().rstrip(".").removesuffix("'s") for w in run]
    while len(words) > 1 and (words[0] in _TITLES or (_DEMONYM.search(words[0]) and words[1][:1].isalpha()
                                                      and run[1][:1].isupper())):
        words.pop(0)
    core = [w for w in words if w not in _TITLES] or words
    return frozenset(core)


def _name_at(toks: list[str], i: int, step: int) -> frozenset[str] | None:
    """The name run nearest to position ``i`` going ``step`` (-1 left, +1 right), within
    :data:`WINDOW` tokens and never across punctuation."""
    j, seen = i + step, 0
    while 0 <= j < len(toks) and seen < WINDOW:
        tok = toks[j]
        if _PUNCT.match(tok) and tok not in ("'",):
            return None
        if step > 0 and tok.lower() in _PREPOSITIONS:  # "signed in June", "sent troops to Russia": not patients
            return None
        initial = j == 0 or toks[j - 1] in (".", "!", "?", '"', "\u201c")
        if _is_name(tok, initial, toks[j + 1] if j + 1 < len(toks) else None):
            run = [tok]
            k = j + step
            while 0 <= k < len(toks) and toks[k][:1].isupper() and not _PUNCT.match(toks[k]):
                run.append(toks[k])
                k += step
            return _core(run if step > 0 else run[::-1])
        j += step
        seen += 1
    return None


def names(text: str) -> list[frozenset[str]]:
    """The cores of every name run in ``text``."""
    toks = _tokens(text)
    out: list[frozenset[str]] = []
    i = 0
    while i < len(toks):
        initial = i == 0 or toks[i - 1] in (".", "!", "?", '"', "\u201c")
        if not _PUNCT.match(toks[i]) and _is_name(toks[i], initial, toks[i + 1] if i + 1 < len(toks) else None):
            run = [toks[i]]
            while i + 1 < len(toks) and toks[i + 1][:1].isupper() and not _PUNCT.match(toks[i + 1]):
                i += 1
                run.append(toks[i])
            out.append(_core(run))
        i += 1
    return out


def roles(text: str) -> list[Role]:
    toks = _tokens(text)
    out: list[Role] = []
    for i, tok in enumerate(toks):
        verb = _verb(tok)
        if verb is None:
            continue
        passive = i > 0 and toks[i - 1].lower() in _BE
        left, right = _name_at(toks, i, -1), _name_at(toks, i, +1)
        if passive:
            by = next((k for k in range(i + 1, min(i + 1 + WINDOW, len(toks))) if toks[k].lower() == "by"), None)
            agent = _name_at(toks, by, +1) if by is not None else None
            out.append(Role(verb, agent, left))
        else:
            out.append(Role(verb, left, right))
    return out


def same_entity(a: frozenset[str], b: frozenset[str]) -> bool:
    """Share a word, or a country and its demonym ("ukraine" ~ "ukrainian": a common stem of 5+)."""
    if a & b:
        return True
    return any(len(x) >= 5 and len(y) >= 5 and x[:5] == y[:5] and (x.startswith(y[:-1]) or y.startswith(x[:-1]))
               for x in a for y in b)


def role_conflicts(claim: str, evidence: Sequence[str]) -> list[str]:
    """Verbs whose agent or patient in ``claim`` differs from every evidence sentence that uses
    the same verb with that role readable ("thanked: Russia, not Vladimir Putin").

    Only names the evidence does mention count: a name it lacks altogether is a missing name,
    which the support checker reports on its own.
    """
    ev_roles: dict[str, list[Role]] = {}
    ev_names: list[frozenset[str]] = []
    for text in evidence:
        ev_names += names(text)
        for r in roles(text):
            ev_roles.setdefault(r.verb, []).append(r)
    conflicts: list[str] = []
    for r in roles(claim):
        others = ev_roles.get(r.verb)
        if not others:
            continue
        for attr in ("agent", "patient"):
            mine = getattr(r, attr)
            theirs = [getattr(o, attr) for o in others if getattr(o, attr) is not None]
            if mine is None or not theirs or not any(same_entity(mine, n) for n in ev_names):
                continue
            if not any(same_entity(mine, t) for t in theirs):
                conflicts.append(f"{r.verb}: {attr} {' '.join(sorted(mine))}, not {' '.join(sorted(theirs[0]))}")
    return conflicts


_HEDGE = r"(?:about|around|nearly|almost|roughly|some)\s+"
_NUMBER = r"(\d[\d,]*(?:\.\d+)?)"
_FROM_TO = re.compile(rf"\bfrom\s+(?:{_HEDGE})?{_NUMBER}(?![\d,])[^.;:!?]{{0,40}}?\bto\s+(?:{_HEDGE})?{_NUMBER}", re.I)
_TO = re.compile(rf"(?<!\bfrom )\bto\s+(?:{_HEDGE})?{_NUMBER}", re.I)


def _value(number: str) -> float:
    return float(number.replace(",", ""))


def transition_conflicts(claim: str, evidence: Sequence[str]) -> list[str]:
    """Numbers the claim gives as where something went ("moved *to 100* seconds to midnight")
    that the evidence gives as where it came from ("moved forward *from 100* seconds to midnight
    *to 90*"): every word and number of the claim is in the evidence, and the claim says the
    opposite of it."""
    moves = [(_value(a), b) for text in evidence for a, b in _FROM_TO.findall(text)]
    if not moves:
        return []
    reached = {_value(b) for _, b in moves}
    conflicts = []
    for said in _TO.findall(claim):
        value = _value(said)
        if value not in reached and (went := next((b for a, b in moves if a == value), None)) is not None:
            conflicts.append(f"to {said}, not {went}: the evidence moves from {said}")
    return conflicts
