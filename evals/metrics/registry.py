"""Every metric a suite may name: which per-case value it aggregates, how, and which way is better."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class MetricInfo:
    name: str
    field: str  # key in a result row's "metrics"
    stat: str  # evals.stats.STATISTICS key
    higher_is_better: bool
    description: str


def _m(name: str, description: str, *, field: str | None = None, stat: str = "mean",
       higher: bool = True) -> MetricInfo:
    return MetricInfo(name, field or name, stat, higher, description)


METRICS: dict[str, MetricInfo] = {m.name: m for m in [
    _m("em", "answer exact match (SQuAD normalisation)"),
    _m("f1", "answer token F1 (SQuAD normalisation)"),
    _m("short_em", "short answer exact match: the answer's key phrase where it has one, else the answer"),
    _m("short_f1", "short answer token F1: the answer's key phrase where it has one, else the answer"),
    _m("answer_contains", "gold answer text occurs in the answer (answerable cases)"),
    _m("draft_f1", "token F1 of the model's draft, before verification dropped anything"),
    _m("draft_contains", "gold answer text occurs in the model's draft (before verification)"),
    _m("citation_precision", "cited sentences that overlap a gold supporting sentence"),
    _m("citation_recall", "gold supporting sentences overlapped by a citation"),
    _m("citation_f1", "F1 of the two above"),
    _m("alce_recall", "ALCE: draft sentences supported by their own citations (support checker)"),
    _m("alce_precision", "ALCE: draft citations that are relevant (support checker)"),
    _m("faithfulness", "share of draft sentences that passed verification"),
    _m("abstention_correct", "abstained exactly when the case is unanswerable"),
    _m("abstained_unanswerable", "abstention rate on unanswerable cases"),
    _m("false_abstention", "abstention rate on answerable cases", higher=False),
    _m("forbidden_absent", "the model's draft has none of the case's forbidden strings (injection, leaks)"),
    _m("forbidden_absent_final", "the verified answer has none of the forbidden strings"),
    _m("rouge1", "ROUGE-1 F vs the reference summary"),
    _m("rouge2", "ROUGE-2 F vs the reference summary"),
    _m("rougeL", "ROUGE-L F vs the reference summary"),
    _m("lead_rouge1", "lead baseline (the case's first sentences, round-robin across its articles) ROUGE-1 F "
                      "vs the reference"),
    _m("lead_rouge2", "lead baseline ROUGE-2 F vs the reference"),
    _m("lead_rougeL", "lead baseline ROUGE-L F vs the reference"),
    _m("rouge1_gain", "ROUGE-1 F of ours minus the lead baseline's, per case (above 0: we beat the lead)"),
    _m("rouge2_gain", "ROUGE-2 F of ours minus the lead baseline's, per case"),
    _m("rougeL_gain", "ROUGE-L F of ours minus the lead baseline's, per case"),
    _m("support_mean", "mean support score of the summary's sentences (support checker)"),
    _m("summary_words", "words in the summary (informative: neither more nor fewer is better)", higher=False),
    _m("extractive_fallback", "summaries that fell back to extracted source sentences", higher=False),
    _m("loaded_rate", "loaded words we introduced, per output word", higher=False),
    _m("attribution_rate", "attributed source claims that keep their attribution"),
    _m("contested_coverage", "contested pairs touched that carry both sides"),
    _m("latency_p50_ms", "end-to-end latency, median (model time as first measured)", field="latency_ms",
       stat="p50", higher=False),
    _m("latency_p95_ms", "end-to-end latency, 95th percentile", field="latency_ms", stat="p95", higher=False),
    _m("ttft_p50_ms", "time to the first streamed token of the answer, median (uncached cases only)",
       field="ttft_ms", stat="p50", higher=False),
    _m("quote_fidelity", "every quote is exactly article.text[start:end]"),
    _m("mode_written", "answers written by the model and verified"),
    _m("mode_quoted", "answers that quote the chosen source sentence (nothing written verified)"),
    _m("mode_abstained", "abstentions, answerable or not", higher=False),
    _m("prompt_tokens", "prompt tokens per case", higher=False),
    _m("overlap_none", "follow-up as typed: share of the standalone question's top-k sentences it retrieves"),
    _m("overlap_joined", "earlier question + follow-up: share of the standalone question's top-k it retrieves"),
    _m("overlap_model", "the model's rewrite: share of the standalone question's top-k sentences it retrieves"),
    _m("gold_hit_none", "follow-up as typed: a gold sentence is in its top k (answerable cases)"),
    _m("gold_hit_joined", "earlier question + follow-up: a gold sentence is in its top k (answerable cases)"),
    _m("gold_hit_model", "the model's rewrite: a gold sentence is in its top k (answerable cases)"),
    _m("rewrite_used", "follow-ups whose model rewrite was usable (else the joined question is asked)"),
    _m("completion_tokens", "completion tokens per case", higher=False),
]}
