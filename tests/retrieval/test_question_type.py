"""What kind of answer a question wants, asked at its start or mid-sentence."""

from __future__ import annotations

import pytest

from service.retrieval.question import QuestionType, compared, question_type


@pytest.mark.parametrize(("question", "kind"), [
    ("How many troops did North Korea send?", QuestionType.NUMBER),
    ("Beyoncé was reportedly paid how much to perform in Dubai?", QuestionType.NUMBER),
    ("Around how many UK households are at risk?", QuestionType.NUMBER),
    ("When was the treaty signed?", QuestionType.DATE),
    ("In what year was the singer born?", QuestionType.DATE),
    ("Operation Cold Comfort was a raid by a unit founded in what year?", QuestionType.DATE),
    ("The organization was founded on what date?", QuestionType.DATE),
    ("Ardern has served as prime minister since when?", QuestionType.DATE),
    ("What is the birthday of this Anglo-Irish actress?", QuestionType.DATE),
    ("Which band did she join when she was 12?", QuestionType.OTHER),
    ("Who directed the film?", QuestionType.OTHER),
])
def test_question_type(question: str, kind: QuestionType) -> None:
    assert question_type(question) is kind


@pytest.mark.parametrize(("question", "entity"), [
    ("Who directed the film?", True),
    ("Which team won in 1939?", True),
    ("What stadium does the team play in?", True),
    ("How many troops did North Korea send?", True),
    ("Ardern served since when?", True),
    ("Did Russia retake Kursk?", False),
    ("What did Putin thank North Korea for?", False),
    ("What is Opry Mills?", False),
    ("What happened in Kursk on Saturday?", False),
])
def test_wants_entity(question: str, entity: bool) -> None:
    from service.retrieval.question import wants_entity

    assert wants_entity(question) is entity


@pytest.mark.parametrize(("sentence", "amount"), [
    ("Officials said North Korea deployed 10,000-12,000 troops.", True),
    ("The singer was reportedly paid $24m.", True),
    ("Membership rose 200% in 2021.", True),
    ("Two people died in 2020.", True),
    ("The new jobs are expected to be completed in 2018.", False),  # a year is no amount
    ("In 1801, a tradition started.", False),
])
def test_states_amount(sentence: str, amount: bool) -> None:
    from service.retrieval.question import states_amount

    assert states_amount(sentence) is amount


@pytest.mark.parametrize(("question", "sides"), [
    ("Which of Jonny Craig and Pete Doherty has been a member of more bands ?", ("Jonny Craig", "Pete Doherty")),
    ("Are Darren Benjamin Shepherd and Rémi Lange both American?", ("Darren Benjamin Shepherd", "Rémi Lange")),
    ("Are both Coldplay and Pierre Bouvier from the same country?", ("Coldplay", "Pierre Bouvier")),
    ("Is Velvetpark or Shape magazine written more for a queer readership?", ("Velvetpark", "Shape")),
    ("Which restaurant chain's headquarters is further north, Pizza Inn or Papa Gino's?",
     ("Pizza Inn", "Papa Gino's")),
    ("Which professional tennis player was born first, Lucie Hradecká or Raffaella Reggi?",
     ("Lucie Hradecká", "Raffaella Reggi")),
    ("Is the Bank of England or Nordea raising rates?", ("Bank of England", "Nordea")),
    # forms read only by the deleted compare_forms rule (issue 22: one dev case)
    ("Were Scott Derrickson and Ed Wood of the same nationality?", None),
    # not comparisons: lower-case alternatives, a list's last item, names asked about together
    ("Who won the award for best actress in a musical or comedy at the Golden Globes?", None),
    ("The party head holds a degree abbreviated MS, M.S., or ScM, in what field?", None),
    ("How many soldiers were killed or wounded, according to South Korea's military?", None),
    ("What did Russia and Ukraine say about Kursk?", None),
    ("Were Russia and Ukraine at the talks in Geneva?", None),
    ("Russia and Ukraine are at war since when?", None),
    ("Twitter said it would lift the suspension on Donald Trump's account. True or false?", None),
])
def test_a_comparison_question_gives_its_two_sides(question: str, sides: tuple[str, str] | None) -> None:
    assert compared(question) == sides
