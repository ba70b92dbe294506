"""OpenAI-compatible chat backend (OpenAI itself, or any server speaking its API, such as
``python -m llama_cpp.server``).

* The API key is read from the environment variable *named* by
  ``settings.openai_api_key_env``; it is never stored in settings or logs.  With a custom
  ``openai_base_url`` a missing key is allowed (``"unused"`` is sent).
* Every request has ``settings.llm_timeout_s`` as its client timeout (connect/read/write).
* The SDK's own retries are off (``max_retries=0``); ours are bounded and counted:
  timeouts, connection errors, 408, 409, 429 and 5xx are retried ``settings.llm_max_retries``
  times with exponential backoff (``llm_retry_backoff_s`` doubling per attempt, jitter), a
  server's ``Retry-After`` / ``retry-after-ms`` taken as the minimum delay, every delay
  capped at ``llm_retry_backoff_max_s``.  Then ``UpstreamTimeout`` (the last failure was a
  timeout) or ``UpstreamUnavailable(retry_after=...)`` is raised.
* 401/403/404 raise ``ConfigError`` (bad key, model or base URL); other 4xx raise
  ``UpstreamUnavailable`` without retry.
* Streams are retried only while opening; once text has been yielded a failure is raised
  as is (re-sending would duplicate text).
* The API has no pre-filled replies.  A last ``assistant`` message (the beginning of the reply,
  see :mod:`service.llm.base`) is appended to the last user turn instead, and an echo of it at
  the start of the reply is cut, so the text returned is what follows it, as on the local model.
* :meth:`OpenAIBackend.choice_probs` asks for the marker alone and reads the vote from the
  reply's ``top_logprobs`` (:mod:`service.llm.logprob_vote`).  A server that gives none (or
  refuses the parameters) is remembered, and the pipeline falls back to retrieval order.  Both
  calls keep the rendered prompt as their prefix, so a server's prompt cache re-uses it.
"""

from __future__ import annotations

import email.utils
import logging
import math
import random
import re
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

import httpx2
import openai
from openai.types.chat import ChatCompletion, ChatCompletionChunk, ChatCompletionMessageParam

from service.config import Settings
from service.errors import ConfigError, NewsdeskError, UpstreamTimeout, UpstreamUnavailable
from service.llm.base import ChatBackend, ChatMessage, Completion, StreamGen, Usage, elapsed_ms
from service.llm.logprob_vote import Position, number_votes

log = logging.getLogger(__name__)

DEFAULT_MODEL = "gpt-4o-mini"
DEFAULT_BASE_URL = "https://api.openai.com/v1"
RETRYABLE_STATUS = frozenset({408, 409, 429})
VOTE_ASK = "Which sentence answers the question? Reply with its marker only."
"""Appended to the last user turn of a scoring call (the local model is pre-filled instead).
Against the local model's exact vote on 12 HotpotQA dev prompts (2026-12-07): same top
candidate 6/12, in the top two 9/12.  Having the reply begin with the local pre-fill ("...
Begin your reply with: The sentence that answers the question is [S") agreed more (7/12) but
answered no better on 26 HotpotQA questions and took 1.40x the embedded p50 against 1.10x;
asking for "[S0] if none does" agreed on 4/12 (docs/selection.md)."""
VOTE_TOKENS = 6
"""Room for "[S10]" in any tokenizer: the digits, and the token after them that ends the number."""
TOP_LOGPROBS = 20
"""The most OpenAI's API gives; ten digits and what else competes with them fit."""
T = TypeVar("T")


def parse_retry_after(headers: httpx2.Headers | dict[str, str] | None) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``Retry-After`` (seconds or HTTP date)."""
    if not headers:
        return None
    lowered = {k.lower(): v for k, v in headers.items()}
    raw_ms = lowered.get("retry-after-ms")
    if raw_ms is not None:
        try:
            value = float(raw_ms) / 1000.0
        except ValueError:
            value = -1.0
        if value >= 0 and math.isfinite(value):
            return value
    raw = lowered.get("retry-after")
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        value = (when - datetime.now(UTC)).total_seconds()
        return max(0.0, value)
    return value if value >= 0 and math.isfinite(value) else None


class OpenAIBackend(ChatBackend):
    name = "openai"
    scoring = VOTE_ASK

    def __init__(self, settings: Settings, model: str | None = None) -> None:
        key = settings.openai_api_key()
        if not key and settings.openai_base_url is None:
            raise ConfigError(
                f"the openai backend needs an API key in the environment variable "
                f"{settings.openai_api_key_env} (its name is set by NEWSDESK_OPENAI_API_KEY_ENV); "
                "or set NEWSDESK_OPENAI_BASE_URL to an OpenAI-compatible server"
            )
        self.model = model or DEFAULT_MODEL
        self.base_url = settings.openai_base_url or DEFAULT_BASE_URL
        self.timeout_s = settings.llm_timeout_s
        self.max_retries = settings.llm_max_retries
        self.backoff_s = settings.llm_retry_backoff_s
        self.backoff_max_s = settings.llm_retry_backoff_max_s
        self._stream_usage = True
        self._logprobs = True
        self._client = openai.OpenAI(
            api_key=key or "unused",
            base_url=self.base_url,
            timeout=self.timeout_s,
            max_retries=0,
        )

    # --- retries -------------------------------------------------------------------------
    def _delay(self, attempt: int, retry_after: float | None) -> float:
        backoff = self.backoff_s * (2.0**attempt)
        backoff *= 1.0 + random.uniform(0.0, 0.25)  # jitter: spread clients that failed together
        if retry_after is not None:
            backoff = max(backoff, retry_after)
        return min(backoff, self.backoff_max_s)

    def _retrying(self, what: str, call: Callable[[], T]) -> T:
        """Run ``call`` with bounded retries; translate SDK errors to domain errors."""
        attempt = 0
        while True:
            retry_after: float | None = None
            try:
                return call()
            except openai.APITimeoutError as exc:
                error: Exception = exc
            except openai.APIStatusError as exc:
                status = exc.status_code
                if status not in RETRYABLE_STATUS and status < 500:
                    raise self._fatal(exc) from exc
                retry_after = parse_retry_after(exc.response.headers)
                error = exc
            except openai.APIConnectionError as exc:
                error = exc
            if attempt >= self.max_retries:
                raise self._exhausted(what, error, attempt + 1, retry_after) from error
            delay = self._delay(attempt, retry_after)
            attempt += 1
            log.warning(
                "%s to %s failed (%s); retry %d/%d in %.2fs",
                what,
                self.base_url,
                _describe(error),
                attempt,
                self.max_retries,
                delay,
            )
            time.sleep(delay)

    def _fatal(self, exc: openai.APIStatusError) -> NewsdeskError:
        status = exc.status_code
        detail = f"{self.base_url} answered {status}: {_server_message(exc)}"
        if status in (401, 403):
            return ConfigError(f"{detail} (check the API key and its environment variable)")
        if status == 404:
            return ConfigError(f"{detail} (check the model name {self.model!r} and the base URL)")
        return UpstreamUnavailable(detail)

    def _exhausted(self, what: str, error: Exception, attempts: int, retry_after: float | None) -> NewsdeskError:
        detail = f"{what} to {self.base_url} failed after {attempts} attempt(s): {_describe(error)}"
        if isinstance(error, openai.APITimeoutError):
            return UpstreamTimeout(detail)
        if retry_after is None:
            retry_after = float(max(1, math.ceil(self._delay(attempts - 1, None))))
        return UpstreamUnavailable(detail, retry_after=retry_after)

    # --- calls ---------------------------------------------------------------------------
    def _params(
        self,
        messages: Sequence[ChatMessage],
        temperature: float,
        max_tokens: int,
        stop: Sequence[str] | None,
    ) -> dict[str, Any]:
        params: dict[str, Any] = {
            "model": self.model,
            "messages": cast(list[ChatCompletionMessageParam], [m.as_dict() for m in fold_prefill(messages)]),
            "temperature": temperature,
            "max_tokens": max_tokens,
        }
        if stop:
            params["stop"] = list(stop)
        return params

    def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        temperature: float = 0.0,
        max_tokens: int = 512,
        stop: Sequence[str] | None = None,
    ) -> Completion:
        start = time.perf_counter()
        params = self._params(messages, temperature, max_tokens, stop)
        response: ChatCompletion = self._retrying(
            "chat completion", lambda: self._client.chat.completions.create(**params)
        )
        if not response.choices:
            raise UpstreamUnavailable(f"{self.base_url} returned a completion with no choices")
        choice = response.choices[0]
        usage = response.usage
        return Completion(
            text=cut_echo(choice.message.content or "", _prefill(messages)),
            model=response.model or self.model,
            backend=self.name,
            usage=Usage(usage.prompt_tokens, usage.completion_tokens) if usage else Usage(),
            latency_ms=elapsed_ms(start),
            finish_reason=choice.finish_reason,
        )

    def _open_stream(self, params: dict[str, Any]) -> openai.Stream[ChatCompletionChunk]:
        if self._stream_usage:
            try:
                opened = self._client.chat.completions.create(
                    **params, stream=True, stream_options={"include_usage": True}
                )
                return cast(openai.Stream[ChatCompletionChunk], opened)
            except openai.BadRequestError as exc:
                if "stream_options" not in str(exc):
                    raise
                log.info("%s rejects stream_options; streaming without usage", self.base_url)
                self._stream_usage = False
        return cast(openai.Stream[ChatCompletionChunk], self._client.chat.completions.create(**params, stream=True))

    def _stream(
        self,
        messages: list[ChatMessage],
        *,
        temperature: float,
        max_tokens: int,
        stop: Sequence[str] | None,
    ) -> StreamGen:
        start = time.perf_counter()
        params = self._params(messages, temperature, max_tokens, stop)
        stream = self._retrying("streamed chat completion", lambda: self._open_stream(params))
        parts: list[str] = []
        finish: str | None = None
        model = self.model
        usage = Usage()
        echo = EchoCutter(_prefill(messages))
        try:
            for chunk in _chunks(stream):
                model = chunk.model or model
                if chunk.usage is not None:
                    usage = Usage(chunk.usage.prompt_tokens, chunk.usage.completion_tokens)
                for choice in chunk.choices:
                    if choice.finish_reason:
                        finish = choice.finish_reason
                    delta = echo.feed(choice.delta.content) if choice.delta and choice.delta.content else None
                    if delta:
                        parts.append(delta)
                        yield delta
            rest = echo.flush()
            if rest:
                parts.append(rest)
                yield rest
        finally:
            stream.close()
        return Completion(
            text="".join(parts),
            model=model,
            backend=self.name,
            usage=usage,
            latency_ms=elapsed_ms(start),
            finish_reason=finish,
        )

    def choice_probs(self, messages: Sequence[ChatMessage], prefill: str,
                     numbers: Sequence[int]) -> list[float] | None:
        """The vote from the reply's ``top_logprobs``; ``None`` once the server has shown it gives none.

        Streamed: llama-cpp-python's server turns logprobs into log-softmax over *every prompt
        token* for a whole reply (17 s against 11-15 s streamed for an 1,100-token prompt,
        2026-12-07), but only over the reply's tokens when it streams."""
        if not self._logprobs:
            return None
        params = self._params(vote_messages(messages), 0.0, VOTE_TOKENS, None)
        params.update(logprobs=True, top_logprobs=TOP_LOGPROBS, stream=True)
        stream = self._retrying("scoring completion", lambda: self._scoring_call(params))
        positions: list[Position] = []
        if stream is not None:
            try:
                for chunk in _chunks(stream):
                    for choice in chunk.choices[:1]:
                        for t in (choice.logprobs.content or []) if choice.logprobs else []:
                            positions.append(Position(t.token, tuple((a.token, a.logprob) for a in t.top_logprobs)))
            finally:
                stream.close()
        if not positions:
            log.info("%s gave no logprobs: candidates are ranked by retrieval alone", self.base_url)
            self._logprobs = False
            return None
        return number_votes(positions, numbers)

    def _scoring_call(self, params: dict[str, Any]) -> openai.Stream[ChatCompletionChunk] | None:
        try:
            return cast(openai.Stream[ChatCompletionChunk], self._client.chat.completions.create(**params))
        except openai.BadRequestError as exc:  # e.g. a reasoning model: "logprobs are not supported"
            log.info("%s refused logprobs (%s)", self.base_url, _describe(exc))
            return None


def vote_messages(messages: Sequence[ChatMessage]) -> list[ChatMessage]:
    """The scoring request: the rendered prompt, its last user turn ending with the ask for the marker."""
    return _with_tail(messages, VOTE_ASK)


def fold_prefill(messages: Sequence[ChatMessage]) -> list[ChatMessage]:
    """A last ``assistant`` message (the reply's beginning) joined to the user turn before it."""
    if len(messages) < 2 or messages[-1].role != "assistant" or messages[-2].role != "user":
        return list(messages)
    return _with_tail(messages[:-1], messages[-1].content)


def _with_tail(messages: Sequence[ChatMessage], tail: str) -> list[ChatMessage]:
    """``tail`` as the last paragraph of the last user turn: the rendered prompt stays the prefix."""
    if not messages or messages[-1].role != "user":
        return [*messages, ChatMessage("user", tail)]
    return [*messages[:-1], ChatMessage("user", messages[-1].content.rstrip("\n") + "\n\n" + tail)]


def _prefill(messages: Sequence[ChatMessage]) -> str:
    return messages[-1].content if messages and messages[-1].role == "assistant" else ""


def _echoes(prefill: str) -> list[str]:
    """What a reply may repeat of the pre-fill before going on: all of it, or its last line."""
    whole = prefill.strip()
    if not whole:
        return []
    last = whole.splitlines()[-1].strip()
    return [whole] if last == whole else [whole, last]


def cut_echo(text: str, prefill: str) -> str:
    """``text`` without a repeat of ``prefill`` (or of its last line) at its start; spacing may differ."""
    for echo in _echoes(prefill):
        match = re.match(r"\s*" + r"\s+".join(map(re.escape, echo.split())), text)
        if match:
            return " " + text[match.end():].lstrip(" ")
    return text


class EchoCutter:
    """:func:`cut_echo` over a stream: holds the first deltas back until the echo is decided."""

    def __init__(self, prefill: str) -> None:
        self._prefill = prefill
        self._echoes = [" ".join(e.split()) for e in _echoes(prefill)]
        self._held: str | None = "" if self._echoes else None

    def feed(self, delta: str) -> str:
        if self._held is None:
            return delta
        self._held += delta
        body = " ".join(self._held.split())
        if any(e.startswith(body) and e != body for e in self._echoes):
            return ""  # may still be the echo
        return self.flush()

    def flush(self) -> str:
        held, self._held = self._held, None
        return cut_echo(held, self._prefill) if held else ""


def _chunks(stream: openai.Stream[ChatCompletionChunk]) -> Iterator[ChatCompletionChunk]:
    """Iterate a stream, turning mid-stream transport failures into domain errors."""
    iterator = iter(stream)
    while True:
        try:
            chunk = next(iterator)
        except StopIteration:
            return
        except (openai.APITimeoutError, httpx2.TimeoutException) as exc:
            raise UpstreamTimeout(f"stream stalled: {_describe(exc)}") from exc
        except (openai.APIError, httpx2.TransportError) as exc:
            raise UpstreamUnavailable(f"stream broke off: {_describe(exc)}") from exc
        yield chunk


def _server_message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return str(inner["message"])[:300]
    return str(exc)[:300]


def _describe(exc: BaseException) -> str:
    if isinstance(exc, openai.APIStatusError):
        return f"HTTP {exc.status_code} {_server_message(exc)}"
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:300]
