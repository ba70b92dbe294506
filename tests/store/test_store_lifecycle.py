"""Article lifecycle in the real store (Chroma + SQLite catalogue): create, unchanged, update,
delete, and crash-safety of interrupted writes (journal + repair)."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator

import pytest

from service.config import Settings
from service.errors import NotFound
from service.ingest.article import ArticleInput, ProcessedArticle
from service.runtime import Services, build_services
from service.store.catalog import Filters

V1 = ArticleInput(
    id="harbour",
    title="Sea wall approved",
    source="Coastal Gazette",
    published_at="2024-03-05",
    text=(
        "The harbour council approved a new sea wall on Tuesday.\n"
        "The project will cost about 14 million pounds, paid by grants and mooring fees.\n"
        "Residents were divided over the plan to protect the old town from storms.\n"
        "The Associated Press contributed to this report."
    ),
)
V2 = V1.model_copy(update={"text": (
    "The harbour council rejected the sea wall plan on Tuesday after a heated debate.\n"
    "Opponents said the flamingo sanctuary near the promenade would be destroyed.\n"
    "The Associated Press contributed to this report."
)})
OTHER = ArticleInput(id="bridge", source="River Times", published_at="2024-03-06",
                     text="The old railway bridge reopened to cyclists after repairs.\nTraffic was light on day one.")

V1_ONLY = "mooring fees grants 14 million pounds"
V2_ONLY = "flamingo sanctuary destroyed"


class Boom(RuntimeError):
    pass


def boom(art: ProcessedArticle) -> None:
    raise Boom(f"simulated crash before publishing {art.id}")


def vector_ids(services: Services, article_id: str | None = None) -> tuple[list[str], list[str]]:
    where = {"article_id": article_id} if article_id else None
    sents = services.store.sentences.get(where=where, include=[])["ids"]
    chunks = services.store.chunks.get(where=where, include=[])["ids"]
    return sorted(sents), sorted(chunks)


def found_sentences(services: Services, query: str, article_id: str) -> list[str]:
    res = services.retriever.search(query, k=20)
    return [h.text for h in res.sentences if h.article_id == article_id]


def assert_visible_version(services: Services, item: ArticleInput) -> None:
    """The catalogue row, its sentences and all of its vectors are exactly ``item``'s version."""
    art = services.store.process(item)
    row = services.catalog.get_article(art.id)
    assert row is not None
    assert row["text"] == item.text and row["version"] == art.version
    assert row["sentence_count"] == len(art.indexed) and row["chunk_count"] == len(art.chunks)
    assert [(s["idx"], s["start"], s["end"], s["text"], s["boilerplate"]) for s in row["sentences"]] == [
        (s.index, s.start, s.end, s.text, s.boilerplate) for s in art.sentences]
    for s in row["sentences"]:
        assert row["text"][s["start"] : s["end"]] == s["text"]
    sents, chunks = vector_ids(services, art.id)
    assert sents == sorted(f"{art.id}@{art.version}:{s.index}" for s in art.indexed), "orphan or missing vectors"
    assert chunks == sorted(f"{art.id}@{art.version}#c{c.index}" for c in art.chunks)
    assert services.catalog.journal_pending() == []


@pytest.fixture
def fresh_services(settings: Settings, embedder) -> Iterator[Callable[[], Services]]:
    """Build another Services on the same data dir (a restart); closed at teardown."""
    built: list[Services] = []

    def make() -> Services:
        svc = build_services(settings, embedder=embedder)
        built.append(svc)
        return svc

    yield make
    for svc in built:
        svc.close()


def test_create_then_identical_reingest_writes_nothing(services: Services, monkeypatch) -> None:
    res = services.store.ingest(V1)
    assert (res.status, res.sentences, res.boilerplate) == ("created", 3, 1)
    assert_visible_version(services, V1)
    before_ids = vector_ids(services)
    before_row = services.catalog.get_article("harbour")
    before_stats = services.store.stats()

    writes: list[str] = []
    for obj, name in [(services.store, "_write_vectors"), (services.store, "_delete_vectors"),
                      (services.catalog, "publish"), (services.catalog, "unpublish"),
                      (services.catalog, "journal_begin"), (services.catalog, "journal_done")]:
        monkeypatch.setattr(obj, name, lambda *a, _n=name, **k: writes.append(_n))

    again = services.store.ingest(ArticleInput.model_validate(V1.model_dump(mode="json")))
    assert again.status == "unchanged"
    assert (again.id, again.sentences, again.chunks, again.boilerplate) == (
        res.id, res.sentences, res.chunks, res.boilerplate)
    assert writes == []
    assert vector_ids(services) == before_ids
    assert services.store.stats() == before_stats
    after_row = services.catalog.get_article("harbour")
    assert after_row["updated_at"] == before_row["updated_at"]
    assert after_row == before_row


def test_changed_text_updates_and_leaves_no_orphans(services: Services) -> None:
    services.store.ingest_many([V1, OTHER])
    old = services.store.process(V1)
    old_row = services.catalog.get_article("harbour")
    other_ids = vector_ids(services, "bridge")

    res = services.store.ingest(V2)
    assert (res.status, res.sentences) == ("updated", 2)
    assert_visible_version(services, V2)
    all_sents, all_chunks = vector_ids(services)
    assert not [i for i in all_sents + all_chunks if f"@{old.version}" in i], "old version's vectors remain"
    assert vector_ids(services, "bridge") == other_ids, "another article's vectors were touched"
    new_row = services.catalog.get_article("harbour")
    assert new_row["ingested_at"] == old_row["ingested_at"]
    assert services.catalog.stats() == {"articles": 2, "sentences": 2 + 2, "pending": 0}
    assert any("flamingo" in t for t in found_sentences(services, V2_ONLY, "harbour"))
    assert not [t for t in found_sentences(services, V1_ONLY, "harbour") if "mooring" in t]


def test_metadata_only_change_is_an_update(services: Services) -> None:
    services.store.ingest(V1)
    res = services.store.ingest(V1.model_copy(update={"source": "Harbour Herald"}))
    assert res.status == "updated"
    assert services.catalog.get_article("harbour")["source"] == "Harbour Herald"
    metas = services.store.sentences.get(where={"article_id": "harbour"}, include=["metadatas"])["metadatas"]
    assert {m["source"] for m in metas} == {"Harbour Herald"}


def test_delete_removes_every_vector_and_the_row(services: Services) -> None:
    services.store.ingest_many([V1, OTHER])
    other_ids = vector_ids(services, "bridge")
    services.store.delete("harbour")
    assert services.catalog.get_article("harbour") is None
    assert vector_ids(services, "harbour") == ([], [])
    assert vector_ids(services) == other_ids
    assert services.catalog.journal_pending() == []
    assert not found_sentences(services, V1_ONLY, "harbour")
    rows, total = services.catalog.list_articles(Filters(), limit=10, offset=0)
    assert [r["id"] for r in rows] == ["bridge"] and total == 1
    with pytest.raises(NotFound):
        services.store.delete("harbour")
    # and it can come back
    assert services.store.ingest(V1).status == "created"
    assert_visible_version(services, V1)


RECOVERIES = ["repair", "ingest-again", "restart"]


def recover(mode: str, services: Services, make: Callable[[], Services], item: ArticleInput,
            expected_status: str) -> Services:
    services.store.before_publish = None
    if mode == "repair":
        assert services.store.repair() == 1
        return services
    if mode == "ingest-again":
        assert services.store.ingest(item).status == expected_status
        return services
    restarted = make()  # build_services runs repair() at start-up
    assert restarted.catalog.journal_pending() == []
    return restarted


@pytest.mark.parametrize("mode", RECOVERIES)
def test_crash_before_publish_of_a_new_article(services: Services, fresh_services, mode: str) -> None:
    services.store.ingest(OTHER)
    services.store.before_publish = boom
    with pytest.raises(Boom):
        services.store.ingest(V1)

    # vectors were written, but the article is not visible anywhere
    sents, chunks = vector_ids(services, "harbour")
    assert sents and chunks
    assert services.catalog.get_article("harbour") is None
    assert services.catalog.current_hash("harbour") is None
    assert not found_sentences(services, V1_ONLY, "harbour")
    assert not found_sentences(services, "harbour council approved a new sea wall", "harbour")
    rows, total = services.catalog.list_articles(Filters(), limit=10, offset=0)
    assert total == 1 and [r["id"] for r in rows] == ["bridge"]
    pending = services.catalog.journal_pending()
    assert [(p["article_id"], p["op"], p["state"]) for p in pending] == [("harbour", "upsert", "writing")]
    assert services.store.stats()["pending"] == 1

    svc = recover(mode, services, fresh_services, V1, "created")
    assert_visible_version(svc, V1)
    assert any("mooring" in t for t in found_sentences(svc, V1_ONLY, "harbour"))
    assert svc.catalog.stats()["articles"] == 2


@pytest.mark.parametrize("mode", RECOVERIES)
def test_crash_during_an_update_keeps_the_old_version(services: Services, fresh_services, mode: str) -> None:
    services.store.ingest(V1)
    old_row = services.catalog.get_article("harbour")
    services.store.before_publish = boom
    with pytest.raises(Boom):
        services.store.ingest(V2)

    # both versions' vectors exist, but readers see exactly the old version
    new = services.store.process(V2)
    assert any(f"@{new.version}" in i for i in vector_ids(services, "harbour")[0])
    row = services.catalog.get_article("harbour")
    assert row == old_row
    for s in row["sentences"]:
        assert row["text"][s["start"] : s["end"]] == s["text"]
    new_texts = {s.text for s in new.sentences}
    assert not new_texts & set(found_sentences(services, V2_ONLY, "harbour")), "unpublished sentences are searchable"
    hits = services.retriever.search(V1_ONLY, k=10).sentences
    assert any("mooring" in h.text for h in hits)
    for h in hits:  # every hit is a sentence of the visible (old) text at its offsets
        if h.article_id == "harbour":
            assert old_row["text"][h.start : h.end] == h.text
    assert services.catalog.journal_pending()[0]["article_id"] == "harbour"

    svc = recover(mode, services, fresh_services, V2, "updated")
    assert_visible_version(svc, V2)
    assert any("flamingo" in t for t in found_sentences(svc, V2_ONLY, "harbour"))
    assert not [t for t in found_sentences(svc, V1_ONLY, "harbour") if "mooring" in t]


def test_crash_after_publish_before_cleanup(services: Services, monkeypatch) -> None:
    services.store.ingest(V1)
    old = services.store.process(V1)

    def fail(*args, **kwargs):
        raise Boom("simulated crash while deleting old vectors")

    monkeypatch.setattr(services.store, "_delete_vectors", fail)
    with pytest.raises(Boom):
        services.store.ingest(V2)
    monkeypatch.undo()

    # the new version is visible; the old vectors are stale but ignored
    assert services.catalog.get_article("harbour")["text"] == V2.text
    assert any(f"@{old.version}" in i for i in vector_ids(services, "harbour")[0])
    assert [p["state"] for p in services.catalog.journal_pending()] == ["published"]
    assert not [t for t in found_sentences(services, V1_ONLY, "harbour") if "mooring" in t]

    assert services.store.repair() == 1
    assert_visible_version(services, V2)


def test_crash_in_a_batch_publishes_the_items_before_it(services: Services) -> None:
    def crash_on_bridge(art: ProcessedArticle) -> None:
        if art.id == "bridge":
            raise Boom("bridge")

    services.store.before_publish = crash_on_bridge
    with pytest.raises(Boom):
        services.store.ingest_many([V1, OTHER])
    assert services.catalog.get_article("harbour") is not None
    assert services.catalog.get_article("bridge") is None
    assert [p["article_id"] for p in services.catalog.journal_pending()] == ["bridge"]
    services.store.before_publish = None
    assert services.store.repair() == 1
    assert_visible_version(services, V1)
    assert_visible_version(services, OTHER)


def test_interrupted_delete_is_finished_by_repair(services: Services, monkeypatch) -> None:
    services.store.ingest(V1)
    calls = {"n": 0}
    real = services.store._delete_vectors

    def fail_first(*args, **kwargs):
        calls["n"] += 1
        raise Boom("crash while deleting vectors")

    monkeypatch.setattr(services.store, "_delete_vectors", fail_first)
    with pytest.raises(Boom):
        services.store.delete("harbour")
    monkeypatch.setattr(services.store, "_delete_vectors", real)
    assert services.catalog.get_article("harbour") is None
    assert [(p["op"]) for p in services.catalog.journal_pending()] == ["delete"]
    assert services.store.repair() == 1
    assert vector_ids(services, "harbour") == ([], [])
    assert services.catalog.journal_pending() == []


def test_next_ingest_run_repairs_pending_writes(services: Services) -> None:
    services.store.before_publish = boom
    with pytest.raises(Boom):
        services.store.ingest(V1)
    services.store.before_publish = None
    assert services.store.ingest(OTHER).status == "created"
    assert services.catalog.journal_pending() == []
    assert services.catalog.get_article("harbour") is not None


def test_ingest_does_not_rebuild_the_embedding_model(services: Services, monkeypatch) -> None:
    import onnxruntime

    sessions: list[str] = []

    def counting_session(path, *args, **kwargs):
        sessions.append(str(path))
        raise RuntimeError("stub: no model load in this test")  # Chroma catches it and warns

    monkeypatch.setattr(onnxruntime, "InferenceSession", counting_session)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "Could not reconstruct embedding function"
        services.store.ingest(OTHER)
    assert services.catalog.get_article("bridge") is not None
    assert sessions == [], f"{len(sessions)} embedding model(s) built while ingesting one article"


def test_a_second_process_opening_the_catalogue_does_not_break_lexical_search(tmp_path) -> None:
    """Each worker opens the catalogue at start-up.  Opening must not write FTS5 config: a config
    write made every connection that had already ranked a query fail with "SQL logic error"."""
    from service.ingest.article import process
    from service.store.catalog import Catalog

    first = Catalog(tmp_path / "catalog.sqlite3")
    art = process(ArticleInput(id="a1", source="AP", title="Troops", text="North Korea sent troops to Kursk."),
                  max_tokens=64, overlap_tokens=8)
    first.publish(art)
    assert [h[:2] for h in first.lexical_search("troops", Filters(), 5)] == [("a1", 0)]
    second = Catalog(tmp_path / "catalog.sqlite3")  # as another worker does
    assert [h[:2] for h in first.lexical_search("troops", Filters(), 5)] == [("a1", 0)]
    assert [h[:2] for h in second.lexical_search("Kursk", Filters(), 5)] == [("a1", 0)]
    first.close()
    second.close()
