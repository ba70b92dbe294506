"""Request and response models at the HTTP boundary (requests forbid unknown fields)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from service.ingest.article import ArticleInput

__all__ = ["ArticleInput"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FieldProblem(BaseModel):
    field: str
    message: str


class IngestItemResult(BaseModel):
    index: int
    id: str | None
    status: Literal["created", "updated", "unchanged", "failed"]
    sentences: int = 0
    chunks: int = 0
    boilerplate: int = 0
    errors: list[FieldProblem] = []
    copies: list[str] = Field(default_factory=list,
                              description="Stored articles this one is a near-duplicate of (wire copy).")


class IngestResponse(BaseModel):
    results: list[IngestItemResult]
    created: int
    updated: int
    unchanged: int
    failed: int


class SentenceOut(BaseModel):
    id: str
    index: int
    text: str
    start: int
    end: int


class BoilerplateOut(SentenceOut):
    reason: str


class ArticleSummaryOut(BaseModel):
    id: str
    title: str
    url: str | None
    source: str
    published_at: str | None
    sentence_count: int
    chunk_count: int
    updated_at: str


class NearDuplicateOut(BaseModel):
    id: str
    source: str
    title: str
    published_at: str | None
    containment: float = Field(description="Shared 5-word shingles over the shorter text's.")


class ArticleMatchOut(ArticleSummaryOut):
    match: SentenceOut | None = Field(default=None, description="With q: the article's best matching sentence.")


class ArticleOut(ArticleSummaryOut):
    text: str
    content_hash: str
    ingested_at: str
    sentences: list[SentenceOut]
    boilerplate: list[BoilerplateOut] = Field(
        description="Sentences kept in the stored text but never indexed or cited, with the reason."
    )
    copies: list[NearDuplicateOut] = Field(
        default_factory=list, description="Near-duplicates (wire copy reprinted elsewhere), earliest first."
    )


class ArticlePage(BaseModel):
    items: list[ArticleMatchOut]
    total: int
    limit: int
    offset: int


class SentenceHitOut(BaseModel):
    id: str
    article_id: str
    index: int
    text: str
    start: int
    end: int
    title: str
    url: str | None
    source: str
    published_at: str | None
    score: float
    dense: float | None
    lexical: float | None


class ChunkHitOut(BaseModel):
    id: str
    article_id: str
    text: str
    sentence_ids: list[str]
    score: float


class SearchResponse(BaseModel):
    query: str
    sentences: list[SentenceHitOut]
    chunks: list[ChunkHitOut]


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[FieldProblem] = []


class FiltersIn(Strict):
    article_ids: list[str] = Field(default_factory=list, max_length=500)
    sources: list[str] = Field(default_factory=list, max_length=100)
    since: str | None = Field(default=None, description="ISO date or datetime, inclusive.")
    until: str | None = Field(default=None, description="ISO date or datetime; a date covers the whole day.")


class TurnIn(Strict):
    role: Literal["user", "assistant"]
    content: str = Field(min_length=1, max_length=20000)


QUESTION_CHARS = 2000
"""The longest question (``/v1/ask``, and the last user message of ``/v1/chat/completions``)."""


class AskRequest(Strict):
    question: str = Field(min_length=1, max_length=QUESTION_CHARS)
    history: list[TurnIn] = Field(
        default_factory=list, max_length=40,
        description="Earlier turns of the conversation, oldest first. The question is then a follow-up: it is "
                    "rewritten to stand alone before retrieval (see standalone_question).")
    filters: FiltersIn | None = None
    top_k: int = Field(default=8, ge=1, le=30, description="Candidate sentences shown to the model.")
    prompt_version: str | None = Field(default=None, pattern=r"^v\d+$")
    model: str | None = Field(default=None, max_length=200,
                              description="Backend[:model], e.g. 'local', 'openai:gpt-4o-mini', 'fake'.")
    stream: bool = False
    flag_unsupported: bool = Field(default=False,
                                   description="Keep unsupported sentences, flagged, instead of dropping them.")
    as_of: str | None = Field(
        default=None, max_length=40, examples=["2023-01-20"],
        description="Answer as of this ISO date or datetime: nothing published after that day is used, and "
                    "'this week', 'recently' and the like count back from it (default: now). Ignored for the "
                    "window when filters.since or filters.until is given.")


class PeriodOut(BaseModel):
    """The publication window an answer searched: the question named a period ("this week",
    "recently") or the request gave ``as_of``."""

    since: str | None = Field(description="First day searched (ISO date); null when only as_of bounds it.")
    until: str = Field(description="Last day searched (ISO date, inclusive).")
    days: int | None = Field(description="How many days back the question's wording reaches; null if it names none.")


class ShortAnswerOut(BaseModel):
    """The words of a cited sentence that are the answer, e.g. "10,000-12,000"."""

    text: str = Field(description="Exactly article.text[start:end].")
    marker: int = Field(description="The citation [n] whose sentence holds it.")
    sentence_id: str
    article_id: str
    start: int
    end: int


class CitationOut(BaseModel):
    marker: int
    sentence_id: str
    article_id: str
    title: str
    url: str | None
    source: str
    published_at: str | None
    quote: str = Field(description="Exactly article.text[start:end].")
    start: int
    end: int
    support: float | None = Field(default=None, description="Highest support score of the output sentences "
                                                            "that cite this sentence (0..1).")


class EvidenceOut(BaseModel):
    """A source sentence the answer was drawn from, or (on an abstention) the nearest one.

    Evidence is never a citation: clients must not present it as support for the answer."""

    sentence_id: str
    article_id: str
    title: str
    url: str | None
    source: str
    published_at: str | None
    quote: str = Field(description="Exactly article.text[start:end].")
    start: int
    end: int
    score: float = Field(description="Retrieval score (fused rank votes; higher is nearer).")
    selection: float | None = Field(default=None, description="The model's probability that this sentence "
                                                              "answers the question, where the backend gives one.")


class AnswerSentenceOut(BaseModel):
    text: str
    citations: list[str] = Field(description="Sentence ids.")
    markers: list[int]
    support: float
    flagged: bool = False
    reattributed: bool = False


class AskResponse(BaseModel):
    answer: str
    mode: Literal["written", "quoted", "abstained"] = Field(
        description="written: sentences the model wrote, each verified against the sentences it cites; "
                    "quoted: no written sentence verified, so the source sentence that answers is quoted, "
                    "attributed to its outlet and date; abstained: the sources do not answer (citations "
                    "is empty; the nearest sentences are under evidence).")
    sentences: list[AnswerSentenceOut]
    citations: list[CitationOut] = Field(description="What the answer's [n] markers point at; empty when abstained.")
    evidence: list[EvidenceOut] = Field(description="Sentences considered; never support for the answer.")
    abstained: bool
    abstain_reason: str | None
    model: str
    backend: str
    prompt: str
    usage: dict[str, int | None]
    timings: dict[str, float]
    dropped_sentences: int
    invalid_markers: list[str]
    neutrality_fixes: dict[str, int] = Field(
        default_factory=dict, description="What verification changed to keep the answer neutral: "
        "attribution_restored, counterclaims_added, loaded_restated, duplicates_removed.")
    short_answer: ShortAnswerOut | None = Field(
        default=None, description="The answer's key phrase (a name, number or date) as it stands in a cited "
        "sentence; null when the answer adds none, or abstained.")
    period: PeriodOut | None = Field(default=None, description="The publication window searched, if any.")
    standalone_question: str | None = Field(
        default=None, description="With history: the follow-up rewritten to stand alone, which was searched for "
                                  "and answered.")


# --- summaries and briefings (issue 4) ------------------------------------------------------


class SummaryRequest(Strict):
    article_ids: list[str] = Field(default_factory=list, max_length=500,
                                   description="Summarise these articles (or restrict a query to them).")
    query: str | None = Field(default=None, min_length=1, max_length=2000,
                              description="Summarise what the indexed articles say on this topic.")
    since: str | None = Field(default=None, description="ISO date or datetime, inclusive.")
    until: str | None = Field(default=None, description="ISO date or datetime; a date covers the whole day.")
    sources: list[str] = Field(default_factory=list, max_length=100)
    length: Literal["short", "medium", "long"] = "medium"
    style: Literal["paragraph", "bullets"] = "paragraph"
    prompt_version: str | None = Field(default=None, pattern=r"^v\d+$")
    model: str | None = Field(default=None, max_length=200,
                              description="Backend[:model], e.g. 'local', 'openai:gpt-4o-mini', 'fake'.")


class SummarySentenceOut(BaseModel):
    text: str
    citations: list[str] = Field(description="Sentence ids.")
    markers: list[int]
    support: float


class PairCoverageOut(BaseModel):
    claim_id: str
    counter_id: str
    claim: str
    counter: str
    claim_present: bool
    counter_present: bool
    both: bool


class NeutralityOut(BaseModel):
    words: int
    loaded_introduced: list[str] = Field(description="Subjective words (TextBlob lexicon) not in the cited sources.")
    loaded_rate: float
    attributed_in_sources: int = Field(description="Output sentences whose main source attributes the claim.")
    attribution_kept: int
    attribution_rate: float | None
    contested: list[PairCoverageOut]
    contested_touched: int
    contested_complete: int
    contested_coverage: float | None
    fixes: dict[str, int] = Field(description="What the pipeline changed to enforce neutrality.")


class SummaryResponse(BaseModel):
    summary: str
    sentences: list[SummarySentenceOut]
    citations: list[CitationOut]
    neutrality: NeutralityOut
    model: str
    backend: str
    prompt: str
    usage: dict[str, int | None]
    timings: dict[str, float]
    articles: list[str]
    calls: int
    dropped_sentences: int
    extractive_fallback: bool = Field(description="True when no generated sentence verified and the most "
                                                  "central source sentences are quoted instead.")


class BriefingRequest(Strict):
    date: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$")
    timezone: str | None = Field(default=None, max_length=64, description="IANA name; default settings'.")
    sources: list[str] = Field(default_factory=list, max_length=100)
    model: str | None = Field(default=None, max_length=200)
    prompt_version: str | None = Field(default=None, pattern=r"^v\d+$")


class KeyPointOut(BaseModel):
    text: str
    markers: list[int]
    sentence_ids: list[str]
    support: float


class PerspectiveOut(BaseModel):
    source: str
    emphasis: KeyPointOut


class SourceCountOut(BaseModel):
    source: str
    articles: int
    sentences: int


class CopyOut(BaseModel):
    article_id: str
    copy_of: str = Field(description="The earliest stored copy of the same (wire) text.")


class StoryOut(BaseModel):
    id: str
    headline: str
    headline_from: str
    headline_rejected: str | None = Field(
        default=None, description="The model's headline and why it was replaced by an extract (headline_from 'title' "
                                  "or 'key_point'): a name, number or date its sources do not give, a contested "
                                  "claim without attribution, a loaded word of our own, or its length.")
    key_points: list[KeyPointOut]
    perspectives: list[PerspectiveOut]
    sources: list[SourceCountOut]
    article_ids: list[str]
    contested: int
    status: str | None = Field(default=None, description="new | continuing, against the previous briefing.")
    copies: list[CopyOut] = Field(default_factory=list,
                                  description="Articles that reprint another's text; counted as that outlet.")


class SingleReportOut(BaseModel):
    article_id: str
    title: str
    source: str
    url: str | None


class DevelopmentOut(BaseModel):
    story_id: str
    previous_headline: str
    key_points: list[int] = Field(description="Indexes into the story's key_points that are new.")


class ChangesOut(BaseModel):
    previous_date: str | None
    new_stories: list[str]
    developments: list[DevelopmentOut]


class BriefingOut(BaseModel):
    date: str
    timezone: str
    sources: list[str]
    generated_at: str
    model: str
    backend: str
    prompt: str
    inputs_hash: str
    articles: int
    stories: list[StoryOut]
    single_reports: list[SingleReportOut]
    changes: ChangesOut
    citations: list[CitationOut]
    neutrality: NeutralityOut
    usage: dict[str, int | None]
    timings: dict[str, float]


class BriefingStatusOut(BaseModel):
    date: str
    timezone: str
    state: Literal["ready", "building", "failed", "missing"] = Field(
        description="ready: stored (GET /v1/briefings/{day}); building: a build is under way; failed: the last "
                    "build failed (see error); missing: none stored and none under way (POST /v1/briefings).")
    articles: int = Field(description="Articles published on the day, in the timezone.")
    started_at: float | None = Field(default=None, description="Epoch seconds the build was claimed.")
    finished_at: float | None = None
    error: str | None = None
