"""LangChain adapter: any :class:`~service.llm.base.ChatBackend` as a ``BaseChatModel``.

Kept in its own module so importing the backend contract does not import langchain-core
(about 0.6 s).  Use :func:`service.llm.base.as_langchain` to build one.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

from service.llm.base import ChatBackend, ChatMessage, Completion, Role

_ROLES: dict[str, Role] = {"system": "system", "human": "user", "ai": "assistant"}


def to_chat_messages(messages: list[BaseMessage]) -> list[ChatMessage]:
    """Convert LangChain messages (system / human / ai) to our :class:`ChatMessage`."""
    out: list[ChatMessage] = []
    for message in messages:
        role = _ROLES.get(message.type)
        if role is None:
            raise ValueError(f"unsupported LangChain message type for Newsdesk backends: {message.type!r}")
        out.append(ChatMessage(role=role, content=message.text))
    return out


def _usage_metadata(completion: Completion) -> UsageMetadata | None:
    usage = completion.usage
    if usage.prompt_tokens is None or usage.completion_tokens is None:
        return None
    return UsageMetadata(
        input_tokens=usage.prompt_tokens,
        output_tokens=usage.completion_tokens,
        total_tokens=usage.prompt_tokens + usage.completion_tokens,
    )


def _response_metadata(completion: Completion) -> dict[str, Any]:
    return {
        "model_name": completion.model,
        "backend": completion.backend,
        "finish_reason": completion.finish_reason,
        "latency_ms": completion.latency_ms,
    }


class NewsdeskChatModel(BaseChatModel):
    """A LangChain chat model that delegates to a Newsdesk backend."""

    backend: ChatBackend
    temperature: float = 0.0
    max_tokens: int = 512

    @property
    def _llm_type(self) -> str:
        return f"newsdesk-{self.backend.name}"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            "backend": self.backend.name,
            "model": self.backend.model,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
        }

    def _params(self, kwargs: dict[str, Any]) -> tuple[float, int]:
        return (
            float(kwargs.get("temperature", self.temperature)),
            int(kwargs.get("max_tokens", self.max_tokens)),
        )

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        temperature, max_tokens = self._params(kwargs)
        completion = self.backend.complete(
            to_chat_messages(messages), temperature=temperature, max_tokens=max_tokens, stop=stop
        )
        message = AIMessage(
            content=completion.text,
            usage_metadata=_usage_metadata(completion),
            response_metadata=_response_metadata(completion),
        )
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        temperature, max_tokens = self._params(kwargs)
        with self.backend.stream(
            to_chat_messages(messages), temperature=temperature, max_tokens=max_tokens, stop=stop
        ) as handle:
            for delta in handle:
                chunk = ChatGenerationChunk(message=AIMessageChunk(content=delta))
                if run_manager is not None:
                    run_manager.on_llm_new_token(delta, chunk=chunk)
                yield chunk
            completion = handle.completion
        yield ChatGenerationChunk(
            message=AIMessageChunk(
                content="",
                usage_metadata=_usage_metadata(completion),
                response_metadata=_response_metadata(completion),
                chunk_position="last",
            )
        )
