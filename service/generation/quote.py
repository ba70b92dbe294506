"""Quoted mode: a source sentence that answers, quoted, when nothing the model wrote verified.

The draft may paraphrase beyond what verifies, or cite the first hop of a chain for what the
second states; the sources may still hold its answer.  :func:`quote_fallback` picks the sentence
to quote -- the best-ranked shown sentence that states what the draft answered, or the one the
model's vote chose with confidence -- and :func:`frame_quote` gives it its attribution
(``According to Outlet (2025-04-28): “…”``).  Called by :func:`service.generation.answer.finish`,
which still checks the quote is on topic.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from service.generation.core import Generated
from service.generation.select import CANDIDATES
from service.retrieval.question import QuestionType, answer_type_match, question_type, states_amount
from service.retrieval.search import SentenceHit
from service.rules import enabled
from service.runtime import Services
from service.verify.citations import VerifiedSentence
from service.verify.names import capitalised_inside, lead_name, names
from service.verify.neutrality import restate
from service.verify.roles import role_conflicts
from service.verify.topic import addresses, answer_items, fragment_items, holds_items, shares_relation

if TYPE_CHECKING:
    from service.generation.answer import Prepared

QUOTE_TOP = 5
"""A sentence is quoted for the draft's answer only when it is among this many best candidates ..."""
QUOTE_TYPED_TOP = CANDIDATES
"""... or among all of them, for a question that asks for a number or a date: the draft's number
or date stated verbatim by a shown sentence is a surer match than a name."""
QUOTE_RELATION_MIN = 1
"""A quote answers only when it, or the bridge sentence that links it to the question, shares
one of the question's lower-case content words when the question has at least this many (any
form; :func:`service.verify.topic.shares_relation`); among the sentences that hold the
draft's answer, one that shares such a word is quoted first.  Holding the draft's name is not
enough: "North Korea", drafted for "Who denied that Russia had retaken Kursk?", is in a sentence
about Kim's motives, which denies nothing.  A comparison given side by side is exempt (its
sides are the answer: "from the same country" is in neither "British" nor "Canadian")."""
QUOTE_AT = 0.5
"""Quoted mode on the model's vote alone needs at least this probability for the chosen sentence ..."""
QUOTE_NONE_BELOW = 0.2
"""... and "none of these" less than this.  Both picked on the dev sets (docs/selection.md)."""
VOTE_ON_TOPIC_WORDS = 3
"""A sentence quoted on the model's vote alone (no answer of the draft's in it) must share this
many: it is the least supported way to answer.  On the dev sets this removed only wrong answers
(HotpotQA citation precision 0.78 -> 0.81; answers right unchanged in every suite)."""


def quote_fallback(services: Services, prep: Prepared, gen: Generated) -> list[VerifiedSentence]:
    """The sentence that answers, quoted -- when nothing written verified but the sources hold
    the answer with some confidence.  Two ways to be confident:

    1. the model's draft named an answer (numbers, dates, names the question does not give) and
       a sentence among the best :data:`QUOTE_TOP` candidates (any shown one, :data:`QUOTE_TYPED_TOP`,
       when the question asks for a number or a date) states all of it (the best-ranked such
       sentence, whichever one the draft cited).  The draft paraphrased beyond what verifies,
       restated the question around its answer, or cited the first hop of a multi-hop chain
       ("He played for the Tunisian national team [S1]") for what the second hop states ("They
       qualified for their first World Cup in 1978");
    2. the model's own vote: the chosen sentence has at least :data:`QUOTE_AT` and "none of
       these" less than :data:`QUOTE_NONE_BELOW`, and it shares :data:`VOTE_ON_TOPIC_WORDS` of
       the question's content words.

    Either way a question that wants a number or a date is only answered by a sentence that
    holds one.
    """
    question = " ".join(prep.params.question.split())
    qtype = question_type(question)

    def fits(h: SentenceHit) -> bool:
        """Holds what the question asks for, and gives no role the question gives to somebody
        else ("How many did *Russia* say..." is not answered by "South Korea's military assessed")."""
        if qtype is QuestionType.NUMBER and enabled("how_many_amount"):
            typed = states_amount(h.text)  # a count or an amount (which answer_type_match also asks)
        else:
            typed = qtype is QuestionType.OTHER or answer_type_match(qtype, h.text)
        return typed and not role_conflicts(question, [h.text])

    sel = prep.selection
    ranked = prep.ranked()
    typed_any = qtype is not QuestionType.OTHER and enabled("typed_quote_any_shown")  # a number or date: any shown
    near = ranked[:QUOTE_TYPED_TOP if typed_any else QUOTE_TOP]
    for s in gen.draft.sentences:
        items = answer_items(s.text, question) or fragment_items(s.text, question)
        lead = lead_name(s.text, question) if not items and qtype is QuestionType.OTHER else None
        if lead is not None:  # "Amazon is the latest tech giant to ...": the sources must name it
            if hit := next((h for h in near if fits(h) and capitalised_inside(lead, h.text)), None):
                return restate([hit], services.checker)
            continue
        if not items or (qtype is not QuestionType.OTHER
                         and not answer_type_match(qtype, " ".join(" ".join(i) for i in items))):
            continue  # no answer named (a "how many" draft that names no number named none)
        holding = [hit for hit in near if fits(hit) and holds_items(hit.text, items)]
        if holding:  # the best ranked that also shares what the question asks, if one does
            relate = enabled("relation")
            asks = next((h for h in holding if relate and shares_relation(question, [h.text], QUOTE_RELATION_MIN)),
                        holding[0])
            return restate([asks], services.checker)
    if sel is not None and sel.model is not None and sel.hits:
        confident = (sel.top_model_prob or 0.0) >= QUOTE_AT and (sel.none or 0.0) < QUOTE_NONE_BELOW
        h0 = sel.hits[0]
        if confident and fits(h0) and addresses(question, [h0.text, h0.title or ""], VOTE_ON_TOPIC_WORDS):
            return restate([h0], services.checker)
    return []


def frame_quote(v: VerifiedSentence, side: str | None = None) -> VerifiedSentence:
    """``According to Outlet (2025-04-28): “…”`` -- a source sentence quoted with its attribution;
    ``On Jonny Craig, according to ...`` for a comparison's side the quote does not name ("He has
    been the lead vocalist ...")."""
    if not v.citations or v.text != " ".join(v.citations[0].text.split()):
        return v
    h = v.citations[0]
    who = h.source if h.source and h.source != "unknown" else f"“{h.title}”"
    when = (h.published_at or "")[:10] or "undated"
    lead = f"On {side}, according to" if side is not None and not names(v.text, side) else "According to"
    return VerifiedSentence(f"{lead} {who} ({when}): “{v.text}”", v.citations, v.support)
