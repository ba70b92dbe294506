"""The period a question's wording asks about, and the filters it turns into."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from service.retrieval.question import as_of_filters, period_days
from service.store.catalog import Filters


def epoch(day: str) -> int:
    return int(datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp())


@pytest.mark.parametrize(("question", "days"), [
    ("Which Republican suffered a string of defeats this week?", 7),
    ("This past weekend, rapper Drake performed at which venue?", 7),
    ("Who resigned yesterday?", 2),
    ("What did the FDA recently add to its list of allergens?", 31),
    ("What was announced last week and again this week?", 7),  # the narrowest wins
    ("Who won the most medals this year?", 23),  # since 1 January
    ("Which film got the most nominations for this year’s Oscars?", 23),
    ("Who resigned this month?", 23),  # since the 1st
    ("Who led the polls over the past year?", 366),
    ("How many troops did North Korea send to Russia?", None),
    ("What is the most recent album by the band?", None),
    ("According to a recent study, what may the inner core have done?", 31),
    ("Which weekly magazine covered it?", None),  # "weekly" names no period
])
def test_period_days(question: str, days: int | None) -> None:
    assert period_days(question, date(2023, 1, 24)) == days


def test_a_named_period_becomes_a_window_ending_on_the_asking_day() -> None:
    f, p = as_of_filters(Filters(sources=("cnn.com",)), "Who resigned this week?", epoch("2023-01-20T15:30:00"), 0)
    assert p is not None and (p.first_day, p.last_day, p.days) == ("2023-01-13", "2023-01-20", 7)
    assert (f.since, f.until, f.sources) == (epoch("2023-01-13"), epoch("2023-01-21"), ("cnn.com",))


def test_without_as_of_the_period_counts_back_from_now() -> None:
    _, p = as_of_filters(Filters(), "Who resigned yesterday?", None, epoch("2026-11-29T08:00:00"))
    assert p is not None and (p.first_day, p.last_day) == ("2026-11-27", "2026-11-29")


def test_no_period_and_no_as_of_leaves_the_filters_alone() -> None:
    f = Filters(sources=("cnn.com",))
    assert as_of_filters(f, "Who leads the party?", None, epoch("2026-11-29")) == (f, None)


def test_as_of_alone_only_bounds_the_end() -> None:
    f, p = as_of_filters(Filters(), "Who leads the party?", epoch("2023-01-20"), 0)
    assert (f.since, f.until) == (None, epoch("2023-01-21")) and p is not None and p.first_day is None


def test_explicit_bounds_win_over_the_wording() -> None:
    f = Filters(since=epoch("2020-01-01"))
    assert as_of_filters(f, "Who resigned this week?", epoch("2023-01-20"), 0) == (f, None)
