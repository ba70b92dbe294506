"""`newsdesk doctor`: each check on the machines it must tell apart, and the command itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from service.config import Settings
from service.doctor import check_build, check_cpu, check_model_run, cpu_info, run_checks
from service.llm.build import parse_system_info
from service.llm.supervisor import stop_workers
from service.llm.worker import CRASH_FILE_ENV
from tests.llm.test_build import NATIVE_AMX, PORTABLE

XEON = "model name\t: Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz\nflags\t\t: fpu avx avx2 fma f16c avx512f " \
       "avx512_vnni avx_vnni amx_bf16 amx_tile amx_int8\n"
EPYC = "model name\t: AMD EPYC 7B13\nflags\t\t: fpu avx avx2 fma f16c\n"
OLD = "model name\t: Intel(R) Xeon(R) CPU E5-2680\nflags\t\t: fpu sse4_2 avx\n"


def test_cpu_features_are_read_from_cpuinfo() -> None:
    xeon = cpu_info(XEON)
    assert xeon["model"].startswith("Intel(R) Xeon(R) Platinum")
    assert xeon["flags"]["amx_tile"] and xeon["flags"]["avx512f"] and xeon["flags"]["avx2"]
    assert not any(cpu_info(EPYC)["flags"][f] for f in ("avx512f", "amx_tile", "amx_int8"))
    assert check_cpu(cpu_info(XEON)).summary.endswith("AVX2 yes · AVX-512 yes · AMX yes")


@pytest.mark.parametrize(("cpu", "build", "status", "words"), [
    (XEON, NATIVE_AMX, "fail", "AMX kernels"),     # the crash the issue reported
    (EPYC, NATIVE_AMX, "warn", "AMX kernels"),     # runs here, crashes on the next machine
    (EPYC, NATIVE_AMX.replace("AMX_INT8 = 1", "AMX_INT8 = 0"), "fail", "illegal instruction"),
    (XEON, PORTABLE, "ok", "portable"),
    (EPYC, PORTABLE, "ok", "portable"),
])
def test_the_build_is_judged_against_the_cpu(cpu: str, build: str, status: str, words: str) -> None:
    check = check_build(cpu_info(cpu), parse_system_info(build))
    assert check.status == status and words in check.summary
    assert (check.fix is not None and "make llama" in check.fix) == (status != "ok")


def test_a_cpu_without_avx2_fails_with_the_way_out() -> None:
    check = check_cpu(cpu_info(OLD) | {"arch": "x86_64"})
    assert check.status == "fail" and check.fix and "NEWSDESK_LLM_BACKEND=openai" in check.fix


def test_the_model_run_reports_speeds_from_a_child_process(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "d", cache_dir=tmp_path / "c", local_fake_llama=True)
    check = check_model_run(settings)
    assert check.status == "ok" and "tokens/s" in check.summary and "child process" in check.summary


def test_a_model_that_crashes_fails_the_check_and_not_the_doctor(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    crash = tmp_path / "crash"
    crash.write_text("probe")
    monkeypatch.setenv(CRASH_FILE_ENV, str(crash))
    try:
        check = check_model_run(Settings(data_dir=tmp_path / "d", cache_dir=tmp_path / "c", local_fake_llama=True))
    finally:
        stop_workers()
    assert check.status == "fail" and "SIGSEGV" in check.summary
    assert check.fix and "make llama" in check.fix and "doctor" in check.fix


def test_every_check_runs_on_an_empty_desk(tmp_path: Path) -> None:
    checks = run_checks(Settings(data_dir=tmp_path / "d", cache_dir=tmp_path / "c", llm_backend="fake"), model=False)
    names = [c.name for c in checks]
    assert names[:3] == ["python", "cpu", "llama.cpp build"]
    assert {"chroma", "catalogue", "disk", "browser tests"} <= set(names)
    assert all(c.status in ("ok", "warn", "fail") for c in checks)


def test_the_command_prints_json_and_exits_by_its_checks(tmp_path: Path) -> None:
    env = {**os.environ, "NEWSDESK_DATA_DIR": str(tmp_path / "d"), "NEWSDESK_LLM_BACKEND": "fake"}
    r = subprocess.run([sys.executable, "-m", "service.cli", "doctor", "--no-model", "--json"], env=env,
                       capture_output=True, text=True, timeout=120)
    checks = json.loads(r.stdout)
    assert r.returncode == (1 if any(c["status"] == "fail" for c in checks) else 0), r.stderr
    assert {c["name"] for c in checks} >= {"python", "cpu", "llama.cpp build", "chroma", "catalogue", "disk"}
