"""Reading the model's vote over numbered candidates from a reply's top_logprobs."""

from __future__ import annotations

import math

import pytest

from service.llm.logprob_vote import Position, number_votes

LN = math.log


def pos(token: str, **alts: float) -> Position:
    """A reply token and its alternatives, given as probabilities (keys are token texts)."""
    return Position(token, tuple((t, LN(p)) for t, p in alts.items()))


def tok(*pairs: tuple[str, float]) -> tuple[tuple[str, float], ...]:
    return tuple((t, LN(p)) for t, p in pairs)


def test_single_digit_markers_take_their_probabilities() -> None:
    reply = [Position("[S", tok(("[S", 0.9))), Position("3", tok(("3", 0.6), ("1", 0.3), ("0", 0.05))),
             Position("]", tok(("]", 0.99)))]
    votes = number_votes(reply, range(6))
    assert votes == pytest.approx([0.05, 0.3, 0.0, 0.6, 0.0, 0.0])


def test_the_replys_own_digit_is_split_by_the_next_token() -> None:
    # "1" then "0" (Qwen/Llama write 10 as two tokens): P(10) = P("1") P("0"|"1")
    reply = [Position("1", tok(("1", 0.8), ("2", 0.2))), Position("0", tok(("0", 0.75), ("]", 0.25)))]
    votes = number_votes(reply, range(11))
    assert votes[10] == pytest.approx(0.6)
    assert votes[1] == pytest.approx(0.2)
    assert votes[2] == pytest.approx(0.2)


def test_an_alternative_that_starts_longer_numbers_is_spread_evenly() -> None:
    reply = [Position("3", tok(("3", 0.7), ("1", 0.2))), Position("]", tok(("]", 1.0)))]
    votes = number_votes(reply, range(11))
    assert votes[3] == pytest.approx(0.7)
    assert votes[1] == pytest.approx(0.1)
    assert votes[10] == pytest.approx(0.1)


def test_whole_number_tokens_and_leads() -> None:
    # o200k-style: "10" is one token, the reply leads with "S"; " 4" with a space is the same vote
    reply = [Position("S", tok(("S", 1.0))), Position("10", tok(("10", 0.5), (" 4", 0.25), ("S4", 0.1))),
             Position("]", tok(("]", 1.0)))]
    votes = number_votes(reply, range(11))
    assert votes[10] == pytest.approx(0.5)
    assert votes[4] == pytest.approx(0.25)


def test_a_token_that_ends_the_number_is_exact() -> None:
    reply = [Position("2]", tok(("2]", 0.5), ("1]", 0.3), ("1", 0.2)))]
    votes = number_votes(reply, range(11))
    assert votes[2] == pytest.approx(0.5)
    assert votes[1] == pytest.approx(0.3 + 0.1)  # "1]" ends; bare "1" (unresolved) is shared with 10
    assert votes[10] == pytest.approx(0.1)


def test_no_digit_in_the_reply_is_a_vote_for_none() -> None:
    reply = [Position("INS", tok(("INS", 0.9))), Position("UFFICIENT", tok(("UFFICIENT", 1.0)))]
    assert number_votes(reply, range(4)) == [1.0, 0.0, 0.0, 0.0]
    assert number_votes(reply, range(1, 4)) == [0.0, 0.0, 0.0]


def test_numbers_that_are_not_candidates_are_ignored() -> None:
    reply = [Position("7", tok(("7", 0.5), ("2", 0.4)))]
    assert number_votes(reply, range(4)) == pytest.approx([0.0, 0.0, 0.4, 0.0])
