"""llama.cpp never reaches its AMX kernels: the build has none, and a build that has them is loaded
without the extra buffers that route Q4_K weights to them (llama.cpp#20824)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from service.llm.build import parse_system_info, uses_amx, without_extra_buffers

# llama_print_system_info() of 0.3.36 built -march=native on a Xeon with AMX (the crashing build)
NATIVE_AMX = ("CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX_VNNI = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | BMI2 = 1 | "
              "AVX512 = 1 | AVX512_VBMI = 1 | AVX512_VNNI = 1 | AVX512_BF16 = 1 | AMX_INT8 = 1 | LLAMAFILE = 1 | "
              "OPENMP = 1 | REPACK = 1 | ")
# ... and of the portable build that `make llama` makes (scripts/build-llama-wheel), on any CPU
PORTABLE = ("CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | BMI2 = 1 | LLAMAFILE = 1 | "
            "OPENMP = 1 | REPACK = 1 | ")


def test_system_info_is_read_as_compile_time_features() -> None:
    native, portable = parse_system_info(NATIVE_AMX), parse_system_info(PORTABLE)
    assert native["AMX_INT8"] == "1" and native["AVX512"] == "1" and native["AVX2"] == "1"
    assert portable["AVX2"] == "1" and "AVX512" not in portable and "AMX_INT8" not in portable
    assert uses_amx(native) and not uses_amx(portable)
    assert not uses_amx(parse_system_info(NATIVE_AMX.replace("AMX_INT8 = 1", "AMX_INT8 = 0")))


def test_the_installed_llama_cpp_has_no_amx_and_no_avx512_code() -> None:
    """Whatever machine this runs on: the build must be the portable one, or it could crash on an
    AMX CPU (AMX kernels) or stop with an illegal instruction on a CPU without AVX-512."""
    llama_cpp = pytest.importorskip("llama_cpp")
    info = parse_system_info(llama_cpp.llama_print_system_info().decode())
    assert info.get("AVX2") == "1", info
    assert not uses_amx(info), f"llama.cpp was built with AMX kernels: run `make llama` ({info})"
    assert info.get("AVX512", "0") == "0", "llama.cpp was built for AVX-512 (-march=native?): run `make llama`"


def test_the_guard_turns_extra_buffers_off_in_the_real_bindings() -> None:
    llama_cpp = pytest.importorskip("llama_cpp")
    assert llama_cpp.llama_cpp.llama_model_default_params().use_extra_bufts is True
    with without_extra_buffers(llama_cpp):
        assert llama_cpp.llama_cpp.llama_model_default_params().use_extra_bufts is False
    assert llama_cpp.llama_cpp.llama_model_default_params().use_extra_bufts is True


def test_the_guard_restores_the_bindings_after_a_failed_load() -> None:
    def params() -> Any:
        return SimpleNamespace(use_extra_bufts=True)

    fake = SimpleNamespace(llama_cpp=SimpleNamespace(llama_model_default_params=params))
    with pytest.raises(RuntimeError), without_extra_buffers(fake):
        assert fake.llama_cpp.llama_model_default_params().use_extra_bufts is False
        raise RuntimeError("load failed")
    assert fake.llama_cpp.llama_model_default_params is params


@pytest.mark.slow
def test_the_real_model_loads_and_answerswithout_extra_buffers(tmp_path_factory: pytest.TempPathFactory) -> None:
    pytest.importorskip("llama_cpp")
    from service.config import Settings
    from service.errors import ModelMissing
    from service.llm.engine import _load_llama
    from service.llm.weights import ensure_local_model

    try:
        path = ensure_local_model(Settings(data_dir=tmp_path_factory.mktemp("data")))
    except ModelMissing as exc:
        pytest.skip(exc.detail)
    llama: Any = _load_llama(path, 2, 512, extra_buffers=False)
    try:
        assert llama.model_params.use_extra_bufts is False
        out = llama.create_completion("The capital of France is", max_tokens=4, temperature=0.0)
        assert "paris" in out["choices"][0]["text"].lower()
    finally:
        llama.close()
