"""API keys in PostgreSQL (table ``api_keys``): the :class:`~service.store.keys.Keys` contract,
shared by every node on one database.  Each store has a pool of its own; ``last_used_at`` is
bookkeeping, written without waiting for the WAL flush (``synchronous_commit = off``) and
skipped when the row is busy for more than 200 ms, as the SQLite store does.
"""

from __future__ import annotations

from collections.abc import Sequence

from psycopg.errors import LockNotAvailable

from service.store import pg, pg_schema
from service.store.keys import Keys, Row


class PgKeyStore(Keys):
    def __init__(self, url: str) -> None:
        self.url = url
        pg_schema.ensure(url)
        self._pool = pg.open_pool(url, name="newsdesk-keys")

    def _insert(self, key_id: str, name: str, scope: str, digest: str, created_at: str) -> bool:
        with pg.connection(self._pool) as db:
            return db.execute("INSERT INTO api_keys(id, name, scope, hash, created_at) VALUES (%s,%s,%s,%s,%s) "
                              "ON CONFLICT (id) DO NOTHING", (key_id, name, scope, digest, created_at)).rowcount > 0

    def _rows(self) -> Sequence[Row]:
        with pg.connection(self._pool) as db:
            return db.execute("SELECT * FROM api_keys ORDER BY created_at, id").fetchall()

    def _get(self, key_id: str) -> Row | None:
        with pg.connection(self._pool) as db:
            row: Row | None = db.execute("SELECT * FROM api_keys WHERE id=%s", (key_id,)).fetchone()
            return row

    def _mark_revoked(self, key_id: str, at: str) -> bool:
        with pg.connection(self._pool) as db:
            return db.execute("UPDATE api_keys SET revoked_at=%s WHERE id=%s AND revoked_at IS NULL",
                              (at, key_id)).rowcount > 0

    def _touch(self, key_id: str, now: float) -> None:
        with pg.connection(self._pool) as db:
            try:
                with db.transaction():
                    db.execute("SELECT set_config('synchronous_commit', 'off', true), "
                               "set_config('lock_timeout', '200ms', true)")
                    db.execute("UPDATE api_keys SET last_used_at=%s WHERE id=%s", (now, key_id))
            except LockNotAvailable:  # the row is busy: skip, the next request retries
                pass

    def close(self) -> None:
        self._pool.close()
