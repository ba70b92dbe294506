"""Near-duplicates: wire copy that several outlets reprint, found and linked at ingest.

Each article's text becomes a set of 5-word shingles.  A MinHash signature of 128 values, cut into
32 bands of 4, goes into the catalogue; articles sharing a band are candidates (two texts with
Jaccard 0.5 share one with probability 0.87, at 0.7 with 0.99998).  A candidate is a copy when
its shingle *containment* -- shared shingles over the smaller set -- reaches ``COPY_AT``: a paper
that trims the agency's story or adds a local paragraph still reprints it.

Links are symmetric and stored in the catalogue; :meth:`BaseCatalog.copy_origins` maps each article
to the outlet of the earliest copy, so a briefing counts outlets, not copies.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from service.store.catalog_base import BaseCatalog

SHINGLE_WORDS = 5
PERMUTATIONS = 128
ROWS = 4
COPY_AT = 0.6
MIN_SHINGLES = 20
"""Texts shorter than this (about 25 words) are never called copies: too little to tell."""
_PRIME = np.uint64(4294967311)  # the first prime above 2**32
_rng = np.random.default_rng(20240305)  # fixed: signatures must agree across processes and runs
_A = _rng.integers(1, 2**31, PERMUTATIONS, dtype=np.uint64)
_B = _rng.integers(0, 2**31, PERMUTATIONS, dtype=np.uint64)
_WORD = re.compile(r"\w+")


@dataclass(frozen=True, slots=True)
class Copy:
    article_id: str
    other_id: str
    containment: float


def shingles(text: str) -> set[int]:
    words = _WORD.findall(text.lower())
    return {zlib.crc32(" ".join(words[i : i + SHINGLE_WORDS]).encode())
            for i in range(len(words) - SHINGLE_WORDS + 1)}


def bands(sh: set[int]) -> list[int]:
    """The LSH band hashes of a shingle set (empty for texts too short to judge)."""
    if len(sh) < MIN_SHINGLES:
        return []
    x = np.fromiter(sh, dtype=np.uint64, count=len(sh))
    sig = ((x[None, :] * _A[:, None] + _B[:, None]) % _PRIME).min(axis=1)
    rows = sig.reshape(-1, ROWS)
    return [zlib.crc32(r.tobytes()) for r in rows]


def containment(a: set[int], b: set[int]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / min(len(a), len(b))


def link_copies(catalog: BaseCatalog, article_ids: Sequence[str]) -> list[Copy]:
    """Index the given (just written) articles and link each to the stored copies it matches."""
    found: list[Copy] = []
    for aid in dict.fromkeys(article_ids):
        art = catalog.get_article_text(aid)
        if art is None:
            continue
        sh = shingles(art)
        b = bands(sh)
        catalog.set_bands(aid, b)
        links: list[tuple[str, float]] = []
        for other in catalog.band_candidates(b, exclude=aid):
            other_text = catalog.get_article_text(other)
            score = containment(sh, shingles(other_text)) if other_text is not None else 0.0
            if score >= COPY_AT:
                links.append((other, round(score, 4)))
        catalog.set_copies(aid, links)
        found += [Copy(aid, other, score) for other, score in links]
    return found
