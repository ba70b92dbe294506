"""Rate limits in PostgreSQL (table ``rate_limits``): GCRA as one statement per hit, so every
node counts against the same row.

The ``INSERT ... ON CONFLICT DO UPDATE ... WHERE`` moves the row's TAT forward only when the hit
fits; PostgreSQL locks the row for the decision, so simultaneous hits from any number of nodes are
counted exactly once each.  A refused hit writes nothing.  The same statement reads the TAT it
started from, to size Retry-After.  Times come from the database's clock (one clock for all
nodes) unless ``now`` is given.  The counters are bookkeeping: the pool's sessions commit
without waiting for the WAL flush (``synchronous_commit = off``); a crash may forget the last
fraction of a second of hits, never more.
"""

from __future__ import annotations

from service.store import pg, pg_schema

_HIT = """
WITH clock AS (SELECT COALESCE(%(now)s::float8, extract(epoch FROM statement_timestamp())::float8) AS now),
hit AS (
    INSERT INTO rate_limits AS r (bucket, ident, tat)
    SELECT %(bucket)s, %(ident)s, clock.now + %(interval)s FROM clock
    ON CONFLICT (bucket, ident) DO UPDATE SET tat = GREATEST(r.tat, (SELECT now FROM clock)) + %(interval)s
    WHERE GREATEST(r.tat, (SELECT now FROM clock)) + %(interval)s - (SELECT now FROM clock) <= %(period)s
    RETURNING r.tat)
SELECT clock.now, EXISTS (SELECT FROM hit) AS allowed,
       (SELECT tat FROM rate_limits WHERE bucket = %(bucket)s AND ident = %(ident)s) AS seen
FROM clock"""


class PgRateLimiter:
    def __init__(self, url: str) -> None:
        self.url = url
        pg_schema.ensure(url)
        self._pool = pg.open_pool(url, name="newsdesk-limits", session=("SET synchronous_commit = off",))

    def hit(self, bucket: str, ident: str, limit: tuple[int, float], *, now: float | None = None) -> float | None:
        """Count one request. None when it is allowed; else the seconds until one would be."""
        count, period = limit
        interval = period / count
        with pg.connection(self._pool) as db:
            row = db.execute(_HIT, {"now": now, "bucket": bucket, "ident": ident, "interval": interval,
                                    "period": period}).fetchone()
        assert row is not None
        if row["allowed"]:
            return None
        # ``seen`` is the statement's snapshot: a hit that committed meanwhile may have moved the
        # TAT further, and the wait is then longer than this but at most one interval
        tat = row["now"] if row["seen"] is None else row["seen"]
        wait = max(tat, row["now"]) + interval - row["now"] - period
        return wait if wait > 0 else interval

    def prune(self, *, now: float | None = None) -> int:
        """Drop rows whose allowance is full again (their TAT is in the past)."""
        with pg.connection(self._pool) as db:
            return db.execute("DELETE FROM rate_limits WHERE tat < COALESCE(%s::float8, "
                              "extract(epoch FROM statement_timestamp())::float8)", (now,)).rowcount

    def close(self) -> None:
        self._pool.close()
