"""Dataset readers, one per ``dataset.format``: the dev sample and the full file share a format."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from evals.cases import Dataset
from evals.datasets import allsides, frank, hotpotqa, multinews, native, neus, qags, realtimeqa
from service.errors import ConfigError, NotFound

Loader = Callable[[Path], Dataset]
LOADERS: dict[str, Loader] = {
    "hotpotqa": hotpotqa.load, "realtimeqa": realtimeqa.load, "cases": native.load, "frank": frank.load,
    "conversations": native.load_conversations, "frank-cnndm": frank.load_cnndm, "multinews": multinews.load,
    "neus": neus.load, "allsides": allsides.load, "qags": qags.load,
}


def load_dataset(fmt: str, path: Path, haystack: str = "cases") -> Dataset:
    """``haystack="corpus"``: every case searches the data set's whole corpus (formats that have one)."""
    if not path.exists():
        raise NotFound(f"dataset file {path} does not exist")
    if fmt not in LOADERS:
        raise NotFound(f"no reader for dataset format {fmt!r}")
    if haystack == "cases":
        return LOADERS[fmt](path)
    if fmt != "realtimeqa":
        raise ConfigError(f"dataset format {fmt!r} has no corpus beyond its cases' documents (haystack: {haystack})")
    return realtimeqa.load(path, whole_corpus=True)
