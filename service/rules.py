"""Switches for the answer path's post-model rules, one per rule, for ablation audits.

Each rule added to the answer path after the answer@v3 prompt (the commits 88d6cde..1324474,
and the earlier ones the audit names) can be turned off alone, by name, without editing code::

    NEWSDESK_RULES_OFF=first_hop,padding newsdesk eval run ...

With a rule off, its code path behaves as it did before the rule's commit, as closely as a
switch allows (docs/rules_audit_switches.md says where each switch is and what it restores).
With the variable unset or empty every rule is on and nothing changes.

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
    "compare_forms": "f89a7cd: compared() reads more comparison forms ('Were X and Y of the same ...', 'X and Y are "
                     "what kind of ...', 'Which opened first: the X or the Y?')",
    "compare_by_date": "bf9f736: a comparison by date ('born first', 'younger') names its winner as the short answer, "
                       "by arithmetic over the two side sentences' dates",
    # --- verification --------------------------------------------------------------------------
    "padding": "442f35b: a cited sentence that adds none of the claim's own words is left out of the passage the "
               "claim is scored against, and out of the unions re-attribution tries",
    "demonyms": "0e2bde7: a country's name is found in its demonym and back ('Ukraine' ~ 'Ukrainian', place_forms) "
                "wherever a name's word is looked for",
    "number_roles": "c579a70: a claim that gives as where something went a number its evidence gives as where it "
                    "came from is not supported (transition_conflicts, a gate like the role check)",
    "drop_unneeded_citations": "f38d81e: verification leaves out cited sentences a claim does not need (_needed)",
    # --- quotes and the model's vote -----------------------------------------------------------
    "quote_relation": "2b02668, 1b7edc9: a quote (or the bridge linking it) must share one of the question's "
                      "lower-case words (QUOTE_RELATION_MIN); among sentences holding the draft's answer one "
                      "that shares such a word is quoted first",
    "typed_quote_any_shown": "cd8124f: for a number or date question the draft's answer is matched in any shown "
                             "sentence (QUOTE_TYPED_TOP), not only the vote's top QUOTE_TOP",
    "write_at": "c439f22: a written answer needs the model's vote for some sentence (WRITE_AT = 0.3); below it the "
                "draft is set aside and only a quote can answer",
    "write_at_contested": "2fa240f: WRITE_AT exempts an answer that cites a side of a contested claim",
    "write_at_number": "16d3550: WRITE_AT exempts an answer that states the number or date the question asks for",
    "thin_vote_reason": "0d2794f: an abstention after a thin vote says so, instead of calling the draft off topic "
                        "(the abstention reason's wording only)",
    # --- on topic ------------------------------------------------------------------------------
    "how_many_amount": "9742a3a: a 'how many / how much' answer must state a count or an amount, not only a year "
                       "(on-topic check and the quote's fit)",
    "on_topic_relation": "114f84d: on topic also needs what the question asks of the names it gives (a lower-case "
                         "question word, any form by its lemma: shares_relation) in the answer or its bridge",
    "contraction_heads": "49d0f59: relation words read a contraction or possessive as its head word ('it's' -> 'it', "
                         "a stop word) and a negated auxiliary as nothing",
    "quoted_entry_names": "b17de08: a quoted encyclopedia entry whose cited sentences name none of the question's "
                          "names abstains (news stories exempt)",
    "curly_quoted_titles": "171875d: a title the question quotes in curly quotes is a name it gives (names_given "
                           "read only straight quotes)",
    # --- the chain a multi-hop answer hangs on -------------------------------------------------
    "chain_link": "a4209e9: an answer on topic by itself still cites the link of its chain (a bridge adding "
                  "BRIDGE_WORDS question words)",
    "first_hop": "74091dd: the entry of the question's own subject is cited as the first hop (chain.first_hop)",
    "entry_rest": "ff4ae24: the rest of a cited encyclopedia entry the question asks about is cited "
                  "(chain.entry_complement)",
    "next_hop": "7314cb7: the entry a cited sentence leads to is cited (chain.next_hop)",
    "bridge_by_head": "7314cb7: a bridge may name an entry by its head ('through Interscope' -> 'Interscope "
                      "Records'; chain.leads_to)",
    "qualified_titles": "7314cb7: a qualified title is named only with its qualifier and a disambiguation page is no "
                        "entry (chain.names_entry)",
    "title_numbers": "7314cb7: a title's numbers must be named too ('the 1978 FIFA World Cup' does not name '2002 "
                     "FIFA World Cup'; names.names)",
    "lowercase_entry_titles": "5849268: a short title with lower-case words ('Maine gubernatorial election, 1820') "
                              "is an entry title (chain.is_entry_title)",
    "head_before_comma": "5849268: a title's part before its comma is its head ('Frederick Lindemann, Baron "
                         "Cherwell'; names.names_head)",
    "link_back": "0e9fcb9: when no single sentence ties the question to a cited entry, two may (chain.back_link)",
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
