"""OpenAI Chat Completions wire models (``/v1/chat/completions``, ``/v1/models``).

Requests ignore fields they do not know, as OpenAI-compatible servers do: clients send ``seed``,
``top_p``, ``tools`` and the like whatever the server.  Responses are plain dicts built in
:mod:`service.api.chat`, in OpenAI's own shape, so that strict SDKs parse them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from service.schemas import FiltersIn


class Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ContentPart(Lenient):
    type: str
    text: str | None = None


class ChatMessageIn(Lenient):
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "\n".join(p.text for p in self.content if p.type == "text" and p.text)
        return self.content or ""


class StreamOptions(Lenient):
    include_usage: bool = False


class ChatRequest(Lenient):
    model: str = Field(min_length=1, max_length=200, description="A desk model from GET /v1/models.")
    messages: list[ChatMessageIn] = Field(min_length=1, max_length=100,
                                          description="The conversation; the last message is the user's question.")
    stream: bool = False
    stream_options: StreamOptions | None = None
    temperature: float | None = Field(default=None, ge=0, le=2,
                                      description="Accepted; answers are written greedily, whatever it says.")
    max_tokens: int | None = Field(default=None, ge=1, description="Cut the reply at the sentence that would pass it.")
    max_completion_tokens: int | None = Field(default=None, ge=1, description="As max_tokens.")
    n: int | None = Field(default=None, ge=1, le=1, description="One choice only.")
    # newsdesk's own, through the SDKs' extra_body
    filters: FiltersIn | None = None
    as_of: str | None = Field(default=None, max_length=40, description="As /v1/ask's as_of.")

    def token_limit(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens


class ModelOut(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "newsdesk"
    description: str


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelOut]
