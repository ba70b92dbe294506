"""Summaries and briefings: quality and latency, written to docs/benchmarks.md.

    python -m benchmarks.summaries_bench clustering            # AllSides days, no model
    python -m benchmarks.summaries_bench frank --n 12          # ROUGE vs CNN/DM references
    python -m benchmarks.summaries_bench multi --n 6           # neus + multinews, with neutrality
    python -m benchmarks.summaries_bench latency               # one summary, one briefing
    python -m benchmarks.summaries_bench speed                 # seed and 7-article summaries, v1 vs v2
    python -m benchmarks.summaries_bench report                # write the docs section

Each part writes its numbers to ``--results`` (JSON, merged) and ``report`` renders them into
the ``summaries`` marker section of docs/benchmarks.md.  ROUGE is Google's ``rouge-score``
(stemming on).  The model parts use ``NEWSDESK_LLM_BACKEND`` (default: local).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from evals.metrics.rouge import rouge
from service.config import REPO_ROOT, Settings
from service.ingest.article import ArticleInput
from service.ingest.parse import split_front_matter
from service.runtime import Services, build_services

SHARED = REPO_ROOT.parent / "shared" / "data"
ALLSIDES = SHARED / "neus_allsides" / "allsides_roundups_2021-04_to_07.jsonl"
ALLSIDES_SAMPLE = REPO_ROOT / "evals" / "data" / "allsides_days_sample.jsonl"
DOC = REPO_ROOT / "docs" / "benchmarks.md"
RESULTS = REPO_ROOT / "benchmarks" / "results" / "summaries.json"
START, END = "<!-- summaries:start -->", "<!-- summaries:end -->"


# --------------------------------------------------------------------------------------------
# AllSides roundups as articles (also used by the tests)
# --------------------------------------------------------------------------------------------


def allsides_records(path: Path = ALLSIDES) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def allsides_by_day(records: Sequence[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    days: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        days[r["date"][:10]].append(r)
    return dict(sorted(days.items()))


def allsides_articles(records: Sequence[dict[str, Any]]) -> list[tuple[ArticleInput, str]]:
    """Each outlet's take as an article, with its gold story label (the AllSides story id)."""
    out: list[tuple[ArticleInput, str]] = []
    for r in records:
        for side, item in sorted((r.get("news") or {}).items()):
            body = [p for p in item.get("newBody") or [] if p.strip()]
            if not body:
                continue
            art = ArticleInput(id=f"as{r['id']}-{side}", title=item.get("newsTitle") or r["issue"],
                               text="\n\n".join(body), source=item.get("newsSource") or side,
                               url=item.get("newsLink") or None, published_at=r["date"])
            out.append((art, str(r["id"])))
    return out


# --------------------------------------------------------------------------------------------
# Plumbing
# --------------------------------------------------------------------------------------------


@contextmanager
def fresh_services(backend: str) -> Iterator[Services]:
    with tempfile.TemporaryDirectory(prefix="newsdesk-bench-") as tmp:
        svc = build_services(Settings(data_dir=Path(tmp), llm_backend=backend))
        try:
            yield svc
        finally:
            svc.close()


def merge_results(part: str, data: dict[str, Any], path: Path = RESULTS) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    current = json.loads(path.read_text()) if path.exists() else {}
    current[part] = {**data, "measured_at": datetime.now(UTC).isoformat(timespec="seconds")}
    path.write_text(json.dumps(current, indent=2, ensure_ascii=False))


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"


def log(msg: str) -> None:
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()


# --------------------------------------------------------------------------------------------
# Clustering
# --------------------------------------------------------------------------------------------


def bench_clustering(args: argparse.Namespace) -> dict[str, Any]:
    from evals.folds import FOLDS, fold_of
    from service.generation.clustering import SAME_STORY_AT, article_docs, cluster, pairwise_scores
    from service.generation.selection import article_hits, sentence_vectors

    days = allsides_by_day(allsides_records(Path(args.allsides)))
    days = {d: recs for d, recs in days.items() if sum(len(r.get("news") or {}) for r in recs) >= 4}
    thresholds = [float(t) for t in args.thresholds.split(",")]
    per_threshold: dict[float, list[dict[str, float]]] = {t: [] for t in thresholds}
    n_articles = 0
    with fresh_services("fake") as svc:
        for n, recs in enumerate(days.values()):
            arts = allsides_articles(recs)
            svc.store.ingest_many([a for a, _ in arts])  # a day at a time: the store's batches grow O(n^2)
            n_articles += len(arts)
            gold = {str(a.id): label for a, label in arts}
            ids = sorted(gold)
            hits = article_hits(svc.catalog, ids)
            vectors = sentence_vectors(svc.catalog, svc.retriever.sentences, svc.embedder, hits)
            docs = article_docs(hits, vectors)
            for t in thresholds:
                groups = cluster(docs, t)
                per_threshold[t].append(pairwise_scores([[d.article_id for d in g] for g in groups], gold))
            log(f"  day {n + 1}/{len(days)}: {len(arts)} articles")
    day_names = list(days)
    folds = {d: fold_of(f"allsides-day-{d}") for d in day_names}
    table = [{"threshold": t, **_micro(scores)} for t, scores in per_threshold.items()]
    by_fold = {f: [{"threshold": t, **_micro([s for d, s in zip(day_names, scores, strict=True) if folds[d] == f])}
                   for t, scores in per_threshold.items()] for f in FOLDS}
    chosen = max(by_fold["tune"], key=lambda row: (row["f1"], -abs(row["threshold"] - SAME_STORY_AT)))["threshold"]
    at_service = per_threshold.get(SAME_STORY_AT, [])
    worst = sorted((round(s["f1"], 3), d, folds[d]) for d, s in zip(day_names, at_service, strict=False))[:5]
    return {"days": len(days), "articles": n_articles, "thresholds": table, "folds": by_fold,
            "fold_days": {f: sum(1 for d in day_names if folds[d] == f) for f in FOLDS},
            "tune_best_threshold": chosen, "service_threshold": SAME_STORY_AT,
            "worst_days": [{"f1": f1, "day": d, "fold": f} for f1, d, f in worst]}


def _micro(scores: Sequence[dict[str, float]]) -> dict[str, float]:
    """Pairwise precision, recall and F1 micro-averaged over days, and the mean F1 per day."""
    tp = sum(s["pairs_true"] * s["recall"] for s in scores)
    pred = sum(s["pairs_predicted"] for s in scores)
    true = sum(s["pairs_true"] for s in scores)
    correct = sum(s["pairs_predicted"] * s["precision"] for s in scores)
    p = correct / pred if pred else 1.0
    r = tp / true if true else 1.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(2 * p * r / (p + r), 4) if p + r else 0.0,
            "mean_day_f1": round(statistics.mean(s["f1"] for s in scores), 4) if scores else 0.0}


# --------------------------------------------------------------------------------------------
# Summaries: ROUGE and neutrality
# --------------------------------------------------------------------------------------------


def mean_scores(rows: Sequence[dict[str, float]]) -> dict[str, float]:
    keys = rows[0].keys() if rows else []
    return {k: round(statistics.mean(r[k] for r in rows), 4) for k in keys}


def plain(sentences: Sequence[Any]) -> str:
    return " ".join(v.text for v, _ in sentences)


def lead(svc: Services, article_ids: Sequence[str], n: int = 3) -> str:
    from service.generation.selection import article_hits

    """Lead-n of one article; the first sentence of each article for several."""
    hits = article_hits(svc.catalog, list(article_ids))
    per = n if len(article_ids) == 1 else 1
    return " ".join(h.text for aid in article_ids for h in [x for x in hits if x.article_id == aid][:per])


def editor_neutrality(svc: Services, text: str, article_ids: Sequence[str]) -> dict[str, Any]:
    """Our neutrality metrics on an uncited (editors') summary: source sentences aligned by embedding."""
    from service.generation.selection import article_hits
    from service.generation.summarize import build_pool
    from service.ingest.segment import split_sentences
    from service.verify.neutrality import align, report

    pool = build_pool(svc, article_hits(svc.catalog, list(article_ids)))
    sentences = [s.text for s in split_sentences(text)]
    vecs = np.asarray(svc.embedder.embed(sentences), dtype=np.float32) if sentences else np.zeros((0, 1))
    aligned = align(sentences, vecs, pool.hits, pool.vectors)
    return neutrality_row(report(list(zip(sentences, aligned, strict=True)), pool.pairs), text, pool.hits)


def neutrality_row(rep: Any, text: str, hits: Sequence[Any]) -> dict[str, Any]:
    from service.verify.neutrality import introduced_loaded, words

    vs_all = introduced_loaded(text, [h.text for h in hits])
    n = max(1, len(words(text)))
    return {"loaded_rate": rep.loaded_rate, "loaded_vs_all_sources": round(len(vs_all) / n, 4),
            "attribution_rate": rep.attribution_rate, "attributed_in_sources": rep.attributed_in_sources,
            "contested_touched": rep.contested_touched, "contested_complete": rep.contested_complete,
            "loaded_words": sorted(set(vs_all))}


def aggregate_neutrality(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    needing = sum(r["attributed_in_sources"] for r in rows)
    kept = sum(round((r["attribution_rate"] or 0) * r["attributed_in_sources"]) for r in rows)
    touched = sum(r["contested_touched"] for r in rows)
    return {"loaded_rate": round(statistics.mean(r["loaded_rate"] for r in rows), 4),
            "loaded_vs_all_sources": round(statistics.mean(r["loaded_vs_all_sources"] for r in rows), 4),
            "attribution_rate": round(kept / needing, 4) if needing else None, "attributed_sentences": needing,
            "contested_touched": touched,
            "contested_complete": sum(r["contested_complete"] for r in rows),
            "loaded_words": sorted({w for r in rows for w in r["loaded_words"]})[:30]}


def summarise_items(svc: Services, items: Sequence[tuple[list[ArticleInput], str]], length: str,
                    model: str) -> dict[str, Any]:
    """Ingest each item's articles, summarise them; ROUGE and neutrality, ours next to the editors'."""
    from service.generation.selection import article_hits
    from service.generation.summarize import SummaryParams, build_pool, summarize

    ours, lead_rows, neutral_ours, neutral_ref, seconds, calls = [], [], [], [], [], []
    for n, (articles, reference) in enumerate(items):
        svc.store.ingest_many(articles)
        ids = tuple(str(a.id) for a in articles)
        t0 = time.perf_counter()
        res = summarize(svc, SummaryParams(article_ids=ids, length=length, model=model))  # type: ignore[arg-type]
        seconds.append(time.perf_counter() - t0)
        calls.append(res.calls)
        text = plain(res.sentences)
        ours.append(rouge(text, reference))
        lead_rows.append(rouge(lead(svc, ids), reference))
        hits = build_pool(svc, article_hits(svc.catalog, list(ids))).hits
        neutral_ours.append(neutrality_row(res.neutrality, text, hits))
        neutral_ref.append(editor_neutrality(svc, reference, ids))
        log(f"  {n + 1}/{len(items)} {seconds[-1]:.0f}s calls={res.calls} R1={ours[-1]['rouge1']:.3f} "
            f"fallback={res.extractive_fallback}")
    return {"n": len(items), "length": length, "rouge_ours": mean_scores(ours), "rouge_lead": mean_scores(lead_rows),
            "neutrality_ours": aggregate_neutrality(neutral_ours),
            "neutrality_editors": aggregate_neutrality(neutral_ref),
            "seconds_mean": round(statistics.mean(seconds), 1), "seconds_max": round(max(seconds), 1),
            "calls_mean": round(statistics.mean(calls), 2)}


def frank_items(n: int) -> list[tuple[list[ArticleInput], str]]:
    rows = [json.loads(x) for x in (SHARED / "frank" / "articles.jsonl").read_text().splitlines() if x.strip()]
    cnndm = [r for r in rows if r["dataset"] == "cnndm"][:n]
    return [([ArticleInput(id=f"frank{i}", title=f"CNN/DM article {i}", text=r["original"]["article"],
                           source="CNN/DM")], r["reference"]) for i, r in enumerate(cnndm)]


def neus_items(n: int) -> list[tuple[list[ArticleInput], str]]:
    rows = [json.loads(x) for x in (SHARED / "neus_allsides" / "neus_val.jsonl").read_text().splitlines() if x.strip()]
    return [([ArticleInput(id=f"neus{i}-{k}", title=a["title"], text=a["text"], source=f"outlet {k + 1}")
              for k, a in enumerate(r["source_articles"]) if a["text"].strip()], r["target_summary"])
            for i, r in enumerate(rows[:n])]


def multinews_clusters() -> Iterator[tuple[int, list[ArticleInput], str]]:
    """Every Multi-News cluster as (line index, its documents of 40+ words as articles, summary)."""
    path = SHARED / "multinews" / "multinews_test_125a.jsonl"
    for i, line in enumerate(x for x in path.read_text().splitlines() if x.strip()):
        r = json.loads(line)
        docs = [d for d in r["documents"] if len(d.split()) >= 40]
        arts = [ArticleInput(id=f"mn{i}-{k}", title=f"Multi-News cluster {i} document {k + 1}", text=d,
                             source=f"outlet {k + 1}") for k, d in enumerate(docs)]
        yield i, arts, re.sub(r"^\W+", "", r["summary"]).strip()


def multinews_items(n: int) -> list[tuple[list[ArticleInput], str]]:
    return [(arts, summary) for _, arts, summary in itertools.islice(multinews_clusters(), n) if arts]


def bench_frank(args: argparse.Namespace) -> dict[str, Any]:
    with fresh_services(args.backend) as svc:
        return summarise_items(svc, frank_items(args.n), "short", args.backend)


def bench_multi(args: argparse.Namespace) -> dict[str, Any]:
    with fresh_services(args.backend) as svc:
        log("neus_val")
        neus = summarise_items(svc, neus_items(args.n), "short", args.backend)
        log("multinews")
        multi = summarise_items(svc, multinews_items(args.n), "short", args.backend)
    return {"neus": neus, "multinews": multi}


def bench_latency(args: argparse.Namespace) -> dict[str, Any]:
    from datetime import date

    from service.generation.briefing import BriefingParams, build_briefing
    from service.generation.summarize import SummaryParams, summarize

    seed = split_front_matter((REPO_ROOT / "seeds" / "north-korea-troops-kursk.txt").read_text(encoding="utf-8"))[1]
    day = args.day
    with fresh_services(args.backend) as svc:
        svc.store.ingest(ArticleInput(id="seed", title="North Korea troops", text=seed, source="Fox News"))
        t0 = time.perf_counter()
        res = summarize(svc, SummaryParams(article_ids=("seed",), length="short", model=args.backend))
        summary_s = time.perf_counter() - t0
        recs = allsides_by_day(allsides_records(Path(args.allsides)))[day]
        svc.store.ingest_many([a for a, _ in allsides_articles(recs)])
        t1 = time.perf_counter()
        b = build_briefing(svc, BriefingParams(date.fromisoformat(day), "America/Los_Angeles", model=args.backend))
        briefing_s = time.perf_counter() - t1
        out_dir = REPO_ROOT / "docs" / "examples"
        out_dir.mkdir(parents=True, exist_ok=True)
        from service.generation.briefing_render import to_markdown

        (out_dir / f"briefing-{day}.md").write_text(to_markdown(b), encoding="utf-8")
    return {"summary_s": round(summary_s, 1), "summary_usage": res.usage, "summary_text": res.summary,
            "summary_fixes": res.neutrality.fixes, "summary_timings": res.timings,
            "briefing_day": day, "briefing_s": round(briefing_s, 1), "briefing_stories": len(b["stories"]),
            "briefing_articles": b["articles"], "briefing_usage": b["usage"], "briefing_timings": b["timings"],
            "briefing_headlines_from_model": sum(s["headline_from"] == "model" for s in b["stories"])}


def seven_article_cluster() -> tuple[list[ArticleInput], str]:
    """The first Multi-News cluster with seven documents of 40 words or more."""
    for i, arts, _ in multinews_clusters():
        if len(arts) == 7:
            return arts, f"multinews line {i + 1}"
    raise SystemExit("no seven-article cluster in the Multi-News file")


def bench_speed(args: argparse.Namespace) -> dict[str, Any]:
    """End-to-end summary time per prompt version: the seed (``short``) and a seven-article
    cluster (``medium``, the API's default length), with the model already loaded by an unrelated
    call -- as in a running service -- so no summary finds its prompt cached by another."""
    from service.generation.summarize import SummaryParams, summarize
    from service.llm.base import ChatMessage

    seed = split_front_matter((REPO_ROOT / "seeds" / "north-korea-troops-kursk.txt").read_text(encoding="utf-8"))[1]
    cluster_articles, cluster_from = seven_article_cluster()
    rows: list[dict[str, Any]] = []
    with fresh_services(args.backend) as svc:
        svc.store.ingest(ArticleInput(id="seed", title="North Korea troops", text=seed, source="Fox News"))
        svc.store.ingest_many(cluster_articles)
        cases = [("seed", ("seed",), "short"), ("seven", tuple(str(a.id) for a in cluster_articles), "medium")]
        backend = svc.backend(args.backend)
        for version in args.versions.split(","):
            for name, ids, length in cases:
                if name == "seven" and version == "v1" and not args.v1_seven:
                    continue
                for rep in range(args.repeat):
                    backend.complete([ChatMessage("user", f"Say OK {rep}.")], max_tokens=2)  # evict the prompt cache
                    t0 = time.perf_counter()
                    res = summarize(svc, SummaryParams(article_ids=ids, length=length,  # type: ignore[arg-type]
                                                       prompt_version=version, model=args.backend))
                    seconds = time.perf_counter() - t0
                    rows.append({"case": name, "articles": len(ids), "length": length, "prompt": f"summary@{version}",
                                 "seconds": round(seconds, 2), "usage": res.usage, "calls": res.calls,
                                 "sentences": len(res.sentences), "text": res.summary})
                    log(f"  {version} {name} {seconds:.1f}s {res.usage}")
    return {"rows": rows, "seven_from": cluster_from, "load": os.getloadavg()}


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------


def _fmt(x: Any) -> str:
    return "–" if x is None else (f"{x:.3f}" if isinstance(x, float) else str(x))


def _rouge_row(name: str, r: dict[str, float]) -> str:
    return f"| {name} | {_fmt(r['rouge1'])} | {_fmt(r['rouge2'])} | {_fmt(r['rougeL'])} |"


def _neutral_rows(name: str, part: dict[str, Any]) -> list[str]:
    rows = []
    for who, key in (("ours", "neutrality_ours"), ("editors", "neutrality_editors")):
        n = part[key]
        rows.append(f"| {name} · {who} | {_fmt(n['loaded_rate'])} | {_fmt(n['loaded_vs_all_sources'])} | "
                    f"{_fmt(n['attribution_rate'])} ({n['attributed_sentences']}) | "
                    f"{n['contested_complete']}/{n['contested_touched']} | {', '.join(n['loaded_words'][:8]) or '–'} |")
    return rows


PREFILL_TPS, GEN_TPS = 45.0, 15.0


def _estimate(usage: dict[str, Any]) -> int:
    return round((usage.get("prompt_tokens") or 0) / PREFILL_TPS + (usage.get("completion_tokens") or 0) / GEN_TPS)


def render_report(results: dict[str, Any]) -> str:
    out = [START, "## Summaries and briefings (issue 4)", "",
           "Produced by `python -m benchmarks.summaries_bench <part>` then `... report`; raw numbers in "
           "`benchmarks/results/summaries.json`. ROUGE is Google's `rouge-score` (F1, stemming).", ""]
    if "clustering" in results:
        c = results["clustering"]
        out += [f"### Story clustering — AllSides days ({c['measured_at'][:10]}, {c['machine']})", "",
                f"{c['days']} days with at least 4 outlet articles, {c['articles']} articles; gold: the outlets "
                "of one AllSides story are one story. Pairwise precision/recall of \"same story\", micro-averaged "
                "over all days; no model involved.", "",
                "| threshold | precision | recall | F1 | mean F1 per day |", "|---|---|---|---|---|"]
        out += [f"| {t['threshold']} | {t['precision']:.3f} | {t['recall']:.3f} | {t['f1']:.3f} | "
                f"{t['mean_day_f1']:.3f} |" for t in c["thresholds"]]
        if "folds" in c:
            tune, check = c["folds"]["tune"], c["folds"]["check"]
            out += ["", f"By fold (a day's fold is a hash of its date, `evals/folds.py`; {c['fold_days']['tune']} tune "
                        f"days, {c['fold_days']['check']} check days): pairwise P / R / F1.", "",
                    "| threshold | tune | check |", "|---|---|---|"]
            out += [f"| {a['threshold']}{' (service)' if a['threshold'] == c['service_threshold'] else ''}"
                    f"{' (best on tune)' if a['threshold'] == c['tune_best_threshold'] else ''} | "
                    f"{a['precision']:.3f} / {a['recall']:.3f} / {a['f1']:.3f} | "
                    f"{b['precision']:.3f} / {b['recall']:.3f} / {b['f1']:.3f} |"
                    for a, b in zip(tune, check, strict=True)]
            out += ["", "Worst days at the service's threshold (day F1, fold): " + "; ".join(
                f"{w['day']} {w['f1']:.3f} ({w['fold']})" for w in c["worst_days"]) + "."]
        out += ["", "The service uses 0.5 (`SAME_STORY_AT`, set on all days before folds existed). AllSides "
                "sometimes runs two stories on one topic on the same day (Israel–Gaza, the 100-days coverage); "
                "the gold counts them apart, which caps precision.", ""]
    rouge_parts = [("frank", "FRANK CNN/DM (single article, `short`)", results.get("frank"))]
    multi = results.get("multi") or {}
    rouge_parts += [("neus", "NeuS AllSides val (3 outlets, `short`)", multi.get("neus")),
                    ("multinews", "Multi-News (1-7 articles, `short`)", multi.get("multinews"))]
    have = [(k, label, part) for k, label, part in rouge_parts if part]
    if have:
        when = results.get("frank", multi).get("measured_at", "")[:10]
        mach = results.get("frank", multi).get("machine", "")
        out += [f"### Summaries with the local model ({when}, {mach})", "",
                "Qwen2.5-Coder-1.5B-Instruct Q4_K_M via llama.cpp, temperature 0, `summary@v1`, on a shared "
                "2-core CPU. *lead* = first three sentences (one article) or the first sentence of each article.",
                "", "| set (n) | ROUGE-1 | ROUGE-2 | ROUGE-L |", "|---|---|---|---|"]
        for _, label, part in have:
            out.append(_rouge_row(f"{label} — ours (n={part['n']})", part["rouge_ours"]))
            out.append(_rouge_row(f"{label} — lead", part["rouge_lead"]))
        out += ["", *[f"*{label}*: {part['note']}." for _, label, part in have if part.get("note")]]
        out += ["", "Seconds per summary (on the contended CPU, see the latency section): " + "; ".join(
            f"{label}: mean {part['seconds_mean']} s, max {part['seconds_max']} s, {part['calls_mean']} model calls"
            for _, label, part in have), ""]
        out += ["#### Neutrality: ours next to the editors' own summaries", "",
                "Same metrics on both. Editors' sentences carry no citations, so each is aligned to its most "
                "similar source sentences (cosine ≥ 0.6) to stand in for them. *loaded* = subjective words "
                "(TextBlob lexicon, mean subjectivity ≥ 0.6) not in the cited/aligned sentences; *vs all* = not "
                "anywhere in the sources; *attribution* = share of sentences whose main source attributes the "
                "claim that keep an attribution (count); *contested* = pairs with both sides / pairs touched.", "",
                "| set · who | loaded | vs all | attribution | contested | loaded words (sample) |",
                "|---|---|---|---|---|---|"]
        for _, label, part in have:
            out += _neutral_rows(label.split(" (")[0], part)
        out.append("")
    if "latency" in results:
        lat = results["latency"]
        su, bu = lat["summary_usage"], lat["briefing_usage"]
        out += [f"### Latency with the local model ({lat['measured_at'][:10]}, {lat['machine']})", "",
                "Measured while other engineers' jobs (another local-model eval, test suites) shared the two "
                "cores: load average 7–11. The last column is what the same token counts cost at the uncontended "
                f"rates in OFFLINE_MODELS.md (prefill ~{PREFILL_TPS:g} tok/s, generation ~{GEN_TPS:g} tok/s).", "",
                "| what | wall time (contended) | tokens (prompt / completion) | uncontended estimate |",
                "|---|---|---|---|",
                f"| summary of the seed article (`short`) | {lat['summary_s']} s | "
                f"{su['prompt_tokens']} / {su['completion_tokens']} | {_estimate(su)} s |",
                f"| briefing of AllSides {lat['briefing_day']} ({lat['briefing_articles']} articles, "
                f"{lat['briefing_stories']} stories, one call each) | {lat['briefing_s']} s | "
                f"{bu['prompt_tokens']} / {bu['completion_tokens']} | {_estimate(bu)} s |", "",
                f"Model-written headlines kept: {lat['briefing_headlines_from_model']} of {lat['briefing_stories']} "
                f"(the rest fell back to the most central outlet title without loaded words). The rendered briefing "
                f"is in `docs/examples/briefing-{lat['briefing_day']}.md`.", "",
                "Seed summary as produced:", "", *[f"> {line}" for line in lat["summary_text"].splitlines()], ""]
    if "speed" in results:
        out += _speed_rows(results["speed"])
    out.append(END)
    return "\n".join(out)


def _speed_rows(sp: dict[str, Any]) -> list[str]:
    """Median seconds per case and prompt version, and the last version's ratio to the first."""
    by: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in sp["rows"]:
        by[(r["case"], r["prompt"])].append(r)
    load = ", ".join(f"{x:.2f}" for x in sp.get("load", []))
    prompts = list(dict.fromkeys(r["prompt"] for r in sp["rows"]))
    out = [f"### Summary speed, {' against '.join(prompts)} ({sp['measured_at'][:16]} UTC, {sp['machine']})", "",
           f"`python -m benchmarks.summaries_bench speed`: each summary timed end to end (gather, select, the model "
           f"call, verify, cite) {len(next(iter(by.values())))} times, in one run, with the model loaded and its "
           f"prompt cache taken by an unrelated call first; load average at the end {load}. *seed* is the Kursk "
           f"article (`short`); *seven* is a seven-article Multi-News cluster ({sp['seven_from']}, "
           "`medium`, the API default).",
           "", "| case | prompt | median s | max s | prompt / completion tokens | sentences |",
           "|---|---|---|---|---|---|"]
    medians: dict[tuple[str, str], float] = {}
    for (case, prompt), rows in by.items():
        secs = [r["seconds"] for r in rows]
        medians[(case, prompt)] = statistics.median(secs)
        u = rows[0]["usage"]
        out.append(f"| {case} | {prompt} | {medians[(case, prompt)]:.1f} | {max(secs):.1f} | "
                   f"{'?' if u['prompt_tokens'] is None else u['prompt_tokens']} / {u['completion_tokens']} | "
                   f"{rows[0]['sentences']} |")
    base, last = prompts[0], prompts[-1]
    ratios = [f"{case}: {last} takes {medians[(case, last)] / medians[(case, base)]:.2f}× {base}'s time"
              for case in ("seed", "seven") if len(prompts) > 1 and (case, base) in medians and (case, last) in medians]
    if ratios:
        out += ["", "Same-run ratios: " + "; ".join(ratios) + "."]
    return [*out, ""]


def write_report(results_path: Path, doc: Path = DOC) -> None:
    section = render_report(json.loads(results_path.read_text()))
    text = doc.read_text(encoding="utf-8") if doc.exists() else "# Benchmarks\n"
    if START in text and END in text:
        head, _, rest = text.partition(START)
        _, _, tail = rest.partition(END)
        text = head + section + tail
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(text, encoding="utf-8")


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("part", choices=["clustering", "frank", "multi", "latency", "speed", "report"])
    parser.add_argument("--n", type=int, default=12)
    parser.add_argument("--allsides", default=str(ALLSIDES if ALLSIDES.exists() else ALLSIDES_SAMPLE))
    parser.add_argument("--thresholds", default="0.4,0.45,0.5,0.55,0.6,0.65,0.7")
    parser.add_argument("--backend", default=os.environ.get("NEWSDESK_LLM_BACKEND", "local"))
    parser.add_argument("--results", default=str(RESULTS))
    parser.add_argument("--day", default="2021-05-27", help="AllSides day of the latency briefing.")
    parser.add_argument("--versions", default="v1,v2", help="speed: summary prompt versions, in this order.")
    parser.add_argument("--repeat", type=int, default=3, help="speed: timed summaries per case and version.")
    parser.add_argument("--v1-seven", action="store_true", help="speed: also time v1 on seven articles (minutes).")
    args = parser.parse_args(argv)
    parts = {"clustering": bench_clustering, "frank": bench_frank, "multi": bench_multi, "latency": bench_latency,
             "speed": bench_speed}
    if args.part == "report":
        write_report(Path(args.results))
        return 0
    t0 = time.perf_counter()
    data = parts[args.part](args)
    data["wall_s"] = round(time.perf_counter() - t0, 1)
    data["machine"] = machine()
    merge_results(args.part, data, Path(args.results))
    sys.stdout.write(json.dumps(data, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
