"""Word lists that ship with TextBlob (from the Pattern library): nothing is downloaded.

* ``en-lexicon.txt``: Brill's tagger lexicon, each word's most frequent part of speech;
* ``en-sentiment.xml``: adjective senses rated for subjectivity (see :mod:`neutrality`).
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

from service.errors import ModelMissing


def textblob_file(name: str) -> Path:
    spec = importlib.util.find_spec("textblob")  # locate without importing (textblob imports nltk: ~6 s)
    for root in list(spec.submodule_search_locations or []) if spec else []:
        if (Path(root) / "en" / name).is_file():
            return Path(root) / "en" / name
    raise ModelMissing(f"the lexicon {name} ships with textblob: pip install textblob")


@lru_cache(maxsize=1)
def brill_tags() -> list[tuple[str, str]]:
    """(word, usual tag) pairs of Brill's lexicon, in file order; words keep their case."""
    out = []
    for line in textblob_file("en-lexicon.txt").read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) == 2 and not line.startswith(";"):
            out.append((parts[0], parts[1]))
    return out


@lru_cache(maxsize=1)
def common_words() -> frozenset[str]:
    """Lowercase words the lexicon knows as something other than a proper noun ("police",
    "officials"): a capitalised one at the start of a sentence is not a name."""
    return frozenset(w for w, tag in brill_tags() if w.islower() and not tag.startswith("NNP"))
