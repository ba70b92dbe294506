"""/v1/chat/completions and /v1/models on the wire: OpenAI's shapes, our citations inside them."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest

from tests.chat.conftest import QUESTION, Desk


def post(desk: Desk, body: dict[str, Any], **kw: Any) -> httpx.Response:
    return httpx.post(f"{desk.v1}/chat/completions", json=body, timeout=60, **kw)


def ask(question: str = QUESTION, model: str = "newsdesk", **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": question}], **extra}


def article_text(desk: Desk, article_id: str) -> str:
    return httpx.get(f"{desk.v1}/articles/{article_id}", timeout=10).json()["text"]


def events(raw: str) -> list[dict[str, Any] | str]:
    out: list[dict[str, Any] | str] = []
    for block in raw.strip().split("\n\n"):
        data = [line.removeprefix("data: ") for line in block.split("\n") if line.startswith("data: ")]
        if data:
            out.append(data[0] if data[0] == "[DONE]" else json.loads(data[0]))
    return out


def test_models_lists_the_desk_modes(desk: Desk) -> None:
    body = httpx.get(f"{desk.v1}/models", timeout=10).json()
    assert body["object"] == "list"
    assert [m["id"] for m in body["data"]] == ["newsdesk", "newsdesk-bare"]
    assert all(m["object"] == "model" and isinstance(m["created"], int) for m in body["data"])
    assert httpx.get(f"{desk.v1}/models/newsdesk", timeout=10).json()["id"] == "newsdesk"


def test_every_marker_has_its_annotation_and_every_quote_is_exact(desk: Desk) -> None:
    r = post(desk, ask())
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "chat.completion" and body["model"] == "newsdesk"
    choice = body["choices"][0]
    content, notes = choice["message"]["content"], choice["message"]["annotations"]
    assert choice["finish_reason"] == "stop"
    markers = [(m.start(), m.end()) for m in re.finditer(r"\[\d+\]", content)]
    assert markers and [(a["url_citation"]["start_index"], a["url_citation"]["end_index"]) for a in notes] == markers
    ext = body["newsdesk"]
    by_marker = {c["marker"]: c for c in ext["citations"]}
    for a in notes:
        cite = a["url_citation"]
        n = int(content[cite["start_index"] + 1:cite["end_index"] - 1])
        c = by_marker[n]
        # the URL is the cited sentence on the desk: unique per sentence
        assert cite["url"] == f"{desk.url}/articles/{c['article_id']}#s{c['sentence_id'].rsplit(':', 1)[1]}"
        assert c["source"] in cite["title"]
        assert article_text(desk, c["article_id"])[c["start"]:c["end"]] == c["quote"]
    urls = {a["url_citation"]["url"] for a in notes}
    assert len(urls) == len(by_marker)
    # the text carries its sources for clients that show text only
    assert "\n\nSources:\n[1] [" in content and f"“{by_marker[1]['quote']}”" in content
    assert set(body["usage"]) == {"prompt_tokens", "completion_tokens", "total_tokens"}
    assert body["usage"]["total_tokens"] == body["usage"]["prompt_tokens"] + body["usage"]["completion_tokens"] > 0
    assert ext["mode"] in ("written", "quoted") and ext["standalone_question"] is None


def test_bare_leaves_the_sources_to_the_annotations(desk: Desk) -> None:
    full = post(desk, ask()).json()["choices"][0]["message"]
    bare = post(desk, ask(model="newsdesk-bare")).json()["choices"][0]["message"]
    assert "Sources:" not in bare["content"] and full["content"].startswith(bare["content"])
    assert bare["annotations"] and all(a["url_citation"]["end_index"] <= len(bare["content"])
                                       for a in bare["annotations"])


def test_the_stream_sends_role_content_annotations_finish_usage_done(desk: Desk) -> None:
    whole = post(desk, ask()).json()
    with httpx.stream("POST", f"{desk.v1}/chat/completions", timeout=60,
                      json=ask(stream=True, stream_options={"include_usage": True})) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        got = events("".join(r.iter_text()))
    assert got[-1] == "[DONE]"
    chunks = [c for c in got if isinstance(c, dict)]
    assert {c["id"] for c in chunks} == {chunks[0]["id"]} and all(c["object"] == "chat.completion.chunk"
                                                                  for c in chunks)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    with_notes = [i for i, d in enumerate(deltas) if "annotations" in d]
    assert len(with_notes) == 1, "every annotation in one chunk"
    content = "".join(d.get("content", "") for d in deltas)
    assert content == whole["choices"][0]["message"]["content"]
    assert deltas[with_notes[0]]["annotations"] == whole["choices"][0]["message"]["annotations"]
    assert all(set(d) <= {"role", "content", "annotations"} for d in deltas), "nothing of ours inside delta"
    assert "newsdesk" in chunks[with_notes[0]] and "newsdesk" not in deltas[with_notes[0]]
    finish = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]]
    assert finish[-1] == "stop" and finish.count("stop") == 1
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] > 0


def test_stream_without_include_usage_has_no_usage_chunk(desk: Desk) -> None:
    with httpx.stream("POST", f"{desk.v1}/chat/completions", json=ask(stream=True), timeout=60) as r:
        got = events("".join(r.iter_text()))
    assert all(c["choices"] for c in got if isinstance(c, dict))


def test_stream_is_false_unless_set_and_unknown_fields_are_ignored(desk: Desk) -> None:
    r = post(desk, ask(seed=7, top_p=0.5, tools=[], temperature=0.2, user="ana", frequency_penalty=0))
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")


def test_an_abstention_says_so_with_no_annotations(desk: Desk) -> None:
    body = post(desk, ask("Who won the 2022 World Cup?")).json()
    msg = body["choices"][0]["message"]
    assert msg["content"] == "The indexed sources do not answer this question." and msg["annotations"] == []
    assert body["newsdesk"]["abstained"] is True and body["newsdesk"]["evidence"]


def test_max_tokens_cuts_at_a_sentence_and_says_length(desk: Desk) -> None:
    whole = post(desk, ask()).json()["choices"][0]["message"]["content"]
    cut = post(desk, ask(max_tokens=40)).json()
    msg, finish = cut["choices"][0]["message"], cut["choices"][0]["finish_reason"]
    assert finish == "length" and whole.startswith(msg["content"]) and len(msg["content"]) < len(whole)
    assert all(a["url_citation"]["end_index"] <= len(msg["content"]) for a in msg["annotations"])


@pytest.mark.parametrize(("body", "status", "param", "code"), [
    (ask(model="gpt-4o"), 404, "model", "model_not_found"),
    ({"model": "newsdesk", "messages": []}, 400, "messages", "invalid_input"),
    ({"model": "newsdesk", "messages": [{"role": "assistant", "content": "hi"}]}, 400, "messages", "invalid_input"),
    ({"model": "newsdesk", "messages": [{"role": "wizard", "content": "hi"}]}, 400, "messages.0.role",
     "invalid_input"),
    (ask(n=2), 400, "n", "invalid_input"),
    ({"messages": [{"role": "user", "content": "hi"}]}, 400, "model", "invalid_input"),
])
def test_errors_use_openais_body(desk: Desk, body: dict[str, Any], status: int, param: str, code: str) -> None:
    r = post(desk, body)
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert set(err) == {"message", "type", "param", "code"}
    assert err["param"] == param and err["code"] == code and err["message"]
    assert err["type"] == ("not_found_error" if status == 404 else "invalid_request_error")


def test_broken_json_is_an_openai_400(desk: Desk) -> None:
    r = httpx.post(f"{desk.v1}/chat/completions", content=b"{", timeout=10,
                   headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error"


def test_other_routes_keep_problem_json(desk: Desk) -> None:
    r = httpx.post(f"{desk.v1}/ask", json={}, timeout=10)
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"


def test_content_parts_are_read_as_text(desk: Desk) -> None:
    body = {"model": "newsdesk", "messages": [
        {"role": "system", "content": "You are a pirate."},
        {"role": "user", "content": [{"type": "text", "text": QUESTION}]}]}
    r = post(desk, body)
    assert r.status_code == 200 and r.json()["choices"][0]["message"]["annotations"]
