"""API keys, one contract on both engines: the same assertions against SQLite and PostgreSQL,
through two stores (two pools, as two nodes have) on the same database."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import closing, contextmanager

import psycopg
import pytest

from service.config import Settings
from service.errors import InvalidInput, NotFound, Unauthorized
from service.store import sqlite
from service.store.engine import open_keys
from service.store.keys import Keys


@pytest.fixture
def two(engine_settings: Settings) -> Iterator[tuple[Keys, Keys]]:
    with closing(open_keys(engine_settings)) as a, closing(open_keys(engine_settings)) as b:
        yield a, b


def test_the_contract(two: tuple[Keys, Keys]) -> None:
    keys, _ = two
    with pytest.raises(InvalidInput, match="name"):
        keys.create("", "read")
    with pytest.raises(InvalidInput, match="scope"):
        keys.create("bot", "owner")
    first, second = keys.create("desk-bot", "write"), keys.create("reader", "read")
    assert first.key.startswith(f"ndk_{first.id}_") and first.id != second.id
    listed = keys.list()
    assert {(k.id, k.name, k.scope, k.revoked_at) for k in listed} == \
        {(first.id, "desk-bot", "write", None), (second.id, "reader", "read", None)}
    assert listed == sorted(listed, key=lambda k: (k.created_at, k.id))
    free_id = next(i for i in ("00000000", "11111111", "22222222") if i not in (first.id, second.id))

    info = keys.verify(f"  {first.key} ")
    assert (info.id, info.scope) == (first.id, "write")
    with pytest.raises(Unauthorized, match="malformed"):
        keys.verify(first.key + "!")
    with pytest.raises(Unauthorized, match="unknown"):
        keys.verify(f"ndk_{first.id}_{'A' * 43}")  # the right id, a wrong secret
    with pytest.raises(Unauthorized, match="unknown"):
        keys.verify(f"ndk_{free_id}_{'A' * 43}")

    revoked = keys.revoke(second.id)
    assert revoked.id == second.id and revoked.revoked_at is not None
    with pytest.raises(InvalidInput, match="already revoked"):
        keys.revoke(second.id)
    with pytest.raises(NotFound):
        keys.revoke(free_id)
    with pytest.raises(Unauthorized, match="revoked"):
        keys.verify(second.key)
    assert [k.id for k in keys.list(include_revoked=False)] == [first.id]
    assert {k.id for k in keys.list()} == {first.id, second.id}


def test_a_key_made_on_one_store_works_on_the_other_until_revoked_there(two: tuple[Keys, Keys]) -> None:
    a, b = two
    made = a.create("node-a", "admin")
    info = b.verify(made.key)
    assert (info.id, info.name, info.scope) == (made.id, "node-a", "admin")
    # B's use is recorded (bookkeeping), and A sees it
    assert [k.last_used_at is not None for k in a.list() if k.id == made.id] == [True]
    a.revoke(made.id)
    with pytest.raises(Unauthorized, match="revoked"):
        b.verify(made.key)
    assert [k.revoked_at is not None for k in b.list()] == [True]


@contextmanager
def row_held(settings: Settings, key_id: str) -> Iterator[None]:
    """Another session holds the key's row (PostgreSQL) or the file's write lock (SQLite)."""
    if settings.database_url:
        with psycopg.connect(settings.database_url) as conn:  # a transaction is open until the block ends
            conn.execute("SELECT * FROM api_keys WHERE id = %s FOR UPDATE", (key_id,))
            yield
            conn.rollback()
    else:
        db = sqlite.connect(settings.catalog_path)
        db.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            db.execute("ROLLBACK")
            db.close()


def test_bookkeeping_never_waits_for_a_busy_row(engine_settings: Settings) -> None:
    """`last_used_at` is skipped, not waited for, while another writer holds the row: the request
    goes on; the next verify records it."""
    with closing(open_keys(engine_settings)) as keys:
        made = keys.create("busy", "read")
        done = threading.Event()
        seen: list[str] = []

        def verify() -> None:
            seen.append(keys.verify(made.key).id)
            done.set()

        with row_held(engine_settings, made.id):
            worker = threading.Thread(target=verify, daemon=True)
            worker.start()
            assert done.wait(20), "verify waited for the busy row"
            assert seen == [made.id]
        assert [k.last_used_at for k in keys.list()] == [None]  # skipped while busy
        keys.verify(made.key)
        assert [k.last_used_at is not None for k in keys.list()] == [True]
