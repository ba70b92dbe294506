"""llama.cpp in this process: the engine that the model worker runs (see :mod:`service.llm.worker`).

:class:`InProcessBackend` loads the GGUF once per process and serialises calls: a request that
cannot get the model within ``settings.local_queue_timeout_s`` gets
``UpstreamUnavailable("local model busy", retry_after=...)``.  It keeps the KV states of prompt
prefixes (system prompt and worked examples) and reads choice probabilities from the logits.

The web server never runs this directly: :class:`service.llm.local.LocalBackend` sends its calls
to a worker process that does, so a native crash in llama.cpp costs one request, not the server.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol, cast

from service.config import Settings
from service.errors import ConfigError, ModelMissing, UpstreamUnavailable
from service.llm.base import ChatBackend, ChatMessage, Completion, StreamGen, Usage, elapsed_ms
from service.llm.build import build_info, import_llama_cpp, uses_amx, without_extra_buffers
from service.llm.weights import assemble_model, check_local_model, model_file, model_spec

log = logging.getLogger(__name__)

SEED = 1234
"""Fixed sampling seed, so that non-zero temperatures are reproducible too."""


class LlamaLike(Protocol):
    """The part of ``llama_cpp.Llama`` we use (tests pass a small fake)."""

    def create_chat_completion(self, messages: Any, **kwargs: Any) -> Any: ...


PREFIX_STATES = 4
"""Saved KV states of prompt prefixes (system prompt and examples) kept per loaded model."""


class _Slot:
    """One loaded model, the lock that serialises its use, and its saved prefix states."""

    def __init__(self, llama: LlamaLike | None = None) -> None:
        self.lock = threading.Lock()
        self.llama = llama
        self.last_call_s: float | None = None
        self.prefixes: OrderedDict[tuple[int, ...], bytes] = OrderedDict()
        self.prefix_hits = 0
        self.prefix_saves = 0


_slots: dict[tuple[str, int, int], _Slot] = {}
_slots_lock = threading.Lock()


@atexit.register
def _close_models() -> None:
    """Free loaded models while the interpreter still works: llama-cpp-python's ``__del__`` at
    final shutdown finds its free functions already torn down and prints a TypeError traceback."""
    with _slots_lock:
        for slot in _slots.values():
            close = getattr(slot.llama, "close", None)
            if close is not None:
                with contextlib.suppress(Exception):
                    close()
            slot.llama = None


def _load_llama(path: Path, threads: int, n_ctx: int, *, extra_buffers: bool | None = None) -> LlamaLike:
    """Load the GGUF.  ``extra_buffers`` None: off when the build holds AMX kernels (a native build
    made by plain pip on an AMX machine), on otherwise -- so no load ever reaches the AMX path."""
    llama_cpp = import_llama_cpp()
    if extra_buffers is None:
        extra_buffers = not uses_amx(build_info())
    start = time.perf_counter()
    guard = contextlib.nullcontext() if extra_buffers else without_extra_buffers(llama_cpp)
    try:
        with guard:
            llama = llama_cpp.Llama(
                model_path=str(path),
                n_ctx=n_ctx,
                n_threads=threads,
                n_threads_batch=threads,
                seed=SEED,
                verbose=False,
            )
    except ValueError as exc:
        raise ModelMissing(f"llama.cpp could not load {path}: {exc}") from exc
    log.info("loaded %s (n_ctx=%d, threads=%d, extra buffers %s) in %.1fs", path.name, n_ctx, threads,
             "on" if extra_buffers else "off", time.perf_counter() - start)
    return cast(LlamaLike, llama)  # Llama's typed signature is narrower than the protocol


class InProcessBackend(ChatBackend):
    """llama.cpp in this process, with the GGUF's own chat template.

    ``model`` selects a :data:`LOCAL_MODELS` key (default ``settings.local_model``).  The
    model is assembled and loaded on first use (or by :meth:`warm`), once per process and
    shared by all instances with the same path, threads and context size.  Pass ``llama``
    to use a ready object instead (tests).
    """

    name = "local"

    def __init__(self, settings: Settings, model: str | None = None, *, llama: LlamaLike | None = None) -> None:
        self.spec = model_spec(model or settings.local_model)
        self.model = self.spec.key
        self.settings = settings
        self.queue_timeout_s = settings.local_queue_timeout_s
        if llama is not None:
            self._slot = _Slot(llama)
            return
        check_local_model(self.spec, settings.cache_dir)
        key = (
            str(model_file(self.spec, settings.cache_dir)),
            settings.llm_threads,
            settings.llm_context_tokens,
        )
        with _slots_lock:
            self._slot = _slots.setdefault(key, _Slot())

    def _llama(self) -> LlamaLike:
        """The loaded model; call with the slot lock held."""
        if self._slot.llama is None:
            path = assemble_model(self.spec, self.settings.cache_dir)
            self._slot.llama = _load_llama(path, self.settings.llm_threads, self.settings.llm_context_tokens)
        return self._slot.llama

    def warm(self) -> None:
        """Assemble and load the model now (e.g. at start-up) rather than on the first call."""
        with self._acquired():
            self._llama()

    @contextlib.contextmanager
    def _acquired(self) -> Iterator[None]:
        if not self._slot.lock.acquire(timeout=self.queue_timeout_s):
            last = self._slot.last_call_s
            retry_after = float(max(1, math.ceil(last))) if last is not None else 10.0
            raise UpstreamUnavailable(
                f"local model busy: waited {self.queue_timeout_s:g}s for the running request",
                retry_after=retry_after,
            )
        start = time.perf_counter()
        try:
            yield
        finally:
            self._slot.last_call_s = time.perf_counter() - start
            self._slot.lock.release()

    def _request(self, llama: Any, messages: Sequence[ChatMessage], temperature: float, max_tokens: int,
                 stop: Sequence[str] | None, *, stream: bool) -> tuple[Any, str]:
        """Start the llama.cpp call; returns its result (or chunk iterator) and its kind.

        A last ``assistant`` message is the beginning of the reply, which the model continues
        (the answer pipeline states the chosen evidence that way): the prompt is built with the
        GGUF's own chat template, exactly as for scoring (:func:`number_probs`), so the KV cache
        of the scoring pass is re-used up to where the two differ.
        """
        common = {"temperature": temperature, "max_tokens": max_tokens, "seed": SEED, "stream": stream}
        if hasattr(llama, "eval"):  # llama.cpp proper (not a test double): restore the prompt's prefix
            head = messages[:-1] if messages and messages[-1].role == "assistant" else messages
            prompt, add_bos = _chat_prompt(llama, head)
            extra = messages[-1].content if head is not messages else ""
            warm_prefix(llama, self._slot, llama.tokenize((prompt + extra).encode("utf-8"), add_bos=add_bos,
                                                          special=True), _system_prefix(llama, messages, add_bos))
        if messages and messages[-1].role == "assistant" and hasattr(llama, "create_completion"):
            prompt, add_bos = _chat_prompt(llama, messages[:-1])
            tokens = llama.tokenize((prompt + messages[-1].content).encode("utf-8"), add_bos=add_bos, special=True)
            eos = llama._model.token_get_text(llama.token_eos())
            stops = [*(stop or []), eos, "<|im_end|>", "<|endoftext|>"]
            return llama.create_completion(tokens, stop=list(dict.fromkeys(stops)), **common), "text"
        return llama.create_chat_completion(messages=[m.as_dict() for m in messages],
                                            stop=list(stop) if stop else None, **common), "chat"

    def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        temperature: float = 0.0,
        max_tokens: int = 512,
        stop: Sequence[str] | None = None,
    ) -> Completion:
        start = time.perf_counter()
        with self._acquired():
            llama = self._llama()
            with _llama_errors(self.settings):
                result, kind = self._request(llama, messages, temperature, max_tokens, stop, stream=False)
        choice = result["choices"][0]
        usage = result.get("usage") or {}
        text = choice.get("text") if kind == "text" else choice["message"].get("content")
        return Completion(
            text=text or "",
            model=self.model,
            backend=self.name,
            usage=Usage(usage.get("prompt_tokens"), usage.get("completion_tokens")),
            latency_ms=elapsed_ms(start),
            finish_reason=choice.get("finish_reason"),
        )

    def _stream(
        self,
        messages: list[ChatMessage],
        *,
        temperature: float,
        max_tokens: int,
        stop: Sequence[str] | None,
    ) -> StreamGen:
        start = time.perf_counter()
        parts: list[str] = []
        finish: str | None = None
        prompt_tokens: int | None = None
        with self._acquired():
            llama = self._llama()
            with _llama_errors(self.settings):
                chunks, kind = self._request(llama, messages, temperature, max_tokens, stop, stream=True)
                for chunk in chunks:
                    finish = chunk["choices"][0].get("finish_reason") or finish
                    delta = _delta(chunk, kind)
                    if delta:
                        if not parts:
                            # llama.cpp streams no usage; when the first token arrives the
                            # context holds exactly the evaluated prompt.
                            prompt_tokens = _n_tokens(llama)
                        parts.append(delta)
                        yield delta
            if not parts:
                prompt_tokens = _n_tokens(llama)
        return Completion(
            text="".join(parts),
            model=self.model,
            backend=self.name,
            usage=Usage(prompt_tokens, len(parts)),  # one chunk per token
            latency_ms=elapsed_ms(start),
            finish_reason=finish,
        )

    def choice_probs(self, messages: Sequence[ChatMessage], prefill: str,
                     numbers: Sequence[int]) -> list[float] | None:
        """Exact probabilities from llama.cpp's logits (see :func:`number_probs`)."""
        with self._acquired():
            llama = self._llama()
            if not hasattr(llama, "eval"):  # a test double without llama.cpp's low-level API
                return None
            with _llama_errors(self.settings):
                prompt, add_bos = _chat_prompt(llama, messages)
                warm_prefix(llama, self._slot, llama.tokenize((prompt + prefill).encode("utf-8"), add_bos=add_bos,
                                                              special=True), _system_prefix(llama, messages, add_bos))
                return number_probs(llama, prompt + prefill, numbers, add_bos=add_bos)


    def probe(self, prompt_tokens: int = 128, decode_tokens: int = 16) -> dict[str, float]:
        """A cold completion of about ``prompt_tokens`` prompt tokens and ``decode_tokens`` new ones,
        timed: what ``newsdesk doctor`` and serve's start check run in the worker."""
        sentence = "The council met on Tuesday and approved the budget for the coming year after a long debate. "
        messages = [ChatMessage("user", sentence * max(1, prompt_tokens // 19) + "Summarise this in one sentence.")]
        with self._acquired():
            llama = self._llama()
            with _llama_errors(self.settings):
                if hasattr(llama, "eval"):
                    llama.n_tokens = 0  # nothing re-used: the whole prompt is evaluated
                    prompt, add_bos = _chat_prompt(llama, messages)
                    n_prompt = len(llama.tokenize(prompt.encode("utf-8"), add_bos=add_bos, special=True))
                else:
                    n_prompt = sum(len(m.content.split()) for m in messages)
                start = time.perf_counter()
                first: float | None = None
                n = 0
                chunks, kind = self._request(llama, messages, 0.0, decode_tokens, None, stream=True)
                for chunk in chunks:
                    if _delta(chunk, kind):
                        first = first if first is not None else time.perf_counter() - start
                        n += 1
                total = time.perf_counter() - start
        first = first if first is not None else total
        return {"prompt_tokens": n_prompt, "decode_tokens": n, "first_token_s": round(first, 3),
                "total_s": round(total, 3), "prefill_tok_s": round(n_prompt / max(first, 1e-9), 1),
                "decode_tok_s": round((n - 1) / max(total - first, 1e-9), 1) if n > 1 else 0.0}

    def stats(self) -> dict[str, Any]:
        slot = self._slot
        return {"loaded": slot.llama is not None, "prefix_states": len(slot.prefixes),
                "prefix_restores": slot.prefix_hits, "prefix_saves": slot.prefix_saves}


def _delta(chunk: Any, kind: str) -> str | None:
    """The text a streamed llama.cpp chunk adds: ``text`` of a completion, ``delta.content`` of a chat."""
    choice = chunk["choices"][0]
    return choice.get("text") if kind == "text" else choice.get("delta", {}).get("content")


def _chat_prompt(llama: Any, messages: Sequence[ChatMessage]) -> tuple[str, bool]:
    """The prompt text llama.cpp's own chat handler builds from the GGUF's template (so that
    its tokens, and the KV cache they fill, are the ones a following chat completion reuses),
    and whether a BOS token goes in front of it."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    formatter = getattr(llama, "_newsdesk_formatter", None)
    if formatter is None:
        template = llama.metadata.get("tokenizer.chat_template")
        if not template:
            raise ConfigError("the local model's GGUF has no chat template")
        text = llama._model.token_get_text  # the same token strings llama.cpp passes its template
        formatter = Jinja2ChatFormatter(template=template, eos_token=text(llama.token_eos()),
                                        bos_token=text(llama.token_bos()))
        llama._newsdesk_formatter = formatter
    result = formatter(messages=[m.as_dict() for m in messages])
    return result.prompt, not result.added_special


def _system_prefix(llama: Any, messages: Sequence[ChatMessage], add_bos: bool) -> int:
    """How many tokens of the rendered prompt are the fixed prefix: everything up to the end of
    the system message (instructions and worked examples), which every call of a prompt shares."""
    if not messages or messages[0].role != "system":
        return 0
    full, _ = _chat_prompt(llama, messages)
    alone, _ = _chat_prompt(llama, messages[:1])
    n = next((i for i, (a, b) in enumerate(zip(full, alone, strict=False)) if a != b), min(len(full), len(alone)))
    common = full[:n]
    if not common:
        return 0
    # the chat template closes the system turn before anything else: cut there
    return len(llama.tokenize(common.encode("utf-8"), add_bos=add_bos, special=True)) - 1


def _held_prefix(llama: Any, tokens: Sequence[int]) -> int:
    """How many leading ``tokens`` the context already holds (its KV cache can be re-used)."""
    common = 0
    for a, b in zip(llama.input_ids[: llama.n_tokens], tokens, strict=False):
        if a != b:
            break
        common += 1
    return common


def warm_prefix(llama: Any, slot: _Slot, tokens: Sequence[int], prefix_len: int) -> None:
    """Make the KV cache hold ``tokens[:prefix_len]`` before a call evaluates ``tokens``.

    When the context already starts with it, llama.cpp re-uses it by itself.  When another
    prompt ran in between (an answer after a summary), the prefix's saved state is restored
    instead of evaluating the system prompt again; the first time, it is evaluated and saved.
    """
    if prefix_len <= 0 or prefix_len > len(tokens):
        return
    common = _held_prefix(llama, tokens)
    if common >= prefix_len:
        return
    key = tuple(int(t) for t in tokens[:prefix_len])
    state = slot.prefixes.get(key)
    import llama_cpp

    if state is not None:
        buf = (ctypes.c_uint8 * len(state)).from_buffer_copy(state)
        llama_cpp.llama_state_set_data(llama._ctx.ctx, buf, len(state))
        llama.input_ids[:prefix_len] = key
        llama.n_tokens = prefix_len
        slot.prefixes.move_to_end(key)
        slot.prefix_hits += 1
        return
    llama.n_tokens = common
    llama.eval(list(key[common:]))
    size = llama_cpp.llama_state_get_size(llama._ctx.ctx)
    buf = (ctypes.c_uint8 * size)()
    n = llama_cpp.llama_state_get_data(llama._ctx.ctx, buf, size)
    slot.prefixes[key] = bytes(buf)[:n]
    slot.prefix_saves += 1
    while len(slot.prefixes) > PREFIX_STATES:
        slot.prefixes.popitem(last=False)


def _log_softmax(logits: Any) -> Any:
    import numpy as np

    x = np.asarray(logits, dtype=np.float64)
    m = float(x.max())
    return x - (m + float(np.log(np.exp(x - m).sum())))


def _last_logits(llama: Any) -> Any:
    import numpy as np

    return np.ctypeslib.as_array(llama._ctx.get_logits_ith(-1), shape=(llama.n_vocab(),)).copy()


def _eval_to(llama: Any, tokens: Sequence[int]) -> None:
    """Make the context hold exactly ``tokens``, re-using its longest common prefix (at least
    the last token is evaluated again, so its logits are current)."""
    common = min(_held_prefix(llama, tokens), len(tokens) - 1)
    llama.n_tokens = common
    llama.eval(list(tokens[common:]))


def number_probs(llama: Any, prompt: str, numbers: Sequence[int], *, add_bos: bool) -> list[float]:
    """P(the text after ``prompt`` is the number k, then a non-digit) for each k in ``numbers``.

    One pass over ``prompt`` (re-using the KV cache's common prefix), then one token per digit
    prefix that a longer number continues: the tokenizer splits numbers into single digits,
    so P(12) = P("1") * P("2" | "1") * P(no digit | "12").  "Then a non-digit" matters: after
    "[S1" the model may write "]", "][" or "]." -- all of them end the number.

    The context is left holding ``prompt``, so a chat completion whose prompt starts the same
    way re-uses it.
    """
    import math

    import numpy as np

    base = llama.tokenize(prompt.encode("utf-8"), add_bos=add_bos, special=True)
    digit_ids = [llama.tokenize(str(d).encode(), add_bos=False, special=False) for d in range(10)]
    if any(len(t) != 1 for t in digit_ids):
        raise ConfigError("the local model's tokenizer does not split numbers into digits")
    digits = np.array([t[0] for t in digit_ids])
    _eval_to(llama, base)
    logp: dict[str, Any] = {"": _log_softmax(_last_logits(llama))}

    def after(prefix: str) -> Any:
        if prefix not in logp:
            _eval_to(llama, [*base, *(int(digits[int(c)]) for c in prefix)])
            logp[prefix] = _log_softmax(_last_logits(llama))
        return logp[prefix]

    longest = max(numbers, default=0)
    out: list[float] = []
    for k in numbers:
        text = str(k)
        total = sum(float(after(text[:i])[digits[int(text[i])]]) for i in range(len(text)))
        # the number ends here: P(no further digit); only worth a pass where longer numbers exist
        if 0 < k and k * 10 <= longest:
            p_more = float(np.exp(after(text)[digits]).sum())
            total += math.log(max(1.0 - p_more, 1e-12))
        out.append(math.exp(total))
    if llama.n_tokens != len(base):
        llama.n_tokens = len(base)  # drop the digit tokens; the next eval overwrites their cells
    return out


def _n_tokens(llama: LlamaLike) -> int | None:
    n_tokens = getattr(llama, "n_tokens", None)
    return n_tokens if isinstance(n_tokens, int) else None


@contextlib.contextmanager
def _llama_errors(settings: Settings) -> Iterator[None]:
    """Translate llama.cpp failures into domain errors."""
    try:
        yield
    except ValueError as exc:
        if "context window" in str(exc):
            raise ConfigError(
                f"prompt too long for the local model: {exc} "
                f"(NEWSDESK_LLM_CONTEXT_TOKENS={settings.llm_context_tokens})"
            ) from exc
        raise UpstreamUnavailable(f"local model failed: {exc}") from exc
    except RuntimeError as exc:
        raise UpstreamUnavailable(f"local model failed: {exc}") from exc
