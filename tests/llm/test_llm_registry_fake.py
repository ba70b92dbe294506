"""Registry and FakeBackend logic, plus the StreamHandle contract and the LangChain adapter."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from service.config import Settings
from service.errors import ConfigError, UpstreamUnavailable
from service.llm.base import ChatBackend, ChatMessage, Completion, StreamGen, as_langchain
from service.llm.fake import INSUFFICIENT, FakeBackend, default_reply
from service.llm.registry import available, backend_from_settings, create_backend, register, unregister


def settings(tmp_path: Path, **overrides: object) -> Settings:
    return Settings(data_dir=tmp_path / "data", cache_dir=tmp_path / "cache", **overrides)  # type: ignore[arg-type]


def user(text: str) -> list[ChatMessage]:
    return [ChatMessage("system", "Answer with citations."), ChatMessage("user", text)]


# --- registry ----------------------------------------------------------------------------


def test_builtins_are_registered() -> None:
    assert {"openai", "local", "fake"} <= set(available())


def test_create_fake_through_registry(tmp_path: Path) -> None:
    backend = create_backend("fake", settings(tmp_path), "fake-xl")
    assert isinstance(backend, FakeBackend)
    assert (backend.name, backend.model) == ("fake", "fake-xl")
    assert backend_from_settings(settings(tmp_path, llm_backend="fake")).name == "fake"


def test_unknown_backend_names_the_choices(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        create_backend("gpt-banana", settings(tmp_path))
    assert "gpt-banana" in info.value.detail
    for name in ("fake", "local", "openai"):
        assert name in info.value.detail


def test_register_custom_backend_and_refuse_duplicates(tmp_path: Path) -> None:
    shared = FakeBackend(["from the registry"])
    try:
        register("test-shared")(lambda s, m: shared)
        assert "test-shared" in available()
        assert create_backend("test-shared", settings(tmp_path)).complete(user("q")).text == "from the registry"
        with pytest.raises(ConfigError, match="already registered"):
            register("test-shared")(lambda s, m: shared)
        register("test-shared", replace=True)(lambda s, m: FakeBackend(["replaced"]))
        assert create_backend("test-shared", settings(tmp_path)).complete(user("q")).text == "replaced"
    finally:
        unregister("test-shared")
    assert "test-shared" not in available()


# --- fake backend --------------------------------------------------------------------------


def test_canned_replies_in_order_then_default() -> None:
    fake = FakeBackend(["first"])
    fake.push("second", "third")
    texts = [fake.complete(user("no candidates here")).text for _ in range(4)]
    assert texts == ["first", "second", "third", INSUFFICIENT]


def test_default_reply_cites_first_candidate() -> None:
    prompt = "Question: who won?\nCandidates:\n[S1] The home team won 3-1 on Sunday.\n  [S2] The coach resigned.\n"
    fake = FakeBackend()
    assert fake.complete(user(prompt)).text == "The home team won 3-1 on Sunday. [S1]"
    assert default_reply(user("[a3f:4]   Markers may be any id with a digit.  ")) == (
        "Markers may be any id with a digit. [a3f:4]"
    )
    # lines whose bracket has no digit (or no text after it) are not candidates
    assert default_reply(user("[Question] what?\n[S9]\n")) == INSUFFICIENT


def test_default_reply_reads_only_the_last_user_message() -> None:
    messages = [
        ChatMessage("user", "[S1] Old sentence."),
        ChatMessage("assistant", "[S5] Not a user line."),
        ChatMessage("user", "nothing to cite"),
    ]
    assert default_reply(messages) == INSUFFICIENT


def test_calls_are_recorded() -> None:
    fake = FakeBackend(["x", "y z"])
    fake.complete(user("one"), temperature=0.3, max_tokens=7, stop=["END"])
    list(fake.stream(user("two")))
    assert [c.messages[-1].content for c in fake.calls] == ["one", "two"]
    assert (fake.calls[0].temperature, fake.calls[0].max_tokens, fake.calls[0].stop) == (0.3, 7, ["END"])
    assert [c.stream for c in fake.calls] == [False, True]


def test_usage_stop_and_length() -> None:
    fake = FakeBackend(["alpha beta gamma delta", "keep this END drop this"])
    short = fake.complete(user("count these four words"), max_tokens=2)
    assert (short.text, short.finish_reason) == ("alpha beta", "length")
    assert (short.usage.prompt_tokens, short.usage.completion_tokens) == (3 + 4, 2)
    stopped = fake.complete(user("q"), stop=["END"])
    assert (stopped.text, stopped.finish_reason) == ("keep this ", "stop")


def test_stream_word_deltas_and_final_completion() -> None:
    fake = FakeBackend(["The answer is 42. [S3]"])
    handle = fake.stream(user("q"))
    with pytest.raises(RuntimeError, match="not exhausted"):
        _ = handle.completion
    deltas = list(handle)
    assert deltas == ["The", " answer", " is", " 42.", " [S3]"]
    assert handle.done and handle.completion.text == "".join(deltas) == handle.text
    assert handle.completion.usage.completion_tokens == 5


def test_injected_errors_then_success() -> None:
    fake = FakeBackend(["ok"], errors=[UpstreamUnavailable("down", retry_after=2), None])
    with pytest.raises(UpstreamUnavailable):
        fake.complete(user("q"))
    assert fake.complete(user("q")).text == "ok"
    fake.push_error(TimeoutError("slow"))
    with pytest.raises(TimeoutError):
        list(fake.stream(user("q")))
    assert len(fake.calls) == 3


# --- the contract --------------------------------------------------------------------------


class CountingBackend(ChatBackend):
    """A minimal third-party backend: proves the ABC is enough to write one."""

    name = "counting"
    model = "c-1"

    def __init__(self) -> None:
        self.closed = False

    def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        temperature: float = 0.0,
        max_tokens: int = 512,
        stop: Sequence[str] | None = None,
    ) -> Completion:
        return Completion("1 2 3", self.model, self.name)

    def _stream(
        self, messages: list[ChatMessage], *, temperature: float, max_tokens: int, stop: Sequence[str] | None
    ) -> StreamGen:
        try:
            yield from ("1", " 2", " 3")
        finally:
            self.closed = True
        return Completion("1 2 3", self.model, self.name)


def test_stream_handle_close_releases_the_backend() -> None:
    backend = CountingBackend()
    with backend.stream(user("q")) as handle:
        assert next(handle) == "1"
    assert backend.closed
    assert not handle.done


def test_consume() -> None:
    assert CountingBackend().stream(user("q")).consume().text == "1 2 3"


# --- LangChain -------------------------------------------------------------------------------


def test_langchain_adapter_invoke_stream_and_chain() -> None:
    from langchain_core.messages import HumanMessage, SystemMessage
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate

    fake = FakeBackend(["Paris is the capital. [S1]", "streamed reply here"])
    model = as_langchain(fake)
    assert model._llm_type == "newsdesk-fake"

    message = model.invoke([SystemMessage("Cite."), HumanMessage("Capital of France?")])
    assert message.content == "Paris is the capital. [S1]"
    assert message.usage_metadata is not None and message.usage_metadata["output_tokens"] == 5
    assert [(m.role, m.content) for m in fake.calls[0].messages] == [
        ("system", "Cite."),
        ("user", "Capital of France?"),
    ]

    chunks = [c.content for c in model.stream("go")]
    assert "".join(str(c) for c in chunks) == "streamed reply here"
    assert len([c for c in chunks if c]) == 3

    chain = ChatPromptTemplate.from_messages([("user", "Candidates:\n{sentences}")]) | model | StrOutputParser()
    assert chain.invoke({"sentences": "[S7] Rain is expected on Monday."}) == "Rain is expected on Monday. [S7]"
