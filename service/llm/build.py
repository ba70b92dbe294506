"""Which llama.cpp build is installed, and how to load it so that it never reaches AMX.

llama.cpp built ``-march=native`` on an Intel CPU with AMX runs its AMX kernels for Q4_K weights
and dies with SIGSEGV (ggml-org/llama.cpp#20824). ``make llama`` builds a portable AVX2 wheel with
no AMX code; :func:`uses_amx` tells a build that has it anyway, and the engine then loads the
model without the extra (repacked) buffers that route weights to those kernels.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

from service.errors import ModelMissing

INSTALL_HINT = ("pip install llama-cpp-python as the Makefile does: `make llama` (a portable AVX2 build, "
                "scripts/build-llama-wheel; about 15 minutes on 2 cores, once per machine)")


def import_llama_cpp() -> Any:
    # llama.cpp is built with OpenMP, whose threads spin while they wait.  On a busy 2-core
    # machine that made generation 5-10x slower (0.3 vs 1.6-2.8 tokens/s measured); passive
    # waiting yields the core instead.  Read once, when the OpenMP runtime loads, so it must
    # be set before the first import; an explicit OMP_WAIT_POLICY in the environment wins.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        import llama_cpp
    except ImportError as exc:
        raise ModelMissing(f"llama-cpp-python is not installed: {INSTALL_HINT}") from exc
    return llama_cpp


def parse_system_info(text: str) -> dict[str, str]:
    """``llama_print_system_info()``'s "CPU : SSE3 = 1 | AVX2 = 1 | AMX_INT8 = 0 | ..." as a dict.

    The CPU features in it are the ones llama.cpp was *compiled* with (``#ifdef __AVX2__``), not
    the ones the machine has: they say what code the build can run, whatever CPU it runs on.
    """
    info: dict[str, str] = {}
    for part in text.replace("\n", "|").split("|"):
        key, sep, value = part.rpartition("=")
        if sep:
            info[key.split(":")[-1].strip()] = value.strip()
    return info


def build_info() -> dict[str, str]:
    """The loaded llama.cpp's compile-time features (see :func:`parse_system_info`)."""
    llama_cpp = import_llama_cpp()
    return parse_system_info(llama_cpp.llama_print_system_info().decode("utf-8", "replace"))


def uses_amx(info: dict[str, str]) -> bool:
    """True when the build holds llama.cpp's AMX kernels, which crash on AMX CPUs (llama.cpp#20824)."""
    return any(info.get(k) == "1" for k in ("AMX_INT8", "AMX_BF16", "AMX_TILE"))


@contextlib.contextmanager
def without_extra_buffers(llama_cpp: Any) -> Iterator[None]:
    """Load with ``use_extra_bufts = False``: no repacked weight buffers, so no AMX buffer type.
    ``Llama()`` takes no such argument; it reads ``llama_model_default_params()``, so that is
    wrapped while the model loads (once per worker process, before any other thread uses it)."""
    low = llama_cpp.llama_cpp
    original = low.llama_model_default_params

    def params() -> Any:
        p = original()
        p.use_extra_bufts = False
        return p

    low.llama_model_default_params = params
    try:
        yield
    finally:
        low.llama_model_default_params = original
