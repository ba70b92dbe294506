"""The real embedded model (Qwen2.5-Coder-1.5B via llama.cpp) on the seed article: slow."""

from __future__ import annotations

import pytest

from service.generation.summarize import SummaryParams, summarize
from service.ingest.article import ArticleInput
from service.runtime import Services
from service.verify.neutrality import is_attributed

pytestmark = pytest.mark.slow
PROMO = ("TRUMP BLASTS PUTIN", "READY TO MAKE A DEAL", "Read the full article here", "contributed to this report")


def test_local_summary_of_the_seed_is_cited_attributed_and_complete(services: Services, seed_text: str) -> None:
    pytest.importorskip("llama_cpp")
    services.store.ingest(ArticleInput(id="seed", title="North Korea troops", text=seed_text, source="Fox News",
                                       published_at="2025-04-28"))
    res = summarize(services, SummaryParams(article_ids=("seed",), length="short", model="local"))
    article = services.catalog.get_article("seed")
    assert article is not None and res.backend == "local" and res.citations
    indexed = {f"seed:{s['idx']}" for s in article["sentences"] if s["boilerplate"] is None}
    for c in res.citations:
        assert c.hit.id in indexed and c.hit.id in res.shown
        assert c.quote == article["text"][c.hit.start:c.hit.end]
        assert not any(p in c.quote for p in PROMO)
    assert not any(p in res.summary for p in PROMO)
    kursk = [v for v, _ in res.sentences if "Kursk" in v.text and "reclaim" in v.text]
    assert kursk and all(is_attributed(v.text) for v in kursk)
    assert any("denied" in v.text and "Ukrain" in v.text for v, _ in res.sentences)
    assert res.neutrality.contested_coverage == 1.0 and res.neutrality.loaded_introduced == []
