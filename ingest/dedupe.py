"""Dedupe: recognise copies of a seed and duplicates among articles.

Two steps. Candidates: 5-word shingle *containment* (the share of the smaller text found in the larger,
not Jaccard, so a truncated copy or one wrapped in boilerplate still counts); the store keeps a 1-in-4
sample of each article's shingle hashes (hash mod 4, so two copies sample the same shingles) as the index.
Verdict: *aligned* containment, the share of the shorter text's words that appear in the same order in the
other (difflib's matching blocks of 3+ words). A light edit (5% of words changed) costs a copy ~5% of its
aligned words but ~25% of its shingles, while a rewrite of the same wire story keeps only its shared
sentences: aligned containment separates the two where shingles cannot.
"""

from __future__ import annotations

import difflib
import zlib
from dataclasses import dataclass

import sqlite_utils

from store import articles as store_articles

from .text import article_text, strip_boilerplate, words

SAMPLE_MOD = 4
HEAD_WORDS = 24  # the opening words whose shingles are all indexed
MAX_CANDIDATES = 5


MAX_ALIGN_WORDS = 3000  # alignment is quadratic at worst; the head of a long text decides


def tokens(text: str) -> list[str]:
    """The words that are compared: boilerplate lines removed."""
    return words(strip_boilerplate(text))


def shingles(text: str, k: int = 5) -> set[int]:
    """Signed 64-bit hashes of every k-word window of the text, boilerplate lines removed."""
    return shingles_of(tokens(text), k)


# A shingle's hash: each word's CRC-32 (cached) times a fixed odd 64-bit multiplier per position, summed
# mod 2^64 and shifted into SQLite's signed range. Stable across processes and runs (unlike hash()), and
# twice as fast as hashing each shingle's text with blake2b.
_MULTIPLIERS = (0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93, 0xFF51AFD7ED558CCD)
_MASK = (1 << 64) - 1
_SIGN = 1 << 63
_word_hashes: dict[str, int] = {}


def _word_hash(word: str) -> int:
    h = _word_hashes.get(word)
    if h is None:
        if len(_word_hashes) > 1_000_000:
            _word_hashes.clear()
        h = _word_hashes[word] = zlib.crc32(word.encode("utf-8", "surrogatepass")) + 1
    return h


def shingles_of(tokens: list[str], k: int = 5) -> set[int]:
    """Hashes of every k-word window of these words (k <= 5)."""
    hs = [_word_hash(w) for w in tokens]
    if len(hs) < k:
        return {(sum(h * m for h, m in zip(hs, _MULTIPLIERS)) & _MASK) - _SIGN} if hs else set()
    if k == 5:
        a0, a1, a2, a3, a4 = _MULTIPLIERS
        return {((x0 * a0 + x1 * a1 + x2 * a2 + x3 * a3 + x4 * a4) & _MASK) - _SIGN for x0, x1, x2, x3, x4 in zip(hs, hs[1:], hs[2:], hs[3:], hs[4:])}
    windows = zip(*(hs[i:] for i in range(k)))
    return {(sum(h * m for h, m in zip(window, _MULTIPLIERS)) & _MASK) - _SIGN for window in windows}


def is_sampled(h: int) -> bool:
    """Whether a shingle hash belongs to the 1-in-SAMPLE_MOD sample."""
    return (h >> 40) & (SAMPLE_MOD - 1) == 0  # high bits: the low bits of an odd sum are not uniform


def index_keys(words_: list[str], hashes: set[int], k: int = 5) -> list[int]:
    """What the index stores for a text: its 1-in-SAMPLE_MOD shingle sample plus every shingle of its opening.

    Sampling by hash value alone misses a short text whose few shingles all fall outside the sample
    (0.75^14: 2% of 14-shingle briefs); copies in the wild keep the opening (excerpts, truncations,
    "first two sentences"), so the opening's shingles are indexed in full.
    """
    head = shingles_of(words_[: HEAD_WORDS + k - 1], k)
    return sorted({h for h in hashes if is_sampled(h)} | head)


def containment(a: set[int], b: set[int]) -> float:
    """How much of the smaller set lies in the larger (0..1)."""
    if not a or not b:
        return 0.0
    return len(a & b) / min(len(a), len(b))


def aligned_containment(a: list[str], b: list[str]) -> float:
    """Share of the shorter word list found, in order, in the other (runs of 3+ words)."""
    a, b = a[:MAX_ALIGN_WORDS], b[:MAX_ALIGN_WORDS]
    if not a or not b:
        return 0.0
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    matched = sum(block.size for block in matcher.get_matching_blocks() if block.size >= 3)
    return matched / min(len(a), len(b))


@dataclass
class Duplicate:
    article_id: int  # the earliest article of the group
    score: float


def find_duplicate(
    db: sqlite_utils.Database,
    words_: list[str],
    hashes: set[int],
    keys: list[int],
    k: int,
    prefilter: float,
    threshold: float,
    min_shingles: int,
) -> Duplicate | None:
    """The stored article this text is a near-copy of (aligned containment >= threshold), or None.

    The index overlap estimates each candidate's containment; only those at or above the prefilter
    are re-read and aligned, so popular sentences shared by many articles cost one query, not a
    re-shingling of every article that quotes them.
    """
    if len(hashes) < min_shingles:
        return None
    best: Duplicate | None = None
    verified = 0
    for cand in store_articles.shingle_candidates(db, keys, min_overlap=2):
        if cand["overlap"] / max(1, min(len(keys), cand["index_keys"])) < prefilter:
            continue
        verified += 1
        if verified > MAX_CANDIDATES:
            break
        row = store_articles.article_texts(db, [cand["id"]])[0]
        other_words = tokens(article_text(row["title"], row["summary"], row["content"]))
        other = shingles_of(other_words, k)
        if len(other) < min_shingles or len(hashes & other) < min_shingles or containment(hashes, other) < prefilter:
            continue
        score = aligned_containment(words_, other_words)
        if score >= threshold and (best is None or score > best.score):
            best = Duplicate(article_id=cand["duplicate_of"] or cand["id"], score=score)
    return best
