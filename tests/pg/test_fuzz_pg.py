"""The schemathesis run of tests/ops/test_crash_fuzz.py (benchmarks/fuzz.py: the whole OpenAPI schema,
>= 1,000 generated cases, an admin key, the seed articles) against a ``newsdesk serve`` whose keys,
limits, catalogue and BM25 index are in PostgreSQL and whose vectors are on a Chroma server.

Same properties as on SQLite: no 5xx (neither seen by schemathesis nor in the server's access log),
every 4xx is problem+json (benchmarks/st_hooks.py), and, added here, every response conforms to
the schema the route declares (schemathesis' ``response_schema_conformance``).
"""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from benchmarks import fuzz
from vectorstore.server import ChromaServer

pytestmark = pytest.mark.timeout(900)


def test_schemathesis_against_a_postgresql_node_no_server_error_problem_json_and_conforming_responses(
        tmp_path: Path, pg_url: str, chroma_server: ChromaServer) -> None:
    res = fuzz.run(tmp_path / "data", max_examples=40, seed=1,
                   checks=f"{fuzz.CHECKS},response_schema_conformance",
                   database_url=pg_url, chroma_host=chroma_server.host, chroma_port=chroma_server.port,
                   collection_prefix=f"t{secrets.token_hex(4)}", feed_poll="false")
    assert res["cases"].get("generated", 0) >= 1000, res["output_tail"]
    assert res["exit_code"] == 0, res["output_tail"]
    assert res["server_5xx_in_log"] == 0
    assert not res["key_in_server_log"]
    assert sum(n for s, n in res["statuses"].items() if s.startswith("2")) > 100  # it got past auth and validation
    assert not (tmp_path / "data" / "catalog.sqlite3").exists()  # all of it in PostgreSQL
    print(f"schemathesis on PostgreSQL: {res['cases']} statuses {res['statuses']} in {res['seconds']} s")
