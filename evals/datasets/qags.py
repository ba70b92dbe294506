"""QAGS CNN/DM (``W4ngatang/qags`` mturk_cnndm.jsonl): one article per case, and no reference.

The file keeps each article and one model summary judged sentence by sentence, but not the
article's highlights, so a summary suite over it measures what needs no reference: the support
of every sentence, quote fidelity, loaded words, attribution kept, length and time.  Case ids
are the article's position in the file (``qags-<n>``), which is what the folds hash.
"""

from __future__ import annotations

from pathlib import Path

from evals.cases import Case, Dataset, Gold, add_article
from evals.datasets.jsonl import read_jsonl


def load(path: Path) -> Dataset:
    articles: dict[str, dict[str, str]] = {}
    cases: list[Case] = []
    for i, r in enumerate(read_jsonl(path)):
        n = r.get("qags_index", i)
        aid = f"qags-{n}"
        add_article(articles, {"id": aid, "text": r["article"], "source": "CNN/Daily Mail"})
        cases.append(Case(aid, (aid,), gold=Gold(), tags=("cnndm",)))
    return Dataset(cases, articles)
