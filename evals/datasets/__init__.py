"""Dataset readers, one per ``dataset.format``: the dev sample and the full file share a format."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from evals.cases import Dataset
from evals.datasets import frank, hotpotqa, native, realtimeqa
from service.errors import NotFound

Loader = Callable[[Path], Dataset]
LOADERS: dict[str, Loader] = {
    "hotpotqa": hotpotqa.load, "realtimeqa": realtimeqa.load, "cases": native.load, "frank": frank.load,
}


def load_dataset(fmt: str, path: Path) -> Dataset:
    if not path.exists():
        raise NotFound(f"dataset file {path} does not exist")
    if fmt not in LOADERS:
        raise NotFound(f"no reader for dataset format {fmt!r}")
    return LOADERS[fmt](path)
