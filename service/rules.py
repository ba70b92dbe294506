"""Switches for the answer path's post-model rules, one per rule, for ablation audits.

Each rule added to the answer path after the answer@v3 prompt (the commits 88d6cde..1324474,
and the earlier ones the audit names) can be turned off alone, by name, without editing code::

    NEWSDESK_RULES_OFF=next_hop,padding newsdesk eval run ...

With a rule off, its code path behaves as it did before the rule's commit, as closely as a
switch allows (docs/rules_audit_switches.md says where each switch is and what it restores).
With the variable unset or empty every rule is on and nothing changes.  The issue-22 audit
turned each off alone; the 11 whose whole gain was at most two dev cases and that are not
general were deleted, with their code, switches and tests, and three that covered for each
other became one (``relation``); docs/rules_audit_switches.md lists them.

The variable is read at every call (:func:`enabled`), so a test or a runner may set it between
questions; an unknown name in it is an error, not a silently ignored typo.  This module imports
nothing from the service, so any layer (retrieval, verify, generation) may use it.
"""

from __future__ import annotations

import os
from functools import lru_cache

ENV = "NEWSDESK_RULES_OFF"

RULES: dict[str, str] = {
    # --- comparisons ---------------------------------------------------------------------------
    "compare_sides": "88d6cde: a comparison question ('Which of X and Y', 'Is X or Y', ', X or Y?') gets a quoted "
                     "sentence for each side the answer does not speak of ('On X, according to ...'), no short answer",
    # --- verification --------------------------------------------------------------------------
    "padding": "442f35b: a cited sentence that adds none of the claim's own words is left out of the passage the "
               "claim is scored against, and out of the unions re-attribution tries",
    "demonyms": "0e2bde7: a country's name is found in its demonym and back ('Ukraine' ~ 'Ukrainian', place_forms) "
                "wherever a name's word is looked for",
    "number_roles": "c579a70: a claim that gives as where something went a number its evidence gives as where it "
                    "came from is not supported (transition_conflicts, a gate like the role check)",
    "drop_unneeded_citations": "f38d81e: verification leaves out cited sentences a claim does not need (_needed)",
    # --- quotes and the model's vote -----------------------------------------------------------
    "typed_quote_any_shown": "cd8124f: for a number or date question the draft's answer is matched in any shown "
                             "sentence (QUOTE_TYPED_TOP), not only the vote's top QUOTE_TOP",
    "write_at": "c439f22: a written answer needs the model's vote for some sentence (WRITE_AT = 0.3); below it the "
                "draft is set aside and only a quote can answer",
    "write_at_contested": "2fa240f: WRITE_AT exempts an answer that cites a side of a contested claim",
    "thin_vote_reason": "0d2794f: an abstention after a thin vote says so, instead of calling the draft off topic "
                        "(the abstention reason's wording only)",
    # --- on topic ------------------------------------------------------------------------------
    "relation": "114f84d, 2b02668, 1b7edc9, 49d0f59: an answer, a quote or the bridge linking it must share what "
                "the question asks of the names it gives (a lower-case question word, any form by its lemma: "
                "shares_relation; 'it's' read as 'it'); among sentences holding the draft's answer one that "
                "shares such a word is quoted first",
    "how_many_amount": "9742a3a: a 'how many / how much' answer must state a count or an amount, not only a year "
                       "(on-topic check and the quote's fit)",
    # --- the chain a multi-hop answer hangs on -------------------------------------------------
    "chain_link": "a4209e9: an answer on topic by itself still cites the link of its chain (a bridge adding "
                  "BRIDGE_WORDS question words)",
    "entry_rest": "ff4ae24: the rest of a cited encyclopedia entry the question asks about is cited "
                  "(chain.entry_complement)",
    "next_hop": "7314cb7: the entry a cited sentence leads to is cited (chain.next_hop)",
    "bridge_by_head": "7314cb7: a bridge may name an entry by its head ('through Interscope' -> 'Interscope "
                      "Records'; chain.leads_to)",
}
"""Every switchable rule: name -> the commit that added it and what it does."""


def rules_off() -> frozenset[str]:
    """The rules :data:`ENV` turns off (comma-separated names; blanks ignored).

    Raises :class:`ValueError` naming the valid names when the variable holds an unknown one."""
    return _parse(os.environ.get(ENV, ""))


@lru_cache(maxsize=16)
def _parse(raw: str) -> frozenset[str]:
    names = frozenset(n.strip() for n in raw.split(",") if n.strip())
    unknown = sorted(names - RULES.keys())
    if unknown:
        raise ValueError(f"{ENV} names unknown rule(s) {', '.join(unknown)}; valid names: {', '.join(sorted(RULES))}")
    return names


def enabled(name: str) -> bool:
    """Whether rule ``name`` is on: it is, unless :data:`ENV` lists it.  ``name`` must be in
    :data:`RULES` (a typo at a call site is an error, not a switch that never turns off)."""
    if name not in RULES:
        raise ValueError(f"unknown rule {name!r}; valid names: {', '.join(sorted(RULES))}")
    return name not in rules_off()
