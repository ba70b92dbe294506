"""A deterministic backend for tests and offline demos (a fake, not a mock).

``FakeBackend`` answers from a queue of canned replies and records every request in
``.calls``.  When the queue is empty it builds a default reply from the *last user message*:

* it looks for candidate-sentence lines of the form ``[S1] Some sentence.`` -- a line that
  starts (after optional spaces) with a bracketed marker containing a digit and no spaces,
  such as ``[S1]``, ``[12]`` or ``[a3f9:4]``, followed by the sentence text;
* the reply is the text of the *first* such line followed by a space and its marker, e.g.
  ``Some sentence. [S1]``;
* with no such line, the reply is ``INSUFFICIENT``.

Token usage is counted as whitespace-separated words (prompt: all message contents); a reply
longer than ``max_tokens`` words is cut there with ``finish_reason="length"``, and ``stop``
strings cut it as a real backend would.
An ``errors`` sequence can be injected to test retry/failure paths: each call first pops the
next entry; an exception instance is raised, ``None`` lets the call proceed.
Streaming splits the reply into word deltas (``"Some"``, ``" sentence."``, ``" [S1]"``).
"""

from __future__ import annotations

import re
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from service.llm.base import ChatBackend, ChatMessage, Completion, StreamGen, Usage

DEFAULT_MODEL = "fake-1"
INSUFFICIENT = "INSUFFICIENT"
_CANDIDATE = re.compile(r"^[ \t]*\[(?P<marker>[^\]\s]*\d[^\]\s]*)\][ \t]+(?P<text>\S.*?)[ \t]*$", re.M)
_DELTA = re.compile(r"\s*\S+|\s+$")


@dataclass(frozen=True)
class FakeCall:
    """One recorded request."""

    messages: list[ChatMessage]
    temperature: float
    max_tokens: int
    stop: list[str] | None
    stream: bool


def default_reply(messages: Sequence[ChatMessage]) -> str:
    """The reply FakeBackend gives when its queue is empty (see module docstring)."""
    last_user = next((m.content for m in reversed(messages) if m.role == "user"), "")
    match = _CANDIDATE.search(last_user)
    if match is None:
        return INSUFFICIENT
    return f"{match.group('text')} [{match.group('marker')}]"


def _words(text: str) -> int:
    return len(text.split())


class FakeBackend(ChatBackend):
    name = "fake"

    def __init__(
        self,
        replies: Iterable[str] = (),
        *,
        errors: Iterable[BaseException | None] = (),
        model: str | None = None,
    ) -> None:
        self.model = model or DEFAULT_MODEL
        self._replies: deque[str] = deque(replies)
        self._errors: deque[BaseException | None] = deque(errors)
        self._choices: deque[list[float]] = deque()
        self._lock = threading.Lock()
        self.calls: list[FakeCall] = []
        self.choice_calls: list[tuple[list[ChatMessage], str, list[int]]] = []

    def push(self, *replies: str) -> None:
        """Queue canned replies (first in, first out)."""
        with self._lock:
            self._replies.extend(replies)

    def push_choices(self, *probs: Sequence[float]) -> None:
        """Queue answers for :meth:`choice_probs`, one list per call (probabilities in the order
        of the numbers asked for).  With none queued, the fake cannot score and returns ``None``,
        as a backend without log-probabilities does."""
        with self._lock:
            self._choices.extend(list(p) for p in probs)

    def choice_probs(self, messages: Sequence[ChatMessage], prefill: str,
                     numbers: Sequence[int]) -> list[float] | None:
        with self._lock:
            self.choice_calls.append((list(messages), prefill, list(numbers)))
            if not self._choices:
                return None
            probs = self._choices.popleft()
        if len(probs) != len(numbers):
            raise ValueError(f"queued {len(probs)} probabilities for {len(numbers)} numbers")
        return probs

    def push_error(self, *errors: BaseException | None) -> None:
        """Queue errors to raise on the next calls (``None`` = let that call succeed)."""
        with self._lock:
            self._errors.extend(errors)

    def _next(
        self,
        messages: Sequence[ChatMessage],
        temperature: float,
        max_tokens: int,
        stop: Sequence[str] | None,
        stream: bool,
    ) -> tuple[str, str]:
        with self._lock:
            self.calls.append(FakeCall(list(messages), temperature, max_tokens, list(stop) if stop else None, stream))
            error = self._errors.popleft() if self._errors else None
            if error is not None:
                raise error
            reply = self._replies.popleft() if self._replies else default_reply(messages)
        cuts = [reply.find(s) for s in stop or () if s and s in reply]
        if cuts:
            reply = reply[: min(cuts)]
        words = _DELTA.findall(reply)
        if len(words) > max_tokens:
            return "".join(words[:max_tokens]), "length"
        return reply, "stop"

    def _completion(self, messages: Sequence[ChatMessage], text: str, finish: str) -> Completion:
        return Completion(
            text=text,
            model=self.model,
            backend=self.name,
            usage=Usage(sum(_words(m.content) for m in messages), _words(text)),
            latency_ms=0.0,
            finish_reason=finish,
        )

    def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        temperature: float = 0.0,
        max_tokens: int = 512,
        stop: Sequence[str] | None = None,
    ) -> Completion:
        text, finish = self._next(messages, temperature, max_tokens, stop, stream=False)
        return self._completion(messages, text, finish)

    def _stream(
        self,
        messages: list[ChatMessage],
        *,
        temperature: float,
        max_tokens: int,
        stop: Sequence[str] | None,
    ) -> StreamGen:
        text, finish = self._next(messages, temperature, max_tokens, stop, stream=True)
        yield from _DELTA.findall(text)
        return self._completion(messages, text, finish)


class FakeLlama:
    """Stands in for ``llama_cpp.Llama`` inside the model worker (``NEWSDESK_LOCAL_FAKE_LLAMA=1``):
    the same default reply as :class:`FakeBackend`, streamed a word at a time with a short pause,
    so that tests of the process boundary (a crash mid-stream, a restart) run in seconds."""

    def __init__(self, pause_s: float = 0.02) -> None:
        self.pause_s = pause_s
        self.n_tokens = 0

    def create_chat_completion(self, messages: Any, **kwargs: Any) -> Any:
        reply = default_reply([ChatMessage(m["role"], m["content"]) for m in messages])
        words = _DELTA.findall(reply)[: kwargs.get("max_tokens") or None]
        self.n_tokens = sum(_words(m["content"]) for m in messages)
        if kwargs.get("stream"):
            return self._chunks(words)
        return {"choices": [{"message": {"role": "assistant", "content": "".join(words)}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": self.n_tokens, "completion_tokens": len(words)}}

    def _chunks(self, words: list[str]) -> Iterator[dict[str, Any]]:
        yield {"choices": [{"delta": {"role": "assistant"}, "finish_reason": None}]}
        for word in words:
            time.sleep(self.pause_s)
            yield {"choices": [{"delta": {"content": word}, "finish_reason": None}]}
        yield {"choices": [{"delta": {}, "finish_reason": "stop"}]}
