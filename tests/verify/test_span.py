"""The short answer: what an answer adds to its question, found verbatim in a cited sentence."""

from __future__ import annotations

import pytest

from service.retrieval.search import SentenceHit
from service.verify.span import locate_answer


def hit(text: str, start: int = 100) -> SentenceHit:
    return SentenceHit("a", 0, text, start, start + len(text), "T", None, "src", None, 1.0, None, None)


@pytest.mark.parametrize(("question", "claim", "sentence", "short"), [
    ("Sadok Sassi played for a national team that made its first World Cup in what year?",
     "Sadok Sassi played for a national team that made its first World Cup in 1978.",
     "They have qualified for four FIFA World Cups, the first one in 1978, but never left the group.", "1978"),
    ("When was the Argentine footballer born?", "Mauricio Pochettino was born on 2 March 1972.",
     "Mauricio Roberto Pochettino (born 2 March 1972) is an Argentine manager.", "2 March 1972"),
    ("How many troops did North Korea send, according to intelligence officials?",
     "Intelligence officials said North Korea deployed 10,000-12,000 troops.",
     "Officials have said North Korea deployed 10,000-12,000 troops to Russia last fall.", "10,000-12,000"),
    ("How much was Beyonce reportedly paid for the show?", "Beyonce was paid $24m.",
     "The singer was reportedly paid $24m for the one-hour show.", "$24m"),
    ("What animation comedy did the creator of Wallace and Gromit also create?",
     "He also created Creature Comforts.", "Creature Comforts is a stop motion clay animation comedy.",
     "Creature Comforts"),
    ("When was the singer born?", "Patti Page was born on November 8, 1927.",
     "Clara Ann Fowler (November 8, 1927 – January 1, 2013), known as Patti Page, was a singer.",
     "November 8, 1927"),  # a spaced dash separates two dates, it does not join them
    ("In what year was the singer born?", "Patti Page was born on November 8, 1927.",
     "Clara Ann Fowler (November 8, 1927 – January 1, 2013), known as Patti Page, was a singer.",
     "1927"),  # "what year" is answered by the year of the date
    ("What is the birthday of the actress?", "Dorothea Jordan was born on 22 November 1761.",
     "Dorothea Jordan (born 22 November 1761) was an Anglo-Irish actress.", "22 November 1761"),
    ("What band covered the song?", "It was covered by American country duo Love and Theft.",
     "It was covered by American country music duo Love and Theft in 2012.", "Love and Theft"),
    ("The song was covered by what band?",  # "Love and" / "Theft on" are no adjectives
     "It was covered by American country duo Love and Theft on their album.",
     "It was covered by American country music duo Love and Theft on their album in 2012.", "Love and Theft"),
])
def test_the_answer_phrase_is_found_with_exact_offsets(question: str, claim: str, sentence: str, short: str) -> None:
    h = hit(sentence)
    span = locate_answer(question, [claim], [hit("Nothing relevant here."), h])
    assert span is not None and span.text == short and span.hit is h
    assert sentence[span.start - h.start:span.end - h.start] == short


def test_no_short_answer_when_the_claim_adds_nothing_or_the_sentence_lacks_it() -> None:
    q = "Which town did the army take?"
    assert locate_answer(q, ["The army took the town."], [hit("The army took the town.")]) is None
    assert locate_answer("Who won?", ["Jane Doe won."], [hit("The race ended on Sunday.")]) is None
    # "when" is not answered by a name, nor "how many" by one
    claim = "North Korea's leader, Kim Jong Un, had sent troops to Russia."
    assert locate_answer("When did North Korea first confirm its troops?", [claim], [hit(claim)]) is None
    assert locate_answer("How many troops did North Korea send?", [claim], [hit(claim)]) is None


@pytest.mark.parametrize("question", ["Did Russia retake Kursk?", "What did Putin thank North Korea for?",
                                      "Is the ceasefire holding?"])
def test_no_short_answer_for_yes_no_or_descriptive_questions(question: str) -> None:
    claim = "Ukrainian officials denied Moscow's claim on Monday."
    assert locate_answer(question, [claim], [hit(claim)]) is None


@pytest.mark.parametrize(("question", "claim", "sentence", "short"), [
    # the answer stated first wins among several names: "created by Nick Park" is a passive's agent,
    # not what "also created what" asks for
    ("The creator of Wallace and Gromit also created what animation comedy?",
     "Creature Comforts is a 1989 British stop-motion comedy by Nick Park.",
     "Creature Comforts is a 1989 British stop-motion comedy created by Nick Park.", "Creature Comforts"),
    # the answer follows the words the question puts before its wh-word
    ("Ed Oxenbould plays Tyler in a film directed by which famous director?",
     "The Visit, directed by M. Night Shyamalan, stars Ed Oxenbould as Tyler.",
     "The Visit is a 2015 American horror film written and directed by M. Night Shyamalan.", "M. Night Shyamalan"),
    # the kind asked for ("what brewery") is no anchor
    ("Beer Wars covers small breweries, such as what brewery that is headquartered in Escondido?",
     "Stone Brewing is a brewery headquartered in Escondido, California, USA.",
     "Stone Brewing is a brewery headquartered in Escondido, California, USA.", "Stone Brewing"),
])
def test_which_name_is_the_answer(question: str, claim: str, sentence: str, short: str) -> None:
    span = locate_answer(question, [claim], [hit(sentence)])
    assert span is not None and span.text == short


def test_a_later_cited_sentence_with_the_kind_asked_for_beats_a_name_in_the_first() -> None:
    q = "The organization that Titulescu served as president was founded on what date?"
    claim = "The League of Nations was founded on 10 January 1920."
    first, second = hit("Titulescu was twice president of the League of Nations."), hit(
        "The League of Nations was founded on 10 January 1920.", start=400)
    span = locate_answer(q, [claim], [first, second])
    assert span is not None and span.text == "10 January 1920" and span.hit is second
