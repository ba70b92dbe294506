"""Real chat clients against a real desk on loopback: the `openai` SDK, simonw's `llm` CLI and
LangChain's ChatOpenAI. Each must show the answer with its sources."""

from __future__ import annotations

from pathlib import Path

import openai
import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langchain_openai import ChatOpenAI

from tests.chat.conftest import QUESTION, Desk
from tests.llm_cli import llm_home, run_llm

KEY = "unused-with-auth-off"


@pytest.fixture
def client(desk: Desk) -> openai.OpenAI:
    return openai.OpenAI(base_url=desk.v1, api_key=KEY, max_retries=0)


def test_openai_create_gives_typed_annotations_and_our_extension(client: openai.OpenAI, desk: Desk) -> None:
    completion = client.chat.completions.create(model="newsdesk", messages=[{"role": "user", "content": QUESTION}])
    msg = completion.choices[0].message
    assert msg.annotations, "typed annotations"
    for a in msg.annotations:
        assert a.type == "url_citation"
        span = msg.content[a.url_citation.start_index:a.url_citation.end_index]  # type: ignore[index]
        assert span.startswith("[") and span.endswith("]")
        assert a.url_citation.url.startswith(f"{desk.url}/articles/")
    ext = completion.model_extra["newsdesk"]  # type: ignore[index]
    assert ext["citations"] and ext["mode"] in ("written", "quoted")
    assert completion.usage is not None and completion.usage.total_tokens > 0


def test_openai_stream_true_joins_to_the_same_answer(client: openai.OpenAI) -> None:
    whole = client.chat.completions.create(model="newsdesk", messages=[{"role": "user", "content": QUESTION}])
    stream = client.chat.completions.create(model="newsdesk", messages=[{"role": "user", "content": QUESTION}],
                                            stream=True, stream_options={"include_usage": True})
    text, usage = "", None
    for chunk in stream:
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
        usage = chunk.usage or usage
    assert text == whole.choices[0].message.content
    assert usage is not None and usage.total_tokens > 0


def test_openai_stream_helper_collects_annotations_in_the_final_completion(client: openai.OpenAI) -> None:
    with client.chat.completions.stream(model="newsdesk-bare",
                                        messages=[{"role": "user", "content": QUESTION}]) as stream:
        for _ in stream:
            pass
        final = stream.get_final_completion()
    msg = final.choices[0].message
    assert msg.annotations and "Sources:" not in (msg.content or "")
    assert all(msg.content[a.url_citation.start_index:a.url_citation.end_index].startswith("[")  # type: ignore[index]
               for a in msg.annotations)


def test_openai_errors_are_typed(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as exc:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": QUESTION}])
    assert exc.value.code == "model_not_found" and exc.value.param == "model"
    with pytest.raises(openai.BadRequestError) as bad:
        client.chat.completions.create(model="newsdesk", messages=[{"role": "assistant", "content": "hi"}])
    assert bad.value.param == "messages"
    assert [m.id for m in client.models.list()] == ["newsdesk", "newsdesk-bare"]


def test_openai_follow_up_is_rewritten_to_stand_alone(client: openai.OpenAI, desk: Desk) -> None:
    before = len(desk.fake.calls)
    desk.fake.push("Did Russia retake the Kursk region from Ukraine?")  # the rewrite call's reply
    completion = client.chat.completions.create(model="newsdesk", messages=[
        {"role": "user", "content": "What did Putin thank North Korea for?"},
        {"role": "assistant", "content": "For sending troops. [1]\n\nSources:\n[1] [x](http://x), X: “y”"},
        {"role": "user", "content": "And did they retake it?"}])
    ext = completion.model_extra["newsdesk"]  # type: ignore[index]
    assert ext["standalone_question"] == "Did Russia retake the Kursk region from Ukraine?"
    rewrite = desk.fake.calls[before]
    shown = rewrite.messages[-1].content
    assert "And did they retake it?" in shown and "What did Putin thank North Korea for?" in shown
    assert "Sources:" not in shown, "our own sources list is not history"
    assert completion.choices[0].message.annotations


@pytest.fixture
def home(tmp_path: Path, desk: Desk) -> Path:
    return llm_home(tmp_path, desk.v1)


@pytest.mark.parametrize("flags", [[], ["--no-stream"]])
def test_llm_cli_shows_the_answer_and_its_sources(home: Path, flags: list[str]) -> None:
    done = run_llm(["-m", "newsdesk", *flags, QUESTION], home)
    assert done.returncode == 0, done.stderr
    assert "[1]" in done.stdout and "\nSources:\n[1] [" in done.stdout and "Fox News" in done.stdout


def test_langchain_chat_openai_invoke_and_stream(desk: Desk) -> None:
    chat = ChatOpenAI(model="newsdesk", base_url=desk.v1, api_key=KEY, max_retries=0)  # type: ignore[arg-type]
    reply = chat.invoke([HumanMessage(QUESTION)])
    assert isinstance(reply, AIMessage) and "Sources:" in str(reply.content) and "[1]" in str(reply.content)
    streamed = "".join(str(chunk.content) for chunk in chat.stream([HumanMessage(QUESTION)]))
    assert streamed == reply.content
