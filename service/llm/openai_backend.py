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
"""

from __future__ import annotations

import email.utils
import logging
import math
import random
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

log = logging.getLogger(__name__)

DEFAULT_MODEL = "gpt-4o-mini"
DEFAULT_BASE_URL = "https://api.openai.com/v1"
RETRYABLE_STATUS = frozenset({408, 409, 429})
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
            "messages": cast(list[ChatCompletionMessageParam], [m.as_dict() for m in messages]),
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
            text=choice.message.content or "",
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
        try:
            for chunk in _chunks(stream):
                model = chunk.model or model
                if chunk.usage is not None:
                    usage = Usage(chunk.usage.prompt_tokens, chunk.usage.completion_tokens)
                for choice in chunk.choices:
                    if choice.finish_reason:
                        finish = choice.finish_reason
                    delta = choice.delta.content if choice.delta else None
                    if delta:
                        parts.append(delta)
                        yield delta
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
