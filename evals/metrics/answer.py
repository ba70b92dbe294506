"""Answer exact match and token F1 with SQuAD's normalisation (lower case, no punctuation,
no articles, single spaces), plus "contains": the normalised gold answer occurs in the answer
(where a possessive is still the name: "Nepal’s" contains "Nepal").

Every function takes the prediction and *all* acceptable gold answers and returns the best score.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Sequence

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = set(string.punctuation) | set("‘’“”–—…")
_POSSESSIVE = re.compile(r"(?<=\w)['’]s\b", re.IGNORECASE)


def normalize_answer(text: str) -> str:
    """SQuAD v1.1 ``normalize_answer`` (curly quotes and dashes count as punctuation too)."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCT)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction: str, golds: Sequence[str]) -> float:
    pred = normalize_answer(prediction)
    return float(any(pred == normalize_answer(g) for g in golds))


def _f1(pred_tokens: list[str], gold_tokens: list[str]) -> float:
    if not pred_tokens or not gold_tokens:
        return float(pred_tokens == gold_tokens)
    common = Counter(pred_tokens) & Counter(gold_tokens)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred_tokens), same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def token_f1(prediction: str, golds: Sequence[str]) -> float:
    pred = normalize_answer(prediction).split()
    return max((_f1(pred, normalize_answer(g).split()) for g in golds), default=0.0)


def contains_answer(prediction: str, golds: Sequence[str]) -> float:
    """1.0 when some normalised gold answer occurs, on word boundaries, in the normalised prediction.

    Normalised as SQuAD does, or with possessives dropped from both first: SQuAD's rule glues the
    "s" to the name ("Florida’s prohibitions" -> "floridas"), so a quote that names the answer as
    a possessive would not count ("make permanent Florida’s prohibitions" for "which state")."""
    def found(pred_text: str, strip: bool) -> bool:
        pred = f" {normalize_answer(_POSSESSIVE.sub('', pred_text) if strip else pred_text)} "
        norms = (normalize_answer(_POSSESSIVE.sub("", g) if strip else g) for g in golds)
        return any(norm and f" {norm} " in pred for norm in norms)

    return float(found(prediction, False) or found(prediction, True))
