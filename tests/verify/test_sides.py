"""Outlets are grouped into sides by the shipped AllSides ratings; unrated outlets stand alone."""

from __future__ import annotations

from service.verify.sides import one_sided_words, outlet_key, side_of


def test_outlet_names_match_without_their_suffix_and_article() -> None:
    assert outlet_key("The Hill (Online News)") == outlet_key("the hill") == "hill"
    assert side_of("Fox News") == side_of("Fox News (Online News)") == "right"
    assert side_of("Reuters") == "center"
    assert side_of("CNN") == "left"
    assert side_of("Kyiv Independent") == "Kyiv Independent"  # unrated: a side of its own


def test_one_sided_words_need_two_sides_and_one_user() -> None:
    by_outlet = {"Fox News": ["A massive, dangerous plan."], "CNN": ["A dangerous plan."], "Reuters": ["A plan."]}
    assert one_sided_words("A massive, dangerous plan", by_outlet) == {"massive": "right"}
    assert one_sided_words("A massive plan", {"Fox News": ["A massive plan."]}) == {}
    # two unrated outlets are two sides
    assert one_sided_words("A massive plan", {"Tass": ["A massive plan."], "Kyiv Independent": ["A plan."]}) \
        == {"massive": "Tass"}
