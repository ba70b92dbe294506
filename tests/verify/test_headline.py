"""Model-written headlines are checked against the sentences their story cites."""

from __future__ import annotations

import pytest

from service.retrieval.search import SentenceHit
from service.verify.headline import headline_problem
from service.verify.neutrality import ContestedPair
from service.verify.support import SupportChecker

CLAIM = "Russia said its troops had fully reclaimed the Kursk region, which Ukrainian forces seized last year."
DENIAL = "Ukrainian officials have denied Russia's claim and said that the operation in Kursk is ongoing."
JOBS = ("New claims for unemployment benefits rose by 51,000 to 419,000 for the week ended July 17, "
        "the Department of Labor said Thursday.")


def hit(i: int, text: str, source: str = "Wire") -> SentenceHit:
    return SentenceHit("a", i, text, 0, len(text), "t", None, source, None)


@pytest.fixture(scope="module")
def checker(embedder: object) -> SupportChecker:
    return SupportChecker(embedder)  # type: ignore[arg-type]


def problem(checker: SupportChecker, headline: str, cited: list[SentenceHit],
            pairs: list[ContestedPair] | None = None) -> str | None:
    by_outlet: dict[str, list[str]] = {}
    for h in cited:
        by_outlet.setdefault(h.source, []).append(h.text)
    return headline_problem(headline, cited, pairs or [], by_outlet, checker, max_words=16)


def test_a_headline_its_sentences_support_stands(checker: SupportChecker) -> None:
    assert problem(checker, "Jobless claims rise by 51,000 to 419,000", [hit(0, JOBS)]) is None


def test_an_event_or_actor_the_sentences_do_not_give_is_refused(checker: SupportChecker) -> None:
    assert "300,000" in (problem(checker, "Jobless claims fall to 300,000", [hit(0, JOBS)]) or "")
    why = problem(checker, "Jobless claims rise to 419,000 as Biden blames Trump", [hit(0, JOBS)])
    assert why is not None and "Biden" in why and "Trump" in why


def test_a_contested_claim_needs_its_attribution(checker: SupportChecker) -> None:
    claim, denial = hit(0, CLAIM, "Tass"), hit(1, DENIAL, "Kyiv Independent")
    pairs = [ContestedPair(claim, denial, 0.9)]
    why = problem(checker, "Russia fully reclaims the Kursk region", [claim, denial], pairs)
    assert why is not None and "contested claim" in why
    assert problem(checker, "Russia says it fully reclaimed the Kursk region", [claim, denial], pairs) is None
    # the same words are fine when nothing disputes them
    assert problem(checker, "Russia fully reclaims the Kursk region", [claim]) is None


def test_a_loaded_word_of_our_own_and_the_length_are_refused(checker: SupportChecker) -> None:
    assert "loaded" in (problem(checker, "Outrageous jobless claims rise to 419,000", [hit(0, JOBS)]) or "")
    assert problem(checker, "Claims", [hit(0, JOBS)]) == "1 words (2 to 16)"
    assert problem(checker, "", [hit(0, JOBS)]) == "no headline"


def test_a_stated_fact_in_a_pair_and_title_case_are_not_refused(checker: SupportChecker) -> None:
    plan = hit(0, "Senate Republicans unveiled a $568 billion infrastructure plan on Thursday.")
    reply = hit(1, "Democrats said the plan falls far short of what the country needs.")
    pairs = [ContestedPair(plan, reply, 0.8)]
    # the sentence restated is no one's claim, so the headline needs no attribution
    assert problem(checker, "Senate Republicans unveil $568 billion infrastructure plan", [plan, reply], pairs) is None
    # Title Case is read as sentence case: only real names count as names
    assert problem(checker, "Senate Republicans Unveil Infrastructure Plan", [plan, reply], pairs) is None


PLAN = "The administration unveiled a border plan on Tuesday that sends 500 more agents to Texas."
FOX = "Critics called the disastrous border plan an invitation to more crossings."
CNN = "Supporters said the plan would speed up asylum hearings."


def test_a_loaded_word_only_one_side_uses_is_refused(checker: SupportChecker) -> None:
    plan, fox, cnn = hit(0, PLAN, "Reuters"), hit(1, FOX, "Fox News (Online News)"), hit(2, CNN, "CNN")
    why = problem(checker, "Administration unveils disastrous border plan", [plan, fox, cnn])
    assert why == "one side's words: disastrous (only right)"
    assert problem(checker, "Administration unveils border plan", [plan, fox, cnn]) is None
    # the same word from both sides, or in a story only one side reports, is the story's word
    both = hit(3, "Democrats also called the rollout disastrous.", "The Washington Post")
    assert problem(checker, "Administration unveils disastrous border plan", [plan, fox, cnn, both]) is None
    assert problem(checker, "Administration unveils disastrous border plan",
                   [hit(0, PLAN, "Fox News"), hit(1, FOX, "Washington Examiner")]) is None
