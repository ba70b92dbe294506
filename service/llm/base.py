"""The small contract every chat backend fulfils (in the spirit of simonw/llm's ``Model``).

A backend turns a list of :class:`ChatMessage` into a :class:`Completion`, either at once
(:meth:`ChatBackend.complete`) or as a stream of text deltas (:meth:`ChatBackend.stream`), whose
:class:`StreamHandle` exposes the final :class:`Completion` once it has been exhausted.

A last ``assistant`` message is the beginning of the reply: a backend that can continues it
and returns only what it adds (the local model); one that cannot sees it as context.

Backends raise only domain errors from :mod:`service.errors` (``UpstreamUnavailable``,
``UpstreamTimeout``, ``ModelMissing``, ``ConfigError``).  For LangChain users,
:func:`as_langchain` wraps any backend as a ``BaseChatModel`` (langchain-core is imported lazily).
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from service.llm.lc_adapter import NewsdeskChatModel

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True)
class ChatMessage:
    role: Role
    content: str

    def as_dict(self) -> dict[str, str]:
        return {"role": self.role, "content": self.content}


@dataclass(frozen=True)
class Usage:
    """Token counts as reported by the backend; ``None`` when the backend did not say."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None


@dataclass(frozen=True)
class Completion:
    text: str
    model: str
    backend: str
    usage: Usage = field(default_factory=Usage)
    latency_ms: float = 0.0
    """Wall time of the whole call, including retries and (for streams) consumer time."""
    finish_reason: str | None = None
    """``stop`` | ``length`` | ... as reported by the backend."""


StreamGen = Generator[str, None, Completion]
"""What backends implement for streaming: yields text deltas, *returns* the Completion."""


class StreamHandle:
    """Iterable over text deltas; ``.completion`` is available once iteration has finished.

    Nothing runs until the first ``next()``: backends acquire locks and open connections
    lazily, so errors (busy, unavailable) surface on the first iteration.  Call :meth:`close`
    (or use ``with``) to abandon a stream early and release the backend.
    """

    def __init__(self, gen: StreamGen) -> None:
        self._gen = gen
        self._completion: Completion | None = None
        self._parts: list[str] = []

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        try:
            delta = next(self._gen)
        except StopIteration as stop:
            if self._completion is None:
                self._completion = stop.value
            raise
        self._parts.append(delta)
        return delta

    @property
    def done(self) -> bool:
        return self._completion is not None

    @property
    def text(self) -> str:
        """Text received so far."""
        return "".join(self._parts)

    @property
    def completion(self) -> Completion:
        if self._completion is None:
            raise RuntimeError("stream not exhausted yet: iterate it to the end first")
        return self._completion

    def consume(self) -> Completion:
        """Drain the remaining deltas and return the final completion."""
        for _ in self:
            pass
        return self.completion

    def close(self) -> None:
        self._gen.close()

    def __enter__(self) -> StreamHandle:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class ChatBackend(ABC):
    """A chat model behind a name.  Subclasses implement :meth:`complete` and :meth:`_stream`."""

    name: str = "abstract"
    model: str = ""
    scoring: str = ""
    """How :meth:`choice_probs` asks for the vote when the backend cannot pre-fill (the words it
    adds); part of a cached vote's key.  Empty for backends that read the logits directly."""

    @abstractmethod
    def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        temperature: float = 0.0,
        max_tokens: int = 512,
        stop: Sequence[str] | None = None,
    ) -> Completion:
        """Return the whole reply.  Raises only :mod:`service.errors` domain errors."""

    def stream(
        self,
        messages: Sequence[ChatMessage],
        *,
        temperature: float = 0.0,
        max_tokens: int = 512,
        stop: Sequence[str] | None = None,
    ) -> StreamHandle:
        """Stream the reply as text deltas; see :class:`StreamHandle`."""
        return StreamHandle(self._stream(list(messages), temperature=temperature, max_tokens=max_tokens, stop=stop))

    @abstractmethod
    def _stream(
        self,
        messages: list[ChatMessage],
        *,
        temperature: float,
        max_tokens: int,
        stop: Sequence[str] | None,
    ) -> StreamGen:
        """Generator yielding deltas and returning the final :class:`Completion`."""

    def choice_probs(self, messages: Sequence[ChatMessage], prefill: str,
                     numbers: Sequence[int]) -> list[float] | None:
        """For a reply that begins with ``prefill`` (e.g. ``"The sentence that answers is [S"``):
        the model's probability that it continues with each of ``numbers`` (then a non-digit);
        ``None`` when this backend cannot say.

        The pipeline uses it to let the model *score* numbered candidates in one pass instead
        of writing.  A backend that cannot pre-fill a reply or expose log-probabilities returns
        ``None``, and the pipeline ranks by retrieval alone.
        """
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, model={self.model!r})"


def elapsed_ms(start: float) -> float:
    """Milliseconds since ``start`` (a ``time.perf_counter()`` value)."""
    return round((time.perf_counter() - start) * 1000.0, 1)


def as_langchain(backend: ChatBackend) -> NewsdeskChatModel:
    """Wrap ``backend`` as a LangChain ``BaseChatModel`` (see :mod:`service.llm.lc_adapter`)."""
    from service.llm.lc_adapter import NewsdeskChatModel

    return NewsdeskChatModel(backend=backend)
