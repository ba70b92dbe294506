"""The second retrieval hop: the best sentence names the bridge the answer hangs on."""

from __future__ import annotations

from service.ingest.article import ArticleInput
from service.runtime import Services

QUESTION = "Sadok Sassi played for a national team that made its first World Cup in what year?"
ARTICLES = {
    "sassi": ("Sadok Sassi", "Sadok Sassi was a goalkeeper who played for Club Africain and the Tunisia "
                             "national team."),
    "tunisia": ("Tunisia national football team", "The Eagles of Carthage are nicknamed after the ancient city. "
                                                  "Tunisia qualified in 1978 and beat Mexico in Argentina."),
    "cup1": ("World Cup history", "The first World Cup was played in 1930 in Uruguay."),
    "cup2": ("National teams", "A national team made its first World Cup appearance in 1934."),
    "cup3": ("Goalkeepers", "Every national team needs a goalkeeper who played in a World Cup."),
}


def test_the_second_hop_searches_with_the_bridge_sentence(services: Services) -> None:
    for aid, (title, text) in ARTICLES.items():
        services.store.ingest(ArticleInput(id=aid, title=title, text=text, source="Wikipedia"))
    first = services.retriever.search(QUESTION, k=6).sentences
    assert len(first) == 6
    hops = services.retriever.second_hop(QUESTION, first, k=4, keep=2)
    assert hops[:2] == first[:2]  # the kept head is the first hop's, unchanged
    bridge = services.retriever.search(f"{QUESTION} {first[0].text}", k=6).sentences
    expected = [h.id for h in bridge if h.id not in {first[0].id, first[1].id}][:2]
    assert [h.id for h in hops[2:]] == expected  # then the bridge query's own ranking
    assert all(h.score < first[1].score for h in hops[2:])  # scaled below the kept ones, order kept
    assert [h.score for h in hops[2:]] == sorted((h.score for h in hops[2:]), reverse=True)
    # what is too far from the bridge query is left out; the rest of the first hop fills in
    strict = services.retriever.second_hop(QUESTION, first, k=4, keep=2, min_dense=0.99)
    assert [h.id for h in strict] == [h.id for h in first[:4]]
