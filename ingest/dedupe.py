"""Dedupe: word shingles and containment, to recognise copies of a seed and duplicates among articles.

Containment (the share of the smaller text found in the larger) rather than Jaccard, so a truncated copy
("first half... Read more") or a copy wrapped in site boilerplate still counts. The store keeps a 1-in-4
sample of each article's shingle hashes (a deterministic hash mod 4, so two copies sample the same shingles),
and a lookup only verifies exactly the few articles that share sampled hashes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import sqlite_utils

from store import articles as store_articles

from .text import article_text, strip_boilerplate, words

SAMPLE_MOD = 4
MAX_CANDIDATES = 5


def shingles(text: str, k: int = 5) -> set[int]:
    """Signed 64-bit hashes of every k-word window of the text, boilerplate lines removed."""
    tokens = words(strip_boilerplate(text))
    if len(tokens) < k:
        return {_hash(" ".join(tokens))} if tokens else set()
    return {_hash(" ".join(tokens[i : i + k])) for i in range(len(tokens) - k + 1)}


def _hash(shingle: str) -> int:
    return int.from_bytes(hashlib.blake2b(shingle.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "big", signed=True)


def sample(hashes: set[int]) -> list[int]:
    """The 1-in-SAMPLE_MOD subset stored in the index."""
    return sorted(h for h in hashes if h % SAMPLE_MOD == 0)


def containment(a: set[int], b: set[int]) -> float:
    """How much of the smaller set lies in the larger (0..1)."""
    if not a or not b:
        return 0.0
    return len(a & b) / min(len(a), len(b))


@dataclass
class Duplicate:
    article_id: int  # the earliest article of the group
    score: float


def find_duplicate(
    db: sqlite_utils.Database, hashes: set[int], k: int, threshold: float, min_shingles: int
) -> Duplicate | None:
    """The stored article this text is a near-copy of, verified on full shingles, or None."""
    if len(hashes) < min_shingles:
        return None
    sampled = sample(hashes)
    candidates = store_articles.shingle_candidates(db, sampled, min_overlap=max(1, min(3, len(sampled) // 3)))
    best: Duplicate | None = None
    for cand in candidates[:MAX_CANDIDATES]:
        row = store_articles.article_texts(db, [cand["id"]])[0]
        other = shingles(article_text(row["title"], row["summary"], row["content"]), k)
        if len(other) < min_shingles or len(hashes & other) < min_shingles:
            continue
        score = containment(hashes, other)
        if score >= threshold and (best is None or score > best.score):
            best = Duplicate(article_id=cand["duplicate_of"] or cand["id"], score=score)
    return best
