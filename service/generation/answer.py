"""Question answering, evidence first: retrieve -> select -> write -> verify -> respond.

Shared by ``POST /v1/ask``, ``newsdesk ask`` and the eval runner.

1. **Retrieve** the candidate sentences (:class:`service.retrieval.search.Retriever`); below
   the relevance floor, abstain without calling the model.
2. **Select** (:mod:`service.generation.select`): the model scores the numbered candidates and
   the sentences that answer are chosen before anything is written.  A contested claim brings
   its counter-claim along (and the reverse).
3. **Write** a short answer from the chosen sentences alone (one logged model call, streamed
   for SSE).
4. **Verify** (:mod:`service.verify`): every sentence is checked against what it cites, with
   the question's own names and numbers counted as given; attribution and counter-claims are
   enforced.
5. **Respond** in one of three modes: ``written`` (verified sentences), ``quoted`` (nothing
   written verified, but a chosen sentence answers with confidence: it is quoted, attributed
   to its outlet and date; :mod:`service.generation.quote`), ``abstained`` (nothing answers: no citations; the nearest
   sentences are listed as evidence).  A comparison ("Are both X and Y ...", "..., X or Y?")
   gets a quoted sentence for each side the answer does not speak of
   (:mod:`service.generation.compare`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from service.generation.chain import leads_to, links
from service.generation.compare import side_sentences
from service.generation.confidence import PARAMS_PATH, load_gate, signals
from service.generation.core import (
    Citation,
    number_citations,
    quote_records,
    render_messages,
    verify_completion,
)
from service.generation.evidence import Evidence, select_evidence
from service.generation.followup import Standalone, Turn, standalone
from service.generation.quote import QUOTE_RELATION_MIN, frame_quote, quote_fallback
from service.generation.select import CANDIDATES, Selection, select, selection_messages
from service.generation.selection import sentence_vectors
from service.llm.base import ChatBackend, ChatMessage, Completion
from service.logs.calls import call_model, stream_model
from service.prompts import PromptTemplate, load_prompt
from service.retrieval.question import (
    Period,
    QuestionType,
    as_of_filters,
    compared,
    question_type,
    states_amount,
)
from service.retrieval.search import SentenceHit
from service.rules import enabled
from service.runtime import Services
from service.store.catalog import Filters
from service.verify.citations import VerifiedSentence
from service.verify.neutrality import ContestedPair, complete_pairs, enforce, find_contested_pairs, restate
from service.verify.span import AnswerSpan, locate_answer
from service.verify.topic import question_words, shares_relation, words_needed

WRITE_AT = 0.3
"""A written answer stands only when the model's vote gave some shown sentence at least this
probability; below it (the vote spread thin: no sentence answers, in the model's own reading)
the draft is set aside, and only a quote that states its answer
(:func:`service.generation.quote.quote_fallback`) can answer.  RealTimeQA dev on cached calls:
unanswerable abstained 0.63 -> 0.70 anywhere from 0.25 to 0.30, answerable right and HotpotQA
unchanged (the drafts' right answers were quoted instead); 0.35 lost a right answer.  Exempt
(:func:`_cites_a_side`): an answer that cites a side of a contested claim, whose vote is split
between the claim and its denial by nature.  (A second exemption, for an answer stating the
number or date asked for, moved no case in the issue-22 audit and was deleted.)"""
ON_TOPIC_WORDS = 2
"""An answer's cited sentences, with their headlines, share at least this many of the question's
content words, or it does not answer the question (:func:`service.verify.topic.addresses`)."""
ABSTAIN_TEXT = "The indexed sources do not answer this question."


@dataclass(slots=True)
class AskParams:
    question: str
    filters: Filters = field(default_factory=Filters)
    top_k: int = 8
    prompt_version: str | None = None
    model: str | None = None
    flag_unsupported: bool = False
    as_of: int | None = None
    """When the question is asked (epoch seconds; ``None``: now).  Given, nothing published after
    that day is used; "this week" and the like always count back from it."""
    history: tuple[Turn, ...] = ()
    """Earlier turns of the conversation: ``question`` is a follow-up, made to stand alone first
    (:mod:`service.generation.followup`)."""


@dataclass(slots=True)
class AnswerResult:
    answer: str
    sentences: list[tuple[VerifiedSentence, list[int]]]
    citations: list[Citation]
    abstained: bool
    abstain_reason: str | None
    evidence: list[Citation]
    """Sentences considered, with their quotes and (where scored) selection probability; never support."""
    model: str
    backend: str
    prompt: str
    usage: dict[str, int | None]
    timings: dict[str, float]
    dropped: int = 0
    invalid_markers: list[str] = field(default_factory=list)
    mode: str = "written"
    neutrality_fixes: dict[str, int] = field(default_factory=dict)
    period: Period | None = None
    """The publication window searched, when the question's wording or ``as_of`` set one."""
    short_answer: AnswerSpan | None = None
    """The words of a cited sentence that are the answer ("1978"), when the answer adds one."""
    signals: dict[str, float] | None = None
    """What the learned abstention gate reads (:func:`service.generation.confidence.signals`), for
    an answer the path gave (also when the gate then withdrew it)."""
    confidence: float | None = None
    """The gate's probability that the answer is right, when a fitted gate is in force."""
    standalone: Standalone | None = None
    """A follow-up's rewrite: the question that was retrieved for and answered."""


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 1)


@dataclass(slots=True)
class Prepared:
    params: AskParams
    tpl: PromptTemplate
    candidates: list[SentenceHit]
    """Retrieved sentences, best first (the nearest ones are what an abstention lists)."""
    best_dense: float
    pairs: list[ContestedPair]
    timings: dict[str, float]
    selection: Selection | None = None
    writer: Evidence | None = None
    messages: list[ChatMessage] = field(default_factory=list)
    period: Period | None = None

    def ranked(self) -> list[SentenceHit]:
        """The shown sentences, best first: by the model's selection when it scored them."""
        sel = self.selection
        if sel is not None:
            return [sel.candidates.hits[i] for i in sel.order]
        shown = self.writer.hits if self.writer is not None else ()
        return sorted(shown, key=lambda h: -h.score)


def prepare(services: Services, params: AskParams) -> Prepared:
    """Retrieve and find contested pairs among the candidates. No model call."""
    t0 = time.perf_counter()
    tpl = load_prompt("answer", params.prompt_version or services.settings.answer_prompt_version)
    k = max(params.top_k * 2, 12, CANDIDATES)
    filters, period = as_of_filters(params.filters, params.question, params.as_of, int(time.time()))
    result = services.retriever.search(params.question, k=k, filters=filters)
    best = result.best_dense
    floor = services.settings.relevance_floor
    near = [h for h in result.sentences if h.dense is None or h.dense >= max(floor * 0.75, best - 0.35)]
    pool = near[: CANDIDATES if tpl.select else params.top_k]
    if pool and tpl.select:  # evidence-first prompts see the second hop too
        pool = services.retriever.second_hop(params.question, near, k=CANDIDATES, filters=filters,
                                             min_dense=floor * 0.75)
    vectors = sentence_vectors(services.catalog, services.retriever.sentences, services.embedder, pool)
    pairs = find_contested_pairs(pool, vectors) if pool else []
    timings = {"retrieve_ms": _ms(t0)}
    return Prepared(params, tpl, result.sentences, best, pairs, timings, writer=Evidence(tuple(pool)), period=period)


def below_floor(services: Services, prep: Prepared) -> bool:
    return not prep.writer or not prep.writer.hits or prep.best_dense < services.settings.relevance_floor


def choose(services: Services, backend: ChatBackend, prep: Prepared) -> None:
    """Select the evidence the writer sees and render the writing prompt."""
    t0 = time.perf_counter()
    assert prep.writer is not None
    question = " ".join(prep.params.question.split())
    values = {"question": question, **_extra_values(prep.tpl)}
    if prep.tpl.select is not None:
        sel = prep.selection = select(backend, prep.tpl, prep.writer, question=question, log=services.call_log,
                                      render=_extra_values(prep.tpl))
        disputed = [h for p in _contested_near_top(sel, prep.pairs) for h in (p.claim, p.counter)]
        chosen = complete_pairs(list({h.id: h for h in [*sel.hits, *disputed]}.values()), prep.pairs)
        if sel.model is not None:
            # The model scored every candidate: it writes over all of them (the scoring prompt, whose
            # KV cache it re-uses), its reply beginning with the chosen markers.
            markers = {h.id: prep.writer.marker(i) for i, h in enumerate(prep.writer.hits)}
            said = " and ".join(f"[{markers[h.id]}]" for h in sorted(chosen, key=lambda h: markers[h.id]))
            prep.messages = [*selection_messages(prep.tpl, prep.writer, question, _extra_values(prep.tpl)),
                             ChatMessage("assistant", prep.tpl.select.answer_prefill.format(markers=said))]
            prep.timings["select_ms"] = _ms(t0)
            return
    else:  # prompts from before evidence-first: the top sentences, as retrieved
        chosen = list(select_evidence(list(prep.writer.hits), max_sentences=prep.params.top_k).hits)
    prep.writer = Evidence(tuple(complete_pairs(chosen, prep.pairs)))
    prep.messages = render_messages(prep.tpl, prep.writer, values)
    prep.timings["select_ms"] = _ms(t0)


BRIDGE_WORDS = 1
"""An answer that addresses the question by itself still cites a bridge (a shown sentence that
names the article it cites) when the bridge holds at least this many question words its own
sentences do not: the link of a multi-hop chain ("Koeman replaced Mauricio Pochettino" beside
"Pochettino (born 2 March 1972)").  HotpotQA dev on cached calls: citation recall 0.299 -> 0.376,
precision 0.799 -> 0.769; any bridge at all: precision 0.735."""

CONTESTED_TOP = 3
"""A contested claim (or its denial) among the best :data:`CONTESTED_TOP` candidates brings both
sides into the answer's evidence: a question that touches a disputed claim gets the dispute."""


def _contested_near_top(sel: Selection, pairs: Sequence[ContestedPair]) -> list[ContestedPair]:
    top = {sel.candidates.hits[i].id for i in sel.order[:CONTESTED_TOP]}
    return [p for p in pairs if p.claim.id in top or p.counter.id in top]


def _extra_values(tpl: PromptTemplate) -> dict[str, str]:
    """Variables of released prompt versions that newer ones dropped (v1/v2 render today's date)."""
    return {"today": datetime.now(UTC).date().isoformat()} if "today" in tpl.variables else {}


def _stand_alone(services: Services, backend: ChatBackend, params: AskParams) -> tuple[AskParams, Standalone | None]:
    """A follow-up (``params.history``) rewritten to stand alone; the params to answer it with."""
    if not params.history:
        return params, None
    followup = standalone(backend, params.history, params.question, log=services.call_log)
    return replace(params, question=followup.question), followup


def _with(res: AnswerResult, followup: Standalone | None) -> AnswerResult:
    if followup is not None:
        res.standalone = followup
        res.timings["rewrite_ms"] = followup.elapsed_ms
    return res


def answer(services: Services, params: AskParams) -> AnswerResult:
    t0 = time.perf_counter()
    backend = services.backend(params.model)  # an unknown model is an error even when we abstain
    params, followup = _stand_alone(services, backend, params)
    prep = prepare(services, params)
    if below_floor(services, prep):
        return _with(_abstain(services, prep, _nothing_relevant(services, prep), t0), followup)
    choose(services, backend, prep)
    t1 = time.perf_counter()
    completion = call_model(backend, prep.messages, log=services.call_log, prompt_name=prep.tpl.name,
                            prompt_version=prep.tpl.version, retrieved_ids=_ids(prep),
                            temperature=prep.tpl.temperature, max_tokens=prep.tpl.max_tokens)
    prep.timings["generate_ms"] = _ms(t1)
    return _with(finish(services, prep, completion, t0), followup)


def answer_stream(services: Services, params: AskParams) -> Iterator[str | AnswerResult]:
    """Yield text deltas as the model writes, then the verified :class:`AnswerResult`."""
    t0 = time.perf_counter()
    backend = services.backend(params.model)
    params, followup = _stand_alone(services, backend, params)
    prep = prepare(services, params)
    if below_floor(services, prep):
        yield _with(_abstain(services, prep, _nothing_relevant(services, prep), t0), followup)
        return
    choose(services, backend, prep)
    t1 = time.perf_counter()
    handle = stream_model(backend, prep.messages, log=services.call_log, prompt_name=prep.tpl.name,
                          prompt_version=prep.tpl.version, retrieved_ids=_ids(prep),
                          temperature=prep.tpl.temperature, max_tokens=prep.tpl.max_tokens)
    first = True
    with handle:
        for delta in handle:
            if first:
                prep.timings["first_token_ms"] = _ms(t0)
                first = False
            yield delta
        completion = handle.completion
    prep.timings["generate_ms"] = _ms(t1)
    yield _with(finish(services, prep, completion, t0), followup)


EMPTY_DESK = "no articles are indexed yet"
"""The abstain reason on a desk with nothing in it (not "nothing relevant")."""


def _nothing_relevant(services: Services, prep: Prepared) -> str:
    if services.catalog.stats()["articles"] == 0:
        return EMPTY_DESK
    p = prep.period
    if p is None or p.since is None:
        return "no indexed sentence is relevant enough to the question"
    return (f"no indexed sentence published from {p.first_day} to {p.last_day} (the period the question "
            "asks about) is relevant enough to it")


def _ids(prep: Prepared) -> list[str]:
    return prep.writer.ids if prep.writer is not None else []


def finish(services: Services, prep: Prepared, completion: Completion, t0: float) -> AnswerResult:
    """Verify the written answer; fall back to a quote, or abstain."""
    t2 = time.perf_counter()
    assert prep.writer is not None
    question = " ".join(prep.params.question.split())
    gen = verify_completion(services, prep.writer, completion, question=question,
                            keep_flagged=prep.params.flag_unsupported)
    usage = {"prompt_tokens": completion.usage.prompt_tokens, "completion_tokens": completion.usage.completion_tokens}

    def on_topic(sentences: list[VerifiedSentence]) -> tuple[bool, tuple[SentenceHit, str] | None]:
        """Whether the cited sentences address the question -- its words, and what it asks of
        the names it gives (:func:`shares_relation`) -- and the bridge that makes them do (or,
        when they do by themselves, that adds :data:`BRIDGE_WORDS` of the question's words): a
        shown sentence that addresses it and names what one of them is about (multi-hop: "Patti
        Page popularized the song" links the question to "Patti Page (born November 8, 1927)"),
        with the id of the sentence it links."""
        by_id = {h.id: h for v in sentences for h in v.citations}
        cited = list(by_id.values())
        texts = [t for h in cited for t in (h.text, h.title or "")]
        if (enabled("how_many_amount") and question_type(question) is QuestionType.NUMBER
                and not any(states_amount(h.text) for h in cited)):
            return False, None  # "how much" answered with no amount (a year is none)
        need = words_needed(question, ON_TOPIC_WORDS)
        covered = question_words(question, texts)
        relation = enabled("relation")
        direct = len(covered) >= need and (not relation or shares_relation(question, texts))
        if direct and not enabled("chain_link"):
            return True, None  # on topic by itself: no bridge is looked for
        shown = prep.writer.hits if prep.writer is not None else ()
        for b in shown:
            linking = [b.text, b.title or ""]
            shared = question_words(question, linking)
            if b.id in by_id or len(shared) < need:
                continue
            if direct and len(shared - covered) < BRIDGE_WORDS:
                continue
            if relation and not direct and not shares_relation(question, [*texts, *linking]):
                continue
            for h in cited:
                if h.title and b.article_id != h.article_id and leads_to(b.text, h.title):
                    return True, (b, h.id)
        return direct, None

    sides = compared(question) if enabled("compare_sides") else None
    ranked = prep.ranked()
    side_of: dict[str, str] = {}  # quoted side sentence id -> the side it speaks of

    def other_sides(answer: list[VerifiedSentence]) -> list[VerifiedSentence]:
        """A comparison's sides the answer does not speak of, each quoted from its best shown
        sentence (:mod:`service.generation.compare`); none unless every side is found."""
        if sides is None:
            return []
        extra = side_sentences(question, sides, ranked, [h for v in answer for h in v.citations]) or []
        side_of.update((h.id, side) for side, h in extra)
        return restate([h for _, h in extra], services.checker)

    def give_up(reason: str) -> AnswerResult:
        res = _abstain(services, prep, reason, t0, model=completion.model, backend=completion.backend, usage=usage)
        res.dropped = len(gen.draft.sentences)
        res.invalid_markers = gen.draft.invalid_markers
        if prep.params.flag_unsupported:
            res.sentences = [(v, []) for v in gen.verified]
        return res

    mode = "written"
    kept = [v for v in gen.verified if not v.flagged]
    sel = prep.selection
    thin = bool(enabled("write_at") and kept and sel is not None and sel.model and max(sel.model) < WRITE_AT
                and not (enabled("write_at_contested") and _cites_a_side(prep, kept)))
    if thin:
        kept = []  # the model's vote named no sentence: the draft stands alone; a quote may still answer
    relevant, bridge = on_topic(kept) if kept else (False, None)
    if not relevant:
        kept = []  # verified, but about something else: a quote may still answer
    added = other_sides(kept) if kept else []
    if kept:
        kept, fixes = enforce(kept, prep.pairs, services.checker)
    else:
        quoted = quote_fallback(services, prep, gen)
        added = other_sides(quoted)
        quoted += added
        relevant, bridge = on_topic(quoted) if quoted else (False, None)
        if relevant and not added and enabled("relation"):  # a quote (or its bridge) shares what is asked
            said = [h.text for v in quoted for h in v.citations] + ([bridge[0].text] if bridge else [])
            relevant = shares_relation(question, said, QUOTE_RELATION_MIN)
        if not relevant:
            off_topic = bool(quoted) or any(not v.flagged for v in gen.verified)
            reason = ("the model said the sources do not answer the question" if gen.draft.abstained
                      else "the model's vote found no sentence that answers, and none states the answer it wrote"
                      if thin and not quoted and enabled("thin_vote_reason")
                      else "the sentences that verified are about something else than the question" if off_topic
                      else "no sentence of the draft answer was supported by the cited sources")
            return give_up(reason)
        mode = "quoted"
        kept, fixes = enforce(quoted, prep.pairs, services.checker)
    # the answer's own words for what it adds to the question, found in a sentence it cites
    claims = [v.text for v in kept] if mode == "written" else [s.text for s in gen.draft.sentences]
    cited = list({h.id: h for v in kept for h in v.citations}.values())
    # a comparison given side by side names both sides: it has no one short answer
    span = None if sides and added else locate_answer(question, claims, cited)
    if added and mode == "written":
        kept += added
    if bridge is not None:  # the sentence that links the answer to the question is cited too
        b, linked = bridge
        kept = [_cite_also(v, b) if any(h.id == linked for h in v.citations) else v for v in kept]
    if sides is None and kept:  # the rest of the chain the answer hangs on: the rest of an entry, the next hop
        chain = links(question, ranked, [h for v in kept for h in v.citations])
        kept[0] = _cite_also(kept[0], *chain)
    kept = [frame_quote(v, side_of.get(v.citations[0].id) if v.citations else None)
            if mode == "quoted" or v in added else v for v in kept]
    sig = _signals(question, prep, kept, mode, gen.draft.abstained, span is not None)
    gate = load_gate(services.settings.abstain_params or PARAMS_PATH) if services.settings.abstain_gate else None
    confidence = None
    if gate is not None:
        withdrawn, confidence = gate.withdraws(sig)
        if withdrawn:
            res = give_up(f"the answer's signals give it a {confidence:.0%} chance of being right, below the "
                          f"learned threshold of {gate.threshold:.0%}")
            res.signals, res.confidence = sig, confidence
            return res
    shown = kept + ([v for v in gen.verified if v.flagged] if prep.params.flag_unsupported else [])
    numbered, citations, text = number_citations(services, shown)
    prep.timings["verify_ms"] = _ms(t2)
    prep.timings["total_ms"] = _ms(t0)
    return AnswerResult(text, numbered, citations, False, None, _evidence(services, prep), completion.model,
                        completion.backend, prep.tpl.ref, usage, prep.timings,
                        dropped=len(gen.draft.sentences) - len([v for v in gen.verified if not v.flagged]),
                        invalid_markers=gen.draft.invalid_markers, mode=mode,
                        neutrality_fixes={k: v for k, v in fixes.items() if v}, period=prep.period,
                        short_answer=span, signals=sig, confidence=confidence)


def _signals(question: str, prep: Prepared, kept: Sequence[VerifiedSentence], mode: str, draft_abstained: bool,
             has_short: bool) -> dict[str, float]:
    """The learned gate's inputs for an answer that cites ``kept``."""
    sel = prep.selection
    cited = {h.id for v in kept for h in v.citations}
    votes = sel.model if sel is not None else None
    cited_votes = [p for h, p in zip(sel.candidates.hits, votes, strict=True) if h.id in cited] if sel and votes else []
    return signals(none=sel.none if sel is not None else None, votes=votes, cited_votes=cited_votes,
                   dense_top=prep.best_dense, supports=[v.support for v in kept], mode=mode,
                   qtype=question_type(question), n_cited=len(cited), draft_abstained=draft_abstained,
                   has_short=has_short)


def _cites_a_side(prep: Prepared, kept: Sequence[VerifiedSentence]) -> bool:
    """Whether ``kept`` cites a side of a contested claim: the model's vote is split between the
    claim and its denial by nature ("Did Russia retake Kursk?" gave 0.19, 0.18, 0.16 ...), so a
    thin vote says little about such an answer.  No eval suite asks a contested question, so the
    audit could not see this (it moved no case); the seed's README question needs it."""
    disputed = {h.id for p in prep.pairs for h in (p.claim, p.counter)}
    return any(h.id in disputed for v in kept for h in v.citations)


def _cite_also(v: VerifiedSentence, *hits: SentenceHit) -> VerifiedSentence:
    """``v`` with ``hits`` cited after its own citations (links of the chain it hangs on)."""
    return replace(v, citations=[*v.citations, *hits]) if hits else v


def _evidence(services: Services, prep: Prepared, limit: int | None = None) -> list[Citation]:
    sel = prep.selection
    if sel is not None:
        hits = list(sel.candidates.hits)
        probs: Sequence[float | None] = sel.model if sel.model is not None else [None] * len(hits)
        hits, probs = [hits[i] for i in sel.order], [probs[i] for i in sel.order]
    else:
        hits, probs = list(prep.candidates), [None] * len(prep.candidates)
    if limit is not None:
        hits, probs = hits[:limit], probs[:limit]
    return quote_records(services, hits, probs)


def _abstain(services: Services, prep: Prepared, reason: str, t0: float, *, model: str | None = None,
             backend: str | None = None, usage: dict[str, int | None] | None = None) -> AnswerResult:
    prep.timings["total_ms"] = _ms(t0)
    return AnswerResult(
        ABSTAIN_TEXT, [], [], True, reason, _evidence(services, prep, limit=5), model or "none", backend or "none",
        prep.tpl.ref, usage or {"prompt_tokens": 0, "completion_tokens": 0}, prep.timings, mode="abstained",
        period=prep.period,
    )
