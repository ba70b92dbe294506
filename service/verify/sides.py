"""Which side an outlet writes from, and the loaded words only one side of a story uses.

A story's outlets are grouped into sides by the AllSides media bias ratings shipped in
``outlet_leans.json`` (left, center, right); an outlet the table does not rate is a side of its
own.  A loaded word (:func:`service.verify.neutrality.loaded_words`) that the sources of only one
side use, in a story that more than one side reports, is that side's framing: a headline of ours
that takes it up takes a side, even though a source said it first.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path

from service.verify.neutrality import loaded_words, vocabulary
from service.verify.text import stem

LEANS_PATH = Path(__file__).with_name("outlet_leans.json")
_SUFFIX = re.compile(r"\s*\([^)]*\)\s*$")


def outlet_key(name: str) -> str:
    """"The Hill", "the hill" and "The Hill (Online News)" are one outlet."""
    key = _SUFFIX.sub("", name).strip().lower()
    return key[4:] if key.startswith("the ") else key


@lru_cache(maxsize=1)
def leans() -> dict[str, str]:
    """Outlet key -> side; a name whose variants are rated differently is left unrated."""
    table: dict[str, str] = {}
    clashes: set[str] = set()
    for name, side in json.loads(LEANS_PATH.read_text(encoding="utf-8"))["leans"].items():
        key = outlet_key(name)
        if table.get(key, side) != side:
            clashes.add(key)
        table[key] = side
    return {k: v for k, v in table.items() if k not in clashes}


def side_of(outlet: str) -> str:
    """``left``, ``center`` or ``right`` when rated; else the outlet itself."""
    return leans().get(outlet_key(outlet), outlet)


def one_sided_words(text: str, by_outlet: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """Loaded words of ``text`` that the texts of exactly one side use, when the story
    (``by_outlet``: each outlet's texts) has more than one side: word -> that side."""
    by_side: dict[str, set[str]] = {}
    for outlet, texts in by_outlet.items():
        by_side.setdefault(side_of(outlet), set()).update(vocabulary(texts))
    if len(by_side) < 2:
        return {}
    out: dict[str, str] = {}
    for w in loaded_words(text):
        using = [side for side, vocab in by_side.items() if w in vocab or stem(w) in vocab]
        if len(using) == 1:
            out[w] = using[0]
    return out
