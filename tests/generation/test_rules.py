"""The switches of the answer path's post-model rules (service/rules.py): NEWSDESK_RULES_OFF."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from service.config import REPO_ROOT
from service.generation.answer import AskParams, answer
from service.rules import ENV, RULES, enabled, rules_off
from service.runtime import Services
from tests.generation.test_answer_pipeline import fake, sides

_CALL = re.compile(r"""enabled\(\s*["']([^"']+)["']\s*\)""")


def switch_calls() -> dict[str, list[str]]:
    """Rule name -> the service files that call ``enabled("name")``."""
    out: dict[str, list[str]] = {}
    for path in sorted((REPO_ROOT / "service").rglob("*.py")):
        for name in _CALL.findall(path.read_text(encoding="utf-8")):
            out.setdefault(name, []).append(str(path.relative_to(REPO_ROOT)))
    return out


def test_every_rule_has_a_switch_and_every_switch_a_rule() -> None:
    calls = switch_calls()
    assert sorted(set(RULES) - set(calls)) == []  # a rule nothing turns off
    assert sorted(set(calls) - set(RULES)) == []  # a switch for no rule (it would raise at run time)


def test_every_rule_names_the_commit_that_added_it() -> None:
    for name, description in RULES.items():
        assert re.fullmatch(r"[a-z][a-z0-9_]*", name), name
        assert re.match(r"[0-9a-f]{7}\b", description), (name, description)


def test_all_rules_are_on_unless_the_variable_lists_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV, raising=False)
    assert rules_off() == frozenset()
    assert all(enabled(name) for name in RULES)
    monkeypatch.setenv(ENV, "")
    assert rules_off() == frozenset()
    monkeypatch.setenv(ENV, " entry_rest, ,padding ,")
    assert rules_off() == {"entry_rest", "padding"}
    assert not enabled("entry_rest") and not enabled("padding") and enabled("next_hop")


def test_an_unknown_name_is_an_error_that_lists_the_valid_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, "next_hop,nxet_hop")
    with pytest.raises(ValueError, match="nxet_hop") as err:
        enabled("padding")
    assert ENV in str(err.value) and "next_hop" in str(err.value) and "entry_rest" in str(err.value)
    with pytest.raises(ValueError, match="nxet_hop"):
        rules_off()
    monkeypatch.delenv(ENV)
    with pytest.raises(ValueError, match="valid names"):
        enabled("no_such_rule")  # a typo at a call site


# --- turning a rule off changes an outcome ---------------------------------------------------


class _FlatEmbedder:
    """Every text the same vector: the checker's gates (``missing``) do not depend on it."""

    def embed(self, texts: Any) -> np.ndarray:
        return np.ones((len(texts), 4)) / 2.0


def _number_roles() -> bool:
    from service.verify.support import SupportChecker

    evidence = ["The time on the Doomsday Clock moved forward from 100 seconds to midnight to 90 seconds to midnight."]
    res = SupportChecker(_FlatEmbedder()).score("The Doomsday Clock moved to 100 seconds to midnight.", evidence)
    return any(m.startswith("number ") for m in res.missing)


def _demonyms() -> bool:
    from service.verify.topic import holds_items

    return holds_items("Ukrainian officials have denied Russia's claim.", [frozenset({"ukraine"})])


def _bridge_by_head() -> bool:
    from service.generation.chain import leads_to

    return leads_to("The song was released in 2017 through Interscope.", "Interscope Records")


@pytest.mark.parametrize(("rule", "outcome"), [
    ("number_roles", _number_roles), ("demonyms", _demonyms), ("bridge_by_head", _bridge_by_head),
])
def test_a_rule_turned_off_alone_reads_as_before_its_commit(monkeypatch: pytest.MonkeyPatch, rule: str,
                                                            outcome: Callable[[], object]) -> None:
    monkeypatch.delenv(ENV, raising=False)
    on = outcome()
    other = next(name for name in RULES if name != rule)
    monkeypatch.setenv(ENV, other)  # another rule off leaves this one as it was
    assert outcome() == on
    monkeypatch.setenv(ENV, rule)
    assert outcome() != on


@pytest.mark.parametrize("off", ["", "compare_sides"])
def test_the_comparison_switches(services: Services, monkeypatch: pytest.MonkeyPatch, off: str) -> None:
    # Both sides quoted, with no winner as the short answer (the comparison is the reader's);
    # without side-by-side comparisons the question is no comparison and, nothing written
    # having verified, it abstains.
    monkeypatch.setenv(ENV, off)
    sides(services, ("kovar", "Anna Kovar", "Anna Kovar (born 21 May 1985 in Prague) is a tennis player."),
          ("lind", "Bea Lind", "Bea Lind (born 27 November 1965) is a former tennis player from Italy."))
    fake(services).push("INSUFFICIENT")
    res = answer(services, AskParams("Which tennis player was born first, Anna Kovar or Bea Lind?", model="fake"))
    if off == "compare_sides":
        assert res.mode == "abstained" and res.citations == []
        return
    assert res.mode == "quoted" and [c.hit.article_id for c in res.citations] == ["kovar", "lind"]
    assert res.short_answer is None
