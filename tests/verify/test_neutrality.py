"""Neutrality metrics on hand-made cases with known values, and the seed's contested pair."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pytest

from service.generation.selection import article_hits, sentence_vectors
from service.ingest.article import ArticleInput
from service.retrieval.search import SentenceHit
from service.runtime import Services
from service.verify.citations import VerifiedSentence
from service.verify.neutrality import (
    align,
    counter_cues,
    enforce,
    find_contested_pairs,
    introduced_loaded,
    is_attributed,
    loaded_words,
    report,
    subjectivity_lexicon,
)
from vectorstore.embeddings import MiniLMEmbedding


def hit(aid: str, idx: int, text: str, source: str = "Wire") -> SentenceHit:
    return SentenceHit(aid, idx, text, 0, len(text), "t", None, source, None)


@dataclass
class Score:
    score: float
    missing: tuple[str, ...] = ()


class FullSupport:
    """A fake support checker: every claim is fully supported."""

    def score_many(self, pairs: Sequence[tuple[str, list[str]]]) -> list[Score]:
        return [Score(1.0) for _ in pairs]


def vectors(embedder: MiniLMEmbedding, hits: Sequence[SentenceHit]) -> np.ndarray:
    return np.asarray(embedder.embed([h.text for h in hits]), dtype=np.float32)


def test_lexicon_ships_with_textblob() -> None:
    lex = subjectivity_lexicon()
    assert len(lex) > 1000 and lex["brutal"] == 1.0 and lex["military"] < 0.6
    assert loaded_words("A brutal, shocking attack on the only military base") == ["brutal", "shocking"]


def test_loaded_rate_counts_only_words_we_introduced() -> None:
    src = hit("a", 0, "The attack killed 12 people, police said.")
    ours = "The brutal attack killed 12 people, police said."
    quoted = "Police said it was a shocking attack."
    assert introduced_loaded(ours, [src.text]) == ["brutal"]
    assert introduced_loaded(quoted, ["Police called it a shocking attack."]) == []
    rep = report([(ours, [src])], [])
    assert rep.words == 7 and rep.loaded_introduced == ["brutal"] and rep.loaded_rate == round(1 / 7, 4)


def test_attribution_rate() -> None:
    s1 = hit("a", 0, "Officials said the bridge will reopen in May.")
    s2 = hit("a", 1, "The bridge was built in 1932.")
    rep = report([("The bridge will reopen in May.", [s1]),
                  ("Officials said the bridge will reopen in May.", [s1]),
                  ("The bridge was built in 1932.", [s2])], [])
    assert (rep.attributed_in_sources, rep.attribution_kept, rep.attribution_rate) == (2, 1, 0.5)
    assert report([("The bridge was built in 1932.", [s2])], []).attribution_rate is None
    assert is_attributed("According to the ministry, prices rose.") and not is_attributed("Prices rose.")


def test_contested_pairs_and_their_coverage(embedder: MiniLMEmbedding) -> None:
    claim = hit("a", 3, "Russia said its troops had fully reclaimed the Kursk region.", "Wire A")
    counter = hit("b", 1, "Ukraine denied Russia's claim that Kursk had been reclaimed.", "Wire B")
    other = hit("a", 4, "The weather in Paris was mild on Sunday.", "Wire A")
    denial_elsewhere = hit("c", 0, "The mayor denied that the festival would be cancelled.", "Wire C")
    hits = [claim, counter, other, denial_elsewhere]
    pairs = find_contested_pairs(hits, vectors(embedder, hits))
    assert [(p.claim.id, p.counter.id) for p in pairs] == [("a:3", "b:1")]
    one_side = report([("Russia said its troops had fully reclaimed the Kursk region.", [claim])], pairs)
    assert (one_side.contested_touched, one_side.contested_complete, one_side.contested_coverage) == (1, 0, 0.0)
    both = report([("Russia said it reclaimed Kursk.", [claim]), ("Ukraine denied it.", [counter])], pairs)
    assert both.contested_coverage == 1.0 and both.contested[0].both
    untouched = report([("The weather was mild.", [other])], pairs)
    assert untouched.contested_touched == 0 and untouched.contested_coverage is None


def test_enforce_restores_attribution_adds_counterclaims_and_dedupes(embedder: MiniLMEmbedding) -> None:
    claim = hit("a", 3, "Russia said its troops had fully reclaimed the Kursk region.")
    counter = hit("a", 4, "Ukrainian officials denied Russia's claim about Kursk.")
    hits = [claim, counter]
    pairs = find_contested_pairs(hits, vectors(embedder, hits))
    kept = [VerifiedSentence("Russian troops fully reclaimed the Kursk region.", [claim], 0.9),
            VerifiedSentence("Russia said its troops had fully reclaimed the Kursk region.", [claim], 0.9)]
    out, fixes = enforce(kept, pairs, FullSupport())
    assert [v.text for v in out] == [claim.text, counter.text]
    assert fixes == {"attribution_restored": 1, "loaded_restated": 0, "counterclaims_added": 1,
                     "duplicates_removed": 1, "contested_surfaced": 0}


def test_align_gives_uncited_text_pseudo_citations(embedder: MiniLMEmbedding) -> None:
    hits = [hit("a", 0, "The council approved the budget on Monday."), hit("a", 1, "Snow fell in the mountains.")]
    texts = ["On Monday the council approved the budget.", "Stocks rallied in Tokyo."]
    got = align(texts, vectors(embedder, [hit("x", i, t) for i, t in enumerate(texts)]), hits, vectors(embedder, hits))
    assert [h.id for h in got[0]] == ["a:0"] and got[1] == []


def test_two_outlets_reporting_one_act_are_not_a_claim_and_its_counter(embedder: MiniLMEmbedding) -> None:
    # the same ruling in two outlets' words both carry "rejected": they agree, neither answers the other
    ruling = hit("a", 1, "The appeals court rejected Trump's claims that the Vance subpoena was issued in bad faith.")
    same = hit("b", 1, "The 2nd Circuit broadly rejected Trump's arguments that the Vance subpoena was overly broad.")
    background = hit("c", 2, "The dispute arose in 2018 after Vance began a criminal probe of the Trump Organization.")
    hits = [ruling, same, background]
    pairs = {(p.claim.id, p.counter.id) for p in find_contested_pairs(hits, vectors(embedder, hits))}
    assert not pairs & {("a:1", "b:1"), ("b:1", "a:1")}  # before: each was the other's "claim"
    assert not any(counter == "c:2" for _, counter in pairs)  # before: the background was a counter
    assert counter_cues(background.text) == set() and counter_cues(same.text) == {"reject"}
    assert counter_cues("Ukraine denied Russia's claim.") == {"deni"}


@pytest.mark.parametrize("text", ["Kerry denied the report.", "The claim was disputed by the union."])
def test_a_counterclaim_without_a_partner_is_not_a_pair(embedder: MiniLMEmbedding, text: str) -> None:
    hits = [hit("a", 0, text), hit("b", 0, "Tokyo stocks rose 2 percent on Friday.")]
    assert find_contested_pairs(hits, vectors(embedder, hits)) == []


def test_seed_has_the_kursk_claim_and_denial(services: Services, seed_text: str) -> None:
    services.store.ingest(ArticleInput(id="seed", title="North Korea troops", text=seed_text, source="Fox News"))
    hits = article_hits(services.catalog, ["seed"])
    pairs = find_contested_pairs(hits, sentence_vectors(services.catalog, services.retriever.sentences,
                                                        services.embedder, hits))
    assert [(p.claim.id, p.counter.id) for p in pairs] == [("seed:2", "seed:3")]
