"""Daily briefings: the day's articles -> stories -> cited key points, perspectives, sources,
and what changed since the previous briefing.

1. Articles published on the day (in the briefing's timezone, optionally from some sources).
2. Stories: :mod:`service.generation.clustering`; a cluster needs ``briefing_min_sources``
   distinct outlets to be a story (smaller ones are listed as single reports); stories are
   ordered by distinct sources, then articles, and capped at ``briefing_max_stories``.
3. Per story: near-duplicate sentences across outlets are merged; the most central, diverse
   ones (with both sides of any contested pair) go to the model in one small call that writes
   a headline and 2-5 key points.  Points are verified and neutrality is enforced exactly as
   for summaries; a story left with fewer than two points gets its most central sentences quoted.
4. Perspectives (no model): for each outlet, the sentence that sets it apart -- close to the
   outlet's own coverage, far from the other outlets' -- quoted and cited.
5. Changes: stories are matched to the previous stored briefing by centroid similarity; a
   continuing story's new developments are key points whose sentences were not in it.

Temperature 0 and sorted inputs make a re-run with the same articles, prompt and model return
the same briefing; ``inputs_hash`` identifies those inputs.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

from service.errors import InvalidInput, NotFound
from service.generation.clustering import ArticleDoc, article_docs, cluster
from service.generation.core import citation_record, number_citations
from service.generation.evidence import Evidence, sanitize
from service.generation.selection import (
    Weights,
    article_hits,
    reading_order,
    sentence_vectors,
)
from service.generation.summarize import (
    Pool,
    add_usage,
    distinct_pool,
    generate_verified,
    input_budget,
    select,
    strip_bullets,
)
from service.llm.base import Completion
from service.logs.calls import call_model
from service.prompts import PromptTemplate, load_prompt
from service.retrieval.search import SentenceHit
from service.runtime import Services
from service.store.briefings import Briefings, scope_key
from service.store.catalog import Filters
from service.store.engine import open_briefings
from service.verify.citations import VerifiedSentence
from service.verify.headline import headline_problem
from service.verify.neutrality import (
    complete_pairs,
    enforce,
    loaded_words,
    report,
    restate,
)
from service.verify.text import analyze

STORY_TOKENS = 600
"""Source tokens per story call: small, so a briefing stays fast on the local model."""
MAX_ARTICLES = 1000
CONTINUING_AT = 0.65
"""Story centroid cosine from which a story continues one of the previous briefing."""
REPEATED_POINT_AT = 0.85
MIN_POINTS, MAX_POINTS = 2, 5
AGREE_AT = 0.75
"""Outlets whose emphasis sentences are all this similar do not get a perspectives list."""
HEADLINE_WORDS = 16
_HEADLINE = re.compile(r"^[ \t*#]*headline[ \t*]*:[ \t]*(?P<text>.*)$", re.IGNORECASE | re.MULTILINE)
_MARKERS = re.compile(r"\[\s*S?\s*\d+(?:\s*[,;]\s*S?\s*\d+)*\s*\]", re.IGNORECASE)


@dataclass(slots=True)
class BriefingParams:
    day: date
    timezone: str = "UTC"
    sources: tuple[str, ...] = ()
    model: str | None = None
    prompt_version: str | None = None

    @property
    def scope(self) -> str:
        return scope_key(self.timezone, self.sources)


@dataclass(slots=True)
class StoryDraft:
    docs: list[ArticleDoc]
    pool: Pool
    sentence_counts: Counter[str]
    centroid: np.ndarray
    headline: str = ""
    headline_from: str = "model"
    headline_rejected: str | None = None
    """The model's headline and why it was replaced (:func:`service.verify.headline.headline_problem`)."""
    points: list[VerifiedSentence] = field(default_factory=list)
    perspectives: list[tuple[str, VerifiedSentence]] = field(default_factory=list)
    fixes: dict[str, int] = field(default_factory=dict)
    completion: Completion | None = None


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 1)


def briefing_store(services: Services) -> Briefings:
    """This node's briefings, or every node's with NEWSDESK_DATABASE_URL (shared: not closed here)."""
    return open_briefings(services.settings)


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInput.for_field("timezone", f"unknown IANA timezone {name!r}") from exc


def parse_day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise InvalidInput.for_field("date", f"not a valid YYYY-MM-DD date: {value!r}") from exc


def day_window(day: date, timezone: str) -> tuple[int, int]:
    """[start, end) of ``day`` in ``timezone``, as epoch seconds."""
    start = datetime(day.year, day.month, day.day, tzinfo=zone(timezone))
    return int(start.timestamp()), int((start + timedelta(days=1)).timestamp())


# --------------------------------------------------------------------------------------------
# Stories
# --------------------------------------------------------------------------------------------


def _unit(v: np.ndarray) -> np.ndarray:
    return v / max(float(np.linalg.norm(v)), 1e-12)


def story_draft(docs: list[ArticleDoc], hits: Sequence[SentenceHit], vectors: np.ndarray) -> StoryDraft:
    """The story's input: its sentences with cross-outlet near-duplicates merged."""
    rows = [r for d in docs for r in d.rows]
    story_hits = [hits[r] for r in rows]
    centroid = _unit(np.vstack([d.centroid for d in docs]).mean(axis=0))
    pool = distinct_pool(story_hits, vectors[rows])
    return StoryDraft(docs, pool, Counter(h.source for h in story_hits), centroid)


def outlets(docs: Sequence[ArticleDoc], origins: dict[str, tuple[str, str]] | None = None) -> int:
    """Distinct outlets; a wire copy counts as the outlet of its earliest copy (issue 12)."""
    origins = origins or {}
    return len({origins.get(d.article_id, (d.article_id, d.source))[1] for d in docs})


def coverage_key(docs: Sequence[ArticleDoc],
                 origins: dict[str, tuple[str, str]] | None = None) -> tuple[int, int, float, str]:
    earliest = min((d.published for d in docs if d.published is not None), default=0.0)
    return (-outlets(docs, origins), -len(docs), earliest, docs[0].article_id)


def parse_headline(text: str) -> str:
    match = _HEADLINE.search(text)
    if match is None:
        return ""
    return " ".join(_MARKERS.sub(" ", match.group("text")).strip(" *\"'").split())


def drop_headline(text: str) -> str:
    return strip_bullets(_HEADLINE.sub("", text))


def set_headline(services: Services, story: StoryDraft, headline: str) -> None:
    """The model's headline if it passes the checks of :mod:`service.verify.headline`, else the
    neutral extract, with the reason kept."""
    sources: dict[str, list[str]] = {}
    for source, text in [(h.source, h.text) for h in story.pool.hits] + [(d.source, d.title) for d in story.docs]:
        sources.setdefault(source, []).append(text)
    cited = list({h.id: h for v in story.points for h in v.citations}.values())
    problem = headline_problem(headline, cited, story.pool.pairs, sources, services.checker,
                               max_words=HEADLINE_WORDS)
    if problem is None:
        story.headline, story.headline_from, story.headline_rejected = headline, "model", None
    else:
        rejected = f"“{headline}”: {problem}" if headline else problem
        (story.headline, story.headline_from), story.headline_rejected = fallback_headline(story), rejected


TITLE_COVERS = 0.5
"""An outlet title stands in for a refused headline only when at least this share of its content
words is in the story's key points: a title about the story, not an opinion page's slogan ("When
Wokeness Becomes Weakness" shares none)."""


def fallback_headline(story: StoryDraft) -> tuple[str, str]:
    """The outlet title without loaded words that the key points cover best (at least
    :data:`TITLE_COVERS`; the most central on ties), else the first key point."""
    said = {w for v in story.points for w in analyze(v.text).content}

    def covered(title: str) -> float:
        words = set(analyze(title).content)
        return len(words & said) / len(words) if words else 0.0

    central = sorted(story.docs, key=lambda d: -float(d.centroid @ story.centroid))
    titles = [(covered(d.title), d.title) for d in central
              if d.title and not loaded_words(d.title) and len(d.title.split()) <= HEADLINE_WORDS]
    best = max(titles, key=lambda t: t[0], default=None)  # max keeps the first (most central) of ties
    if best is not None and best[0] >= TITLE_COVERS:
        return best[1], "title"
    return (story.points[0].text if story.points else central[0].title), "key_point"


def write_story(services: Services, story: StoryDraft, tpl: PromptTemplate, model: str | None) -> None:
    """One model call: headline and key points, verified, neutralised, padded to two points."""
    budget = min(STORY_TOKENS, input_budget(services, tpl, tpl.max_tokens))
    groups = select(story.pool, budget_tokens=budget, calls=1, weights=Weights(centrality=0.6, lead=0.4))
    picked = groups[0] if groups else []
    chosen = [story.pool.hits[i] for i in reading_order(story.pool.hits, picked)]
    evidence = Evidence(tuple(complete_pairs(chosen, story.pool.pairs)))
    gen = generate_verified(services, evidence, tpl, model=model, max_tokens=tpl.max_tokens, values={},
                            clean=drop_headline)
    story.completion = gen.completion
    points, story.fixes = enforce(gen.verified[: MAX_POINTS - 1], story.pool.pairs, services.checker)
    if len(points) < MIN_POINTS:
        cited = {h.id for v in points for h in v.citations}
        extra = [story.pool.hits[i] for i in picked if story.pool.hits[i].id not in cited]
        points += restate(extra[: MIN_POINTS - len(points)], services.checker)
    story.points = points[:MAX_POINTS]
    set_headline(services, story, parse_headline(gen.completion.text))


EXTRACT_TOKENS = 260
"""Source tokens of one story's extracted key points (about four sentences)."""
_NUMBERED_LINE = re.compile(r"^[ \t*]*(?P<n>\d{1,2})[.):][ \t]*(?P<text>\S.*)$", re.MULTILINE)


def extract_story(services: Services, story: StoryDraft) -> None:
    """Key points without the model: the story's most central, diverse sentences (both sides of
    any contested pair among them), quoted -- each cites itself, so each is supported and adds no
    words of ours."""
    groups = select(story.pool, budget_tokens=EXTRACT_TOKENS, calls=1, weights=Weights(centrality=0.6, lead=0.4))
    picked = groups[0] if groups else []
    chosen = [story.pool.hits[i] for i in reading_order(story.pool.hits, picked[: MAX_POINTS - 1])]
    points, story.fixes = enforce(restate(chosen, services.checker), story.pool.pairs, services.checker)
    story.points = points[:MAX_POINTS]


def render_stories(stories: Sequence[StoryDraft]) -> str:
    lines: list[str] = []
    for n, story in enumerate(stories, 1):
        lines.append(f"Story {n}:")
        lines.extend(f"- {sanitize(v.text)}" for v in story.points)
    return "\n".join(lines)


def write_headlines(services: Services, stories: Sequence[StoryDraft], tpl: PromptTemplate,
                    model: str | None) -> Completion | None:
    """One model call names every story; a headline that fails its checks (missing, too long,
    unsupported, unattributed or loaded) falls back to :func:`fallback_headline`."""
    if not stories:
        return None
    messages = tpl.render(stories=render_stories(stories))
    ids = [h.id for s in stories for v in s.points for h in v.citations]
    completion = call_model(services.backend(model), messages, log=services.call_log, prompt_name=tpl.name,
                            prompt_version=tpl.version, retrieved_ids=ids, temperature=tpl.temperature,
                            max_tokens=tpl.max_tokens)
    written = {int(m.group("n")): " ".join(_MARKERS.sub(" ", m.group("text")).strip(" *\"'").split())
               for m in _NUMBERED_LINE.finditer(completion.text)}
    for n, story in enumerate(stories, 1):
        set_headline(services, story, written.get(n, ""))
    return completion


def perspectives(services: Services, story: StoryDraft, hits: Sequence[SentenceHit],
                 vectors: np.ndarray) -> list[tuple[str, VerifiedSentence]]:
    """Per outlet, its most distinctive central sentence -- when the outlets' emphases differ."""
    by_source: dict[str, list[int]] = {}
    for d in story.docs:
        by_source.setdefault(d.source, []).extend(d.rows)
    if len(by_source) < 2:
        return []
    picks: list[tuple[str, int]] = []
    for source in sorted(by_source):
        own = _unit(vectors[by_source[source]].mean(axis=0))
        other_rows = [r for s, rows in by_source.items() if s != source for r in rows]
        others = _unit(vectors[other_rows].mean(axis=0))
        rows = by_source[source]
        score = vectors[rows] @ own - vectors[rows] @ others + 0.5 * (vectors[rows] @ story.centroid)
        picks.append((source, rows[int(np.argmax(score))]))
    chosen = np.vstack([vectors[r] for _, r in picks])
    sims = chosen @ chosen.T
    contested = any(p.claim.source != p.counter.source for p in story.pool.pairs)
    if not contested and float(sims[np.triu_indices(len(picks), 1)].min()) >= AGREE_AT:
        return []
    quoted = restate([hits[r] for _, r in picks], services.checker)
    return [(source, q) for (source, _), q in zip(picks, quoted, strict=True)]


# --------------------------------------------------------------------------------------------
# Payload
# --------------------------------------------------------------------------------------------


def _point(v: VerifiedSentence, markers: list[int]) -> dict[str, Any]:
    return {"text": v.text, "markers": markers, "sentence_ids": [h.id for h in v.citations], "support": v.support}


def story_record(n: int, story: StoryDraft, markers: dict[int, list[int]]) -> dict[str, Any]:
    articles = Counter(d.source for d in story.docs)
    return {
        "id": f"s{n + 1}",
        "headline": story.headline,
        "headline_from": story.headline_from,
        "headline_rejected": story.headline_rejected,
        "key_points": [_point(v, markers[id(v)]) for v in story.points],
        "perspectives": [{"source": s, "emphasis": _point(v, markers[id(v)])} for s, v in story.perspectives],
        "sources": [{"source": s, "articles": articles[s], "sentences": story.sentence_counts[s]}
                    for s in sorted(articles, key=lambda s: (-articles[s], s))],
        "article_ids": [d.article_id for d in story.docs],
        "contested": len(story.pool.pairs),
        "status": None,
        "centroid": [round(float(x), 5) for x in story.centroid],
        "sentence_ids": sorted(h.id for h in story.pool.hits),
    }


def compare(services: Services, stories: list[dict[str, Any]], previous: dict[str, Any] | None) -> dict[str, Any]:
    """New stories and new developments on continuing ones, against the previous briefing."""
    if previous is None or not previous.get("stories"):
        for s in stories:
            s["status"] = "new"
        return {"previous_date": previous["date"] if previous else None,
                "new_stories": [s["id"] for s in stories], "developments": []}
    prev = previous["stories"]
    prev_centroids = np.array([p["centroid"] for p in prev], dtype=np.float32)
    seen_ids = {sid for p in prev for sid in p.get("sentence_ids", [])}
    prev_points = [kp["text"] for p in prev for kp in p["key_points"]]
    prev_vecs = np.asarray(services.embedder.embed(prev_points), dtype=np.float32) if prev_points else None
    new_stories: list[str] = []
    developments: list[dict[str, Any]] = []
    for s in stories:
        sims = prev_centroids @ np.asarray(s["centroid"], dtype=np.float32)
        best = int(np.argmax(sims))
        if float(sims[best]) < CONTINUING_AT:
            s["status"] = "new"
            new_stories.append(s["id"])
            continue
        s["status"] = "continuing"
        fresh = _fresh_points(services, s["key_points"], seen_ids, prev_vecs)
        if fresh:
            developments.append({"story_id": s["id"], "previous_headline": prev[best]["headline"],
                                 "key_points": fresh})
    return {"previous_date": previous["date"], "new_stories": new_stories, "developments": developments}


def _fresh_points(services: Services, points: list[dict[str, Any]], seen_ids: set[str],
                  prev_vecs: np.ndarray | None) -> list[int]:
    vecs = np.asarray(services.embedder.embed([p["text"] for p in points]), dtype=np.float32) if points else None
    fresh = []
    for i, p in enumerate(points):
        if set(p["sentence_ids"]) & seen_ids:
            continue
        if prev_vecs is not None and vecs is not None and float((prev_vecs @ vecs[i]).max()) >= REPEATED_POINT_AT:
            continue
        fresh.append(i)
    return fresh


def inputs_hash(services: Services, article_ids: Sequence[str], prompt: str, model: str) -> str:
    hashes = [(a, services.catalog.current_hash(a)) for a in article_ids]
    blob = json.dumps({"articles": hashes, "prompt": prompt, "model": model}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


# --------------------------------------------------------------------------------------------
# Pipeline
# --------------------------------------------------------------------------------------------


def build_briefing(services: Services, params: BriefingParams) -> dict[str, Any]:
    """Build, store and return the briefing of ``params.day`` (the JSON that GET serves)."""
    t0 = time.perf_counter()
    since, until = day_window(params.day, params.timezone)
    rows, _ = services.catalog.list_articles(Filters(params.sources, since=since, until=until),
                                             limit=MAX_ARTICLES, offset=0)
    if not rows:
        raise NotFound(f"no articles published on {params.day.isoformat()} ({params.timezone})")
    ids = sorted(r["id"] for r in rows)
    hits = article_hits(services.catalog, ids)
    vectors = sentence_vectors(services.catalog, services.retriever.sentences, services.embedder, hits)
    groups = cluster(article_docs(hits, vectors))
    settings = services.settings
    origins = services.catalog.copy_origins(ids)  # near-duplicate links: count outlets, not copies
    multi = sorted((g for g in groups if outlets(g, origins) >= settings.briefing_min_sources),
                   key=lambda g: coverage_key(g, origins))
    singles = [d for g in groups if outlets(g, origins) < settings.briefing_min_sources for d in g]
    timings = {"cluster_ms": _ms(t0)}

    t1 = time.perf_counter()
    tpl = load_prompt("briefing", params.prompt_version or settings.briefing_prompt_version)
    stories = [story_draft(g, hits, vectors) for g in multi[: settings.briefing_max_stories]]
    usage: dict[str, int | None] = {"prompt_tokens": 0, "completion_tokens": 0}
    if "stories" in tpl.variables:  # extracted key points, one call for every headline
        for story in stories:
            extract_story(services, story)
        completion = write_headlines(services, stories, tpl, params.model)
        if completion is not None:
            add_usage(usage, completion)
    else:  # one call per story writes its headline and key points
        for story in stories:
            write_story(services, story, tpl, params.model)
            if story.completion is not None:
                add_usage(usage, story.completion)
    for story in stories:
        story.perspectives = perspectives(services, story, hits, vectors)
    timings["generate_ms"] = _ms(t1)

    flat = [v for s in stories for v in s.points] + [v for s in stories for _, v in s.perspectives]
    numbered, citations, _ = number_citations(services, flat)
    markers = {id(v): nums for v, nums in numbered}
    records = [story_record(n, s, markers) for n, s in enumerate(stories)]
    for record in records:
        record["copies"] = [{"article_id": a, "copy_of": origins[a][0]} for a in record["article_ids"]
                            if a in origins and origins[a][0] != a]
    store = briefing_store(services)
    changes = compare(services, records, store.previous(params.day.isoformat(), params.scope))
    fixes: Counter[str] = Counter()
    for s in stories:
        fixes.update(s.fixes)
    neutrality = report([(v.text, v.citations) for s in stories for v in s.points],
                        [p for s in stories for p in s.pool.pairs], dict(fixes))
    backend = services.backend(params.model)
    timings["total_ms"] = _ms(t0)
    payload: dict[str, Any] = {
        "date": params.day.isoformat(), "timezone": params.timezone, "sources": sorted(params.sources),
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "model": backend.model, "backend": backend.name, "prompt": tpl.ref,
        "inputs_hash": inputs_hash(services, ids, tpl.ref, f"{backend.name}:{backend.model}"),
        "articles": len(ids), "stories": records,
        "single_reports": [{"article_id": d.article_id, "title": d.title, "source": d.source, "url": d.url}
                           for d in sorted(singles, key=lambda d: (d.source, d.article_id))],
        "changes": changes, "citations": [citation_record(c) for c in citations],
        "neutrality": neutrality.as_dict(), "usage": usage, "timings": timings,
    }
    store.save(params.day.isoformat(), params.scope, payload)
    return payload


def get_briefing(services: Services, day: date, timezone: str, sources: Sequence[str] = ()) -> dict[str, Any]:
    found = briefing_store(services).get(day.isoformat(), scope_key(timezone, tuple(sources)))
    if found is None:
        raise NotFound(f"no briefing stored for {day.isoformat()} ({timezone}); POST /v1/briefings builds one")
    return found
