"""Who did what to whom: swapped agents and patients are caught, paraphrases are not."""

from __future__ import annotations

import pytest

from service.verify.roles import role_conflicts, roles, same_entity

PUTIN = ("Russian President Vladimir Putin on Monday thanked North Korea for sending troops to fight alongside "
         "Russia in Moscow’s war against Ukraine and vowed not to forget their sacrifices.")
ATTACK = "Russian forces attacked Ukraine on Monday."


@pytest.mark.parametrize("claim", [
    "Russia thanked North Korea for sending troops.",  # the country for the president
    "North Korea thanked Putin for the troops.",  # thanker and thanked swapped
    "Moscow thanked North Korea.",
])
def test_swapped_or_substituted_agents_conflict(claim: str) -> None:
    assert role_conflicts(claim, [PUTIN])


@pytest.mark.parametrize("claim", [
    "Putin thanked North Korea for sending troops.",
    "Vladimir Putin thanked North Korea.",
    "North Korea was thanked by Putin.",  # passive voice: the agent follows "by"
    "Putin, the Russian president, thanked North Korea.",  # no readable agent: not judged
])
def test_the_same_roles_in_other_words_do_not_conflict(claim: str) -> None:
    assert role_conflicts(claim, [PUTIN]) == []


def test_who_attacked_whom() -> None:
    assert role_conflicts("Ukraine attacked Russia on Monday.", [ATTACK])
    assert role_conflicts("Russia attacked Ukraine on Monday.", [ATTACK]) == []
    assert role_conflicts("Ukraine was attacked by Russia.", [ATTACK]) == []


def test_a_name_the_evidence_lacks_is_left_to_the_missing_name_check() -> None:
    assert role_conflicts("Kim thanked North Korea.", [PUTIN]) == []


def test_dates_and_prepositional_phrases_are_not_patients() -> None:
    ev = ["Putin and Kim said the deployment was made under a mutual defense treaty signed in June 2024."]
    assert role_conflicts("The treaty between Russia and North Korea was signed in June 2024.", ev) == []


def test_demonyms_match_their_country_and_titles_are_not_identity() -> None:
    assert same_entity(frozenset({"ukraine"}), frozenset({"ukrainian"}))
    (thank,) = [r for r in roles(PUTIN) if r.verb == "thank"]
    assert thank.agent == frozenset({"vladimir", "putin"}) and thank.patient == frozenset({"north", "korea"})


DOOMSDAY = "The time on the Doomsday Clock moved forward from 100 seconds to midnight to 90 seconds to midnight."


@pytest.mark.parametrize(("claim", "conflict"), [
    ("The Doomsday Clock moved to 100 seconds to midnight.", True),  # where it came from, given as where it went
    ("The Doomsday Clock moved to 90 seconds to midnight.", False),
    ("The clock moved from 100 seconds to 90 seconds.", False),
    ("The clock stood at 100 seconds before it moved.", False),  # no "to": nothing said of where it went
])
def test_a_number_the_evidence_moves_from_is_not_where_it_went(claim: str, conflict: bool) -> None:
    from service.verify.roles import transition_conflicts

    assert bool(transition_conflicts(claim, [DOOMSDAY])) is conflict
