"""A model-written headline is checked as an answer's sentence is: against what the story cites.

A headline stands only when:

1. **it is short**: 2 to ``max_words`` words;
2. **it states nothing the story's sentences do not**: every name, number and date it gives
   is in the sentences its key points cite (the support checker's ``missing``: "Jordan", "300,000"
   or "Trump" in a headline whose sources never say them is an event or an actor of the model's
   own). A Title Case headline is read in sentence case first, or every word would be a name;
3. **it keeps the attribution of a contested claim**: when the cited sentence it restates is an
   attributed side of a contested pair ("Russia said it retook Kursk" / "Ukraine denied it"), the
   headline says who claims it;
4. **it adds no loaded word**: none that the story's own sources do not use;
5. **it takes no side's word**: no loaded word that the outlets of only one side use, when the
   story has more than one side (:mod:`service.verify.sides`).

A failing headline is replaced by a neutral extract (``service.generation.briefing``); the
reason is kept beside it, so a reader (and the eval) can see why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from service.retrieval.search import SentenceHit
from service.verify.lexicon import common_words
from service.verify.neutrality import ContestedPair, introduced_loaded, is_attributed, primary_source
from service.verify.sides import one_sided_words
from service.verify.support import SupportChecker
from service.verify.text import analyze

RESTATES = 2
"""A headline restates a cited sentence when it shares at least this many content words with it."""


def sentence_case(headline: str) -> str:
    """A Title Case headline with its common words lower-cased ("U.S. Job Growth Slows" -> "U.S. job
    growth slows"), so that only real names are taken for names; other headlines unchanged."""
    words = headline.split()
    capitalised = sum(1 for w in words if w[:1].isupper())
    if len(words) < 3 or capitalised < 0.6 * len(words):
        return headline
    common = common_words()
    return " ".join(w.lower() if i and w.lower().strip(".,:;!?'\"“”‘’") in common else w
                    for i, w in enumerate(words))


def headline_problem(headline: str, cited: Sequence[SentenceHit], pairs: Sequence[ContestedPair],
                     sources: Mapping[str, Sequence[str]], checker: SupportChecker, *,
                     max_words: int) -> str | None:
    """Why ``headline`` may not stand (``None``: it may).  ``cited``: the sentences the story's key
    points cite; ``sources``: every text of the story (sentences and titles), by outlet."""
    n = len(headline.split())
    if not 2 <= n <= max_words:
        return f"{n} words (2 to {max_words})" if headline else "no headline"
    texts = [h.text for h in cited]
    missing = checker.score(sentence_case(headline), texts).missing if texts else []
    if missing:
        return "not in the story's sentences: " + ", ".join(missing)
    disputed = {h.id for p in pairs for h in (p.claim, p.counter)}
    restated = primary_source(headline, list(cited)) if disputed and not is_attributed(headline) else None
    if (restated is not None and restated.id in disputed and is_attributed(restated.text)
            and len(set(analyze(headline).content) & set(analyze(restated.text).content)) >= RESTATES):
        return f"states a contested claim without saying who makes it ({restated.id})"
    loaded = introduced_loaded(headline, [t for texts in sources.values() for t in texts])
    if loaded:
        return "loaded words of our own: " + ", ".join(loaded)
    sided = one_sided_words(headline, sources)
    if sided:
        return "one side's words: " + ", ".join(f"{w} (only {side})" for w, side in sided.items())
    return None
