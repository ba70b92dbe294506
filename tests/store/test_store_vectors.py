"""What the store writes to Chroma: late-chunked sentence and chunk vectors, the separate-sentence
fallback, and batched deletes of older versions (with their crash-safety)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from service.config import Settings
from service.ingest.article import ArticleInput, join_sentences
from service.runtime import Services, build_services
from service.store.catalog import Filters
from vectorstore.embeddings import MiniLMEmbedding

TEXT = (
    "The harbour council approved a new sea wall on Tuesday.\n"
    "READ MORE: OTHER NEWS FROM THE COAST\n"  # boilerplate: never indexed, never in a window
    "It will cost about 14 million pounds, paid by grants and mooring fees.\n"
    "\u200b\u200b\n"  # a sentence with no WordPiece token at all
    "Residents were divided over the plan to protect the old town from storms.\n"
    "He said the wall would be finished by 2027."
)
LONG = " ".join(f"Paragraph {n} says the council met the mooring holders about fees again." for n in range(30))


def unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def store_for(tmp_path: Path, embedder, **settings) -> Services:
    return build_services(Settings(data_dir=tmp_path / "data", llm_backend="fake", **settings), embedder=embedder)


def stored(svc: Services, coll: str, article_id: str) -> dict[str, np.ndarray]:
    got = getattr(svc.store, coll).get(where={"article_id": article_id}, include=["embeddings"])
    return {i: np.asarray(e, dtype=np.float32) for i, e in zip(got["ids"], got["embeddings"], strict=True)}


@pytest.fixture
def late(tmp_path: Path, embedder: MiniLMEmbedding) -> Iterator[Services]:
    svc = store_for(tmp_path, embedder, sentence_vectors="late", late_window_tokens=128)
    yield svc
    svc.close()


def test_late_vectors_are_token_means_of_the_article_window(late: Services, embedder: MiniLMEmbedding) -> None:
    item = ArticleInput(id="harbour", text=TEXT, source="Coastal Gazette")
    late.store.ingest(item)
    art = late.store.process(item)
    assert [s.boilerplate is not None for s in art.sentences] == [False, True, False, False, False, False]
    sents = stored(late, "sentences", "harbour")
    assert len(sents) == len(art.indexed) == 5

    # the reference: the indexed sentences (no boilerplate) as one window, pooled by hand
    window, spans = join_sentences([s.text for s in art.indexed])
    ref = embedder.embed_late([window], [spans])[0]
    for s, n_tokens, span_sum in zip(art.indexed, ref.span_tokens, ref.span_sums, strict=True):
        vec = sents[f"harbour@{art.version}:{s.index}"]
        assert abs(float(np.linalg.norm(vec)) - 1.0) < 1e-5
        # a sentence without tokens falls back to its own embedding; the others are pooled in context
        expected = embedder.embed([s.text])[0] if n_tokens == 0 else unit(span_sum)
        assert float(vec @ expected) > 0.9999, s.text
    # "He said ..." differs from the sentence embedded alone: it was read beside the council
    he = next(s for s in art.indexed if s.text.startswith("He said"))
    assert float(sents[f"harbour@{art.version}:{he.index}"] @ embedder.embed([he.text])[0]) < 0.99

    (chunk_id, chunk_vec), = stored(late, "chunks", "harbour").items()
    assert chunk_id == f"harbour@{art.version}#c0"
    assert float(chunk_vec @ unit(ref.span_sums.sum(axis=0))) > 0.9999


def test_chunk_windows_give_each_chunk_its_own_embedding(tmp_path: Path, embedder: MiniLMEmbedding) -> None:
    svc = store_for(tmp_path, embedder, sentence_vectors="late", late_window_tokens=0, chunk_tokens=48,
                    chunk_overlap_tokens=16)
    try:
        item = ArticleInput(id="long", text=LONG)
        svc.store.ingest(item)
        art = svc.store.process(item)
        assert len(art.chunks) > 3
        chunks = stored(svc, "chunks", "long")
        for ch in art.chunks:
            assert float(chunks[f"long@{art.version}#c{ch.index}"] @ embedder.embed([ch.text])[0]) > 0.9999
        # a sentence in two overlapping chunks pools its tokens from both readings
        shared = [i for i in range(len(art.indexed)) if sum(i in c.sentence_indexes for c in art.chunks) == 2]
        assert shared, "the chunking must overlap for this test"
        i = shared[0]
        total = np.zeros(384)
        for ch in art.chunks:
            if i in ch.sentence_indexes:
                text, spans = join_sentences([art.sentences[j].text for j in ch.sentence_indexes])
                pooled = embedder.embed_late([text], [spans])[0]
                total += pooled.span_sums[ch.sentence_indexes.index(i)]
        assert float(stored(svc, "sentences", "long")[f"long@{art.version}:{i}"] @ unit(total)) > 0.9999
    finally:
        svc.close()


def test_default_settings_embed_every_sentence_alone(tmp_path: Path, embedder: MiniLMEmbedding) -> None:
    svc = store_for(tmp_path, embedder)
    try:
        item = ArticleInput(id="harbour", text=TEXT)
        svc.store.ingest(item)
        art = svc.store.process(item)
        sents = stored(svc, "sentences", "harbour")
        for s, vec in zip(art.indexed, embedder.embed([s.text for s in art.indexed]), strict=True):
            assert float(sents[f"harbour@{art.version}:{s.index}"] @ vec) > 0.9999, s.text
    finally:
        svc.close()


class SentencesOnly:
    """The real embedder seen through ``embed`` only, like an OpenAI endpoint: no token outputs."""

    dimensions = 384

    def __init__(self, inner: MiniLMEmbedding) -> None:
        self.embed = inner.embed


def test_separate_sentence_vectors_for_embedders_without_token_outputs(tmp_path: Path, embedder) -> None:
    svc = store_for(tmp_path, embedder, sentence_vectors="late")  # asked for late, but it cannot
    svc.store.embedder = SentencesOnly(embedder)
    try:
        item = ArticleInput(id="harbour", text=TEXT)
        svc.store.ingest(item)
        art = svc.store.process(item)
        sents = stored(svc, "sentences", "harbour")
        alone = embedder.embed([s.text for s in art.indexed])
        for s, vec in zip(art.indexed, alone, strict=True):
            assert float(sents[f"harbour@{art.version}:{s.index}"] @ vec) > 0.9999
        w = np.array([len(s.text) for s in art.indexed], dtype=np.float32)
        expected = unit((alone * w[:, None]).sum(axis=0))
        assert float(stored(svc, "chunks", "harbour")[f"harbour@{art.version}#c0"] @ expected) > 0.9999
    finally:
        svc.close()


def versions(n: int, tag: str) -> list[ArticleInput]:
    return [ArticleInput(id=f"a{i}", text=f"Story {i} is in its {tag} version today.\nA second line of story {i}.")
            for i in range(n)]


class CountingDeletes:
    """A collection that records its delete calls (and does them)."""

    def __init__(self, target, name: str, calls: list[str]) -> None:
        self._target, self._name, self._calls = target, name, calls

    def delete(self, *args, **kwargs):
        self._calls.append(self._name)
        return self._target.delete(*args, **kwargs)

    def __getattr__(self, name: str):
        return getattr(self._target, name)


def test_deletes_of_older_versions_are_one_call_per_collection(late: Services) -> None:
    calls: list[str] = []
    late.store.sentences = CountingDeletes(late.store.sentences, "sentences", calls)
    late.store.chunks = CountingDeletes(late.store.chunks, "chunks", calls)

    late.store.ingest_many(versions(3, "first"))
    assert calls == [], "new articles have no older version to delete"

    batch = [*versions(2, "second"), ArticleInput(id="new", text="A brand new story.")]
    results = late.store.ingest_many(batch)
    assert [r.status for r in results] == ["updated", "updated", "created"]
    assert sorted(calls) == ["chunks", "sentences"], "one delete per collection for the whole batch"
    for item in [*batch, versions(3, "first")[2]]:
        art = late.store.process(item)
        for coll, sep in ((late.store.sentences, ":"), (late.store.chunks, "#c")):
            ids = coll.get(where={"article_id": art.id}, include=[])["ids"]
            assert ids and all(f"@{art.version}{sep}" in i for i in ids), f"{art.id}: old vectors left or new lost"
    assert late.catalog.journal_pending() == []


def test_crash_before_the_batched_delete_is_repaired(late: Services, monkeypatch) -> None:
    late.store.ingest_many(versions(2, "first"))

    def crash(*args, **kwargs):
        raise RuntimeError("simulated crash before deleting older versions")

    monkeypatch.setattr(late.store, "_delete_vectors", crash)
    second = versions(2, "second")
    with pytest.raises(RuntimeError):
        late.store.ingest_many(second)
    monkeypatch.undo()
    # both new versions are visible; the journal remembers the cleanup that did not happen
    assert [late.catalog.get_article(f"a{i}")["text"] for i in range(2)] == [a.text for a in second]
    assert sorted((p["article_id"], p["state"]) for p in late.catalog.journal_pending()) == [
        ("a0", "published"), ("a1", "published")]

    assert late.store.repair() == 2
    for item in second:
        art = late.store.process(item)
        ids = late.store.sentences.get(where={"article_id": art.id}, include=[])["ids"]
        assert sorted(ids) == sorted(f"{art.id}@{art.version}:{s.index}" for s in art.indexed)
    assert [r.status for r in late.store.ingest_many(second)] == ["unchanged", "unchanged"]


def test_sentence_rows_carry_no_document_and_search_reads_texts_from_the_catalogue(late: Services) -> None:
    late.store.ingest(ArticleInput(id="harbour", text=TEXT, source="Coastal Gazette"))
    got = late.store.sentences.get(where={"article_id": "harbour"}, include=["documents"])
    assert got["ids"] and all(d is None for d in got["documents"])
    # a "how much" question: the answer-type prior needs the sentence text, now from the catalogue
    qvec = np.asarray(late.embedder.embed(["How much will the sea wall cost?"])[0], dtype=np.float32)
    cands, _, _ = late.retriever.candidates("How much will the sea wall cost?", qvec, Filters(), 10)
    matched = {key for key, c in cands.items() if c.type_match}
    art = late.store.process(ArticleInput(id="harbour", text=TEXT, source="Coastal Gazette"))
    cost = next(s.index for s in art.indexed if "14 million" in s.text)
    assert ("harbour", cost) in matched
    hits = late.retriever.search("How much will the sea wall cost?", k=3).sentences
    assert any("14 million pounds" in h.text for h in hits)


def test_a_batch_of_more_updated_articles_than_one_delete_can_name(late: Services) -> None:
    """Chroma's $or becomes one SQLite expression of depth <= 1000: ~500 clauses would fail."""
    late.store.ingest_many(versions(3, "first"))
    old = {f"a{i}": late.store.process(versions(3, "first")[i]).version for i in range(3)}
    keep = {f"ghost{i}": "v" for i in range(1200)}  # articles with nothing stored: harmless
    keep["a1"] = "not-the-stored-version"  # a1's stored vectors are older: deleted
    keep["a2"] = old["a2"]  # a2's stored vectors are the version kept
    late.store._delete_vectors(keep)
    for aid, left in (("a0", True), ("a1", False), ("a2", True)):
        ids = late.store.sentences.get(where={"article_id": aid}, include=[])["ids"]
        assert bool(ids) == left, aid
