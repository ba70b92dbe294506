"""Chunking: sentence-aligned token windows with bounded overlap and stable ids."""

from __future__ import annotations

import itertools
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.ingest.article import ArticleInput, Sentence, chunk, process, segment
from service.store.articles import chunk_vector_id, sentence_vector_id
from service.tokens import count_tokens
from tests.conftest import SHARED_DATA

REALTIMEQA = SHARED_DATA / "realtimeqa_2023" / "docs_gcs.jsonl"
WORDS = ["troops", "Kursk", "said", "the", "North", "Korea", "10,000", "“quoted”", "U.S.", "officials", "—", "é"]


def tokens(s: Sentence) -> int:
    return count_tokens(s.text)


def check_chunks(sentences: list[Sentence], max_tokens: int, overlap: int) -> None:
    """The invariants every chunking must keep, measured per sentence (the chunker's unit)."""
    chunks = chunk(sentences, max_tokens=max_tokens, overlap_tokens=overlap)
    by_index = {s.index: s for s in sentences}
    indexed = [s.index for s in sentences if s.boilerplate is None]
    position = {idx: n for n, idx in enumerate(indexed)}
    assert [c.index for c in chunks] == list(range(len(chunks)))
    covered: set[int] = set()
    for c in chunks:
        assert c.sentence_indexes, c
        assert all(i in position for i in c.sentence_indexes), "boilerplate or unknown sentence in a chunk"
        pos = [position[i] for i in c.sentence_indexes]
        assert pos == list(range(pos[0], pos[0] + len(pos))), f"not contiguous over indexed sentences: {pos}"
        assert c.tokens == count_tokens(c.text)  # the chunk text itself is what is measured
        if len(c.sentence_indexes) > 1:
            assert c.tokens <= max_tokens, (c.tokens, max_tokens)
        assert c.text == " ".join(by_index[i].text for i in c.sentence_indexes)
        covered.update(c.sentence_indexes)
    assert covered == set(indexed), "an indexed sentence is in no chunk"
    for a, b in itertools.pairwise(chunks):
        shared = [i for i in b.sentence_indexes if i in set(a.sentence_indexes)]
        # overlap is a tail of the previous window and a head of the next one
        assert shared == list(a.sentence_indexes[len(a.sentence_indexes) - len(shared):])
        assert shared == list(b.sentence_indexes[: len(shared)])
        assert sum(tokens(by_index[i]) for i in shared) <= overlap
        assert position[b.sentence_indexes[0]] > position[a.sentence_indexes[0]], "window did not advance"


def sentences_from(texts: list[str], boiler: set[int] = frozenset()) -> list[Sentence]:
    out, pos = [], 0
    for i, t in enumerate(texts):
        out.append(Sentence(i, pos, pos + len(t), t, "credit" if i in boiler else None))
        pos += len(t) + 1
    return out


_sentence_text = st.lists(st.sampled_from(WORDS), min_size=1, max_size=40).map(lambda w: " ".join(w) + ".")


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)
@given(
    texts=st.lists(_sentence_text, max_size=25),
    boiler=st.sets(st.integers(0, 24), max_size=5),
    max_tokens=st.integers(8, 120),
    overlap_share=st.floats(0, 0.9),
)
def test_chunk_invariants_property(texts, boiler, max_tokens, overlap_share) -> None:
    overlap = int(max_tokens * overlap_share)
    check_chunks(sentences_from(texts, boiler), max_tokens, overlap)


@pytest.mark.parametrize(("max_tokens", "overlap"), [(192, 32), (64, 16), (32, 0)])
def test_chunk_invariants_on_the_seed(seed_text: str, max_tokens: int, overlap: int) -> None:
    check_chunks(segment(seed_text), max_tokens, overlap)


@pytest.mark.skipif(not REALTIMEQA.is_file(), reason=f"{REALTIMEQA} is not available")
def test_chunk_invariants_on_real_articles() -> None:
    with REALTIMEQA.open(encoding="utf-8") as fh:
        for line in itertools.islice(fh, 40):
            text = json.loads(line).get("text") or ""
            check_chunks(segment(text), 96, 24)


def test_sentence_longer_than_the_window_is_a_chunk_of_its_own() -> None:
    long = " ".join(["troops"] * 80) + "."
    sents = sentences_from(["Short one.", long, "Another short one."])
    chunks = chunk(sents, max_tokens=20, overlap_tokens=5)
    assert (1,) in [c.sentence_indexes for c in chunks]
    assert count_tokens(long) > 20
    check_chunks(sents, 20, 5)


def test_zero_overlap_windows_partition_the_sentences(seed_text: str) -> None:
    chunks = chunk(segment(seed_text), max_tokens=48, overlap_tokens=0)
    flat = [i for c in chunks for i in c.sentence_indexes]
    assert flat == sorted(set(flat))


def test_overlap_is_used_when_it_fits(seed_text: str) -> None:
    chunks = chunk(segment(seed_text), max_tokens=96, overlap_tokens=48)
    assert any(set(a.sentence_indexes) & set(b.sentence_indexes) for a, b in itertools.pairwise(chunks))


def test_chunks_and_ids_are_stable_across_runs(seed_text: str) -> None:
    item = ArticleInput(id="seed", text=seed_text, source="AP", published_at="2025-04-28")
    a = process(item, max_tokens=64, overlap_tokens=16)
    b = process(ArticleInput.model_validate(item.model_dump(mode="json")), max_tokens=64, overlap_tokens=16)
    assert a.version == b.version and a.content_hash == b.content_hash
    assert a.chunks == b.chunks and a.sentences == b.sentences
    ids_a = [chunk_vector_id(a.id, a.version, c.index) for c in a.chunks]
    ids_b = [chunk_vector_id(b.id, b.version, c.index) for c in b.chunks]
    assert ids_a == ids_b and len(set(ids_a)) == len(ids_a)
    assert [sentence_vector_id(a.id, a.version, s.index) for s in a.indexed] == [
        sentence_vector_id(b.id, b.version, s.index) for s in b.indexed]
    # derived ids (no explicit id) are stable too: from the url, or from the text
    no_id = ArticleInput(text=seed_text)
    assert process(no_id, max_tokens=64, overlap_tokens=16).id == process(
        ArticleInput(text=seed_text), max_tokens=64, overlap_tokens=16).id
    with_url = ArticleInput(text=seed_text, url="https://www.example.com/a/b/")
    assert process(with_url, max_tokens=64, overlap_tokens=16).id == process(
        ArticleInput(text="other text", url="https://example.com/a/b"), max_tokens=64, overlap_tokens=16).id


def test_changed_text_changes_the_version_but_not_the_id(seed_text: str) -> None:
    a = process(ArticleInput(id="seed", text=seed_text), max_tokens=64, overlap_tokens=16)
    b = process(ArticleInput(id="seed", text=seed_text + "\nOne more line."), max_tokens=64, overlap_tokens=16)
    assert a.id == b.id and a.version != b.version


def test_chunk_text_itself_fits_the_token_window() -> None:
    # each sentence is 5 tokens alone but 6 after a space: 5+5+5 = 15 fits a 16-token budget,
    # the joined text "10,000 troops. 20,000 tanks. 30,000 guns." does not
    sents = sentences_from(["10,000 troops.", "20,000 tanks.", "30,000 guns."])
    chunks = chunk(sents, max_tokens=16, overlap_tokens=0)
    for c in chunks:
        if len(c.sentence_indexes) > 1:
            assert count_tokens(c.text) <= 16, (c.text, count_tokens(c.text))
        assert c.tokens == count_tokens(c.text)


def test_every_chunk_adds_new_sentences() -> None:
    big = " ".join(["troops"] * 25) + "."  # 26 tokens
    sents = sentences_from(["Ten tokens in this one, more or less.", "Another short sentence here.", big])
    chunks = chunk(sents, max_tokens=30, overlap_tokens=15)
    for a, b in itertools.pairwise(chunks):
        assert not set(b.sentence_indexes) <= set(a.sentence_indexes), (a.sentence_indexes, b.sentence_indexes)
