"""A client that leaves a streamed answer must not leave the model busy.

The desk aborts a streaming answer when a new question is asked; a local model serves one
request at a time, so a stream left open until garbage collection would make the next
question wait (local_queue_timeout_s, 300 s) and fail.
"""

from __future__ import annotations

import gc
import time

import httpx

from tests.web.live import Live, SlowStreamFake

QUESTION = "Who thanked North Korea for sending troops to fight alongside Russia?"  # the fake's reply answers it


def test_leaving_a_stream_closes_the_model_stream_at_once(live: Live) -> None:
    fake = live.services.backends["fake"]
    assert isinstance(fake, SlowStreamFake)
    fake.push("word " * 300 + "[S1]")  # about 12 s of streaming
    before = fake.abandoned
    gc.disable()  # prove the stream is closed, not collected as garbage by luck
    try:
        with httpx.Client(base_url=live.url, timeout=30) as client, \
                client.stream("POST", "/v1/ask", json={"question": QUESTION, "stream": True}) as r:
            assert r.status_code == 200
            for line in r.iter_lines():
                if line.startswith("event: delta"):
                    break
        deadline = time.monotonic() + 5
        while fake.abandoned == before and time.monotonic() < deadline:
            time.sleep(0.05)
        assert fake.abandoned == before + 1, "the model stream was left open after the client went away"
    finally:
        gc.enable()
    with httpx.Client(base_url=live.url, timeout=30) as client:  # and the next question is answered
        body = client.post("/v1/ask", json={"question": QUESTION}).json()
    assert body["citations"]
