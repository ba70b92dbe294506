"""``POST /v1/chat/completions`` and ``GET /v1/models``: the desk for any OpenAI chat client.

The models are the desk's answer modes (:data:`MODELS`).  A request's messages are a
conversation: the last user message is the question, the turns before it its history (a
follow-up is rewritten to stand alone, as on ``/v1/ask``).  The reply is ``/v1/ask``'s verified
answer, in OpenAI's shape:

* ``message.content``: the verified sentences with ``[n]`` markers (``newsdesk`` adds a
  numbered sources list: text-only clients show the sources too);
* ``message.annotations``: one ``url_citation`` per ``[n]`` in the content, its span the
  marker, its URL the cited sentence on the desk (unique per sentence), its title the article
  with outlet and date.  Offsets count code points (:mod:`service.generation.reply`);
* ``newsdesk`` (top level, never inside ``delta``): the full citations, evidence, mode, short
  answer and the standalone question.

Streamed, the chunks are: the role, the content one verified sentence at a time (a draft that
fails verification never reaches the client), every annotation in one chunk, the finish
reason, the usage when ``stream_options.include_usage``, then ``[DONE]``.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from service.api.ask import citations_out, evidence_models, short_model, to_filters
from service.api.problems import openai_error
from service.api.streaming import ClosingStreamingResponse
from service.deps import ServicesDep
from service.errors import FieldError, InvalidInput, NewsdeskError, NotFound
from service.generation.answer import AnswerResult, AskParams, answer, answer_stream
from service.generation.followup import Turn
from service.generation.reply import Reply, permalink, render, source_title, without_sources
from service.schemas import QUESTION_CHARS
from service.schemas_chat import ChatRequest, ModelList, ModelOut
from service.timeutil import parse_as_of
from service.tokens import count_tokens

router = APIRouter(prefix="/v1", tags=["chat"])
CREATED = 1_764_000_000  # when the desk's models first existed (GET /v1/models needs a date)


@dataclass(frozen=True, slots=True)
class DeskModel:
    id: str
    sources: bool
    description: str

    def out(self) -> ModelOut:
        return ModelOut(id=self.id, created=CREATED, description=self.description)


MODELS = {m.id: m for m in (
    DeskModel("newsdesk", True, "Verified answers with [n] markers and a numbered Sources list in the text "
                                "(linked title, outlet, date, quote); annotations too."),
    DeskModel("newsdesk-bare", False, "Verified answers with [n] markers; the sources are in the annotations "
                                      "and the newsdesk extension object only."),
)}


class ModelNotFound(NotFound):
    slug = "model-not-found"  # OpenAI's code: model_not_found


def desk_model(name: str) -> DeskModel:
    model = MODELS.get(name)
    if model is None:
        raise ModelNotFound(f"The model '{name}' does not exist; this server has {', '.join(MODELS)}",
                            errors=[FieldError("model", "unknown model")])
    return model


def to_params(req: ChatRequest) -> AskParams:
    turns = [m for m in req.messages if m.role in ("user", "assistant")]
    if not turns or turns[-1].role != "user" or not turns[-1].text().strip():
        raise InvalidInput.for_field("messages", "the last user or assistant message must be the user's question")
    question = turns[-1].text().strip()
    if len(question) > QUESTION_CHARS:
        raise InvalidInput.for_field("messages", f"the question is longer than {QUESTION_CHARS} characters")
    history = tuple(Turn(m.role, without_sources(m.text()) if m.role == "assistant" else m.text())
                    for m in turns[:-1] if m.text().strip())
    return AskParams(question=question, filters=to_filters(req.filters), as_of=parse_as_of(req.as_of),
                     history=history)


def _usage(res: AnswerResult, completion_text: str) -> dict[str, int]:
    """Every model call the answer made that reports tokens (the writer's, the rewrite's)."""
    prompt = res.usage.get("prompt_tokens") or 0
    completion = res.usage.get("completion_tokens") or 0
    if res.standalone is not None:
        prompt += res.standalone.usage.prompt_tokens or 0
        completion += res.standalone.usage.completion_tokens or 0
    completion = completion or count_tokens(completion_text)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _cut(reply: Reply, limit: int | None) -> tuple[Reply, str]:
    """The reply cut after the last whole part within ``limit`` tokens (``max_tokens``)."""
    if limit is None or count_tokens(reply.text) <= limit:
        return reply, "stop"
    kept: list[str] = []
    for part in reply.parts:
        if count_tokens("".join([*kept, part])) > limit:
            break
        kept.append(part)
    end = len("".join(kept))
    return Reply(kept, [m for m in reply.marks if m.end <= end]), "length"


def annotations(reply: Reply, base_url: str) -> list[dict[str, Any]]:
    return [{"type": "url_citation",
             "url_citation": {"start_index": m.start, "end_index": m.end, "url": permalink(base_url, m.citation),
                              "title": source_title(m.citation)}} for m in reply.marks]


def extension(res: AnswerResult) -> dict[str, Any]:
    """Our own fields, beside OpenAI's: a client reads them from ``model_extra["newsdesk"]``."""
    return {
        "mode": res.mode,
        "abstained": res.abstained,
        "abstain_reason": res.abstain_reason,
        "standalone_question": res.standalone.question if res.standalone is not None else None,
        "short_answer": (s.model_dump() if (s := short_model(res)) is not None else None),
        "citations": [c.model_dump() for c in citations_out(res)],
        "evidence": [e.model_dump() for e in evidence_models(res.evidence)],
        "offsets": "code points (Python str indexes); JavaScript clients count UTF-16 units",
        "backend": res.backend,
        "backend_model": res.model,
        "timings": res.timings,
    }


@dataclass(frozen=True, slots=True)
class Envelope:
    """What every chunk of one reply repeats."""

    id: str
    model: str
    created: int

    @classmethod
    def new(cls, model: DeskModel) -> Envelope:
        return cls(f"chatcmpl-{uuid.uuid4().hex}", model.id, int(time.time()))

    def chunk(self, choices: list[dict[str, Any]], **extra: Any) -> str:
        body = {"id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model,
                "system_fingerprint": None, "choices": choices, **extra}
        return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"

    def delta(self, delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        return self.chunk([{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}], **extra)


def _reply(req: ChatRequest, model: DeskModel, res: AnswerResult, base_url: str) -> tuple[Reply, str]:
    """The answer as the model's text, cut at ``max_tokens``; and the finish reason."""
    return _cut(render(res, base_url, sources=model.sources), req.token_limit())


def completion(env: Envelope, req: ChatRequest, model: DeskModel, res: AnswerResult, base_url: str
               ) -> dict[str, Any]:
    reply, finish = _reply(req, model, res, base_url)
    message = {"role": "assistant", "content": reply.text, "refusal": None,
               "annotations": annotations(reply, base_url)}
    return {"id": env.id, "object": "chat.completion", "created": env.created, "model": env.model,
            "system_fingerprint": None,
            "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
            "usage": _usage(res, reply.text), "newsdesk": extension(res)}


def chunks(env: Envelope, req: ChatRequest, model: DeskModel, res: AnswerResult, base_url: str
           ) -> Generator[str, None, None]:
    """After the role chunk: the content a part at a time, every annotation in one chunk (the SDK's
    stream helper cannot join annotations split across chunks), the finish, the usage, [DONE]."""
    reply, finish = _reply(req, model, res, base_url)
    for part in reply.parts:
        yield env.delta({"content": part})
    yield env.delta({"annotations": annotations(reply, base_url)}, newsdesk=extension(res))
    yield env.delta({}, finish)
    if req.stream_options is not None and req.stream_options.include_usage:
        yield env.chunk([], usage=_usage(res, reply.text))
    yield "data: [DONE]\n\n"


def _stream(services: ServicesDep, req: ChatRequest, model: DeskModel, params: AskParams,
            base_url: str) -> Generator[str, None, None]:
    env = Envelope.new(model)
    yield env.delta({"role": "assistant", "content": ""})
    try:
        for item in answer_stream(services, params):
            if isinstance(item, str):
                yield ": drafting\n\n"  # an SSE comment: keeps proxies from timing out; clients skip it
            else:
                yield from chunks(env, req, model, item, base_url)
    except NewsdeskError as exc:  # headers are gone: the error travels as an event, as OpenAI's do
        yield f"data: {openai_error(exc.status, exc.slug, exc.detail, exc.errors).body.decode()}\n\n"


@router.get("/models", response_model=ModelList)
def models() -> ModelList:
    return ModelList(data=[m.out() for m in MODELS.values()])


@router.get("/models/{model_id}", response_model=ModelOut)
def model(model_id: str) -> ModelOut:
    return desk_model(model_id).out()


@router.post("/chat/completions", response_model=None,
             responses={200: {"content": {"text/event-stream": {}},
                              "description": "A chat.completion; chat.completion.chunk events when stream is true."}})
async def chat_completions(req: ChatRequest, request: Request, services: ServicesDep
                           ) -> JSONResponse | StreamingResponse:
    model = desk_model(req.model)
    params = to_params(req)
    base_url = str(request.base_url)
    if req.stream:
        return ClosingStreamingResponse(_stream(services, req, model, params, base_url),
                                        media_type="text/event-stream",
                                        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
    res = await run_in_threadpool(answer, services, params)
    return JSONResponse(completion(Envelope.new(model), req, model, res, base_url))
