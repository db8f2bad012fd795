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
import sys
import zlib
from array import array
from dataclasses import dataclass
from itertools import filterfalse

import sqlite_utils

from store import articles as store_articles

from .text import article_text, has_boilerplate, strip_boilerplate, words

SAMPLE_MOD = 4
HEAD_WORDS = 24  # the opening words whose shingles are all indexed
MAX_CANDIDATES = 5


MAX_ALIGN_WORDS = 3000  # alignment is quadratic at worst; the head of a long text decides


def tokens(text: str, text_words: list[str] | None = None) -> list[str]:
    """The words that are compared: boilerplate lines removed.

    text_words, if given, must be words(text): when no line is boilerplate they are the answer, and the
    text is not split into words a second time.
    """
    if text_words is not None and not has_boilerplate(text):
        return text_words
    return words(strip_boilerplate(text))


def shingles(text: str, k: int = 5) -> set[int]:
    """Signed 64-bit hashes of every k-word window of the text, boilerplate lines removed."""
    return shingles_of(tokens(text), k)


# A shingle's hash: each word's CRC-32 (plus one) times a fixed odd 64-bit multiplier per position, summed
# mod 2^64 and shifted into SQLite's signed range. Stable across processes and runs (unlike hash()), and
# twice as fast as hashing each shingle's text with blake2b.
_MULTIPLIERS = (0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93, 0xFF51AFD7ED558CCD)
_MASK = (1 << 64) - 1
_SIGN = 1 << 63


def _word_hash(word: str) -> int:
    """A word's CRC-32 plus one: the same in every process and run, unlike hash()."""
    return zlib.crc32(word.encode("utf-8", "surrogatepass")) + 1


def shingles_of(tokens: list[str], k: int = 5) -> set[int]:
    """Hashes of every k-word window of these words (k <= 5)."""
    if len(tokens) >= k and 1 <= k <= len(_MULTIPLIERS):
        return _window_hashes(tokens, k)
    hs = [_word_hash(w) for w in tokens]
    if len(hs) < k:
        return {(sum(h * m for h, m in zip(hs, _MULTIPLIERS)) & _MASK) - _SIGN} if hs else set()
    windows = zip(*(hs[i:] for i in range(k)))
    return {(sum(h * m for h, m in zip(window, _MULTIPLIERS)) & _MASK) - _SIGN for window in windows}


# All the windows' sums with one multiplication of big integers: the word hashes sit in 13-byte lanes of
# one integer; times an integer holding the k multipliers in k lanes, lane i + k - 1 of the product is
# window i's sum, below 5 * 2^32 * 2^64 < 2^104, so no lane spills into the next. A lane's low 8 bytes
# are the sum mod 2^64; with their top bit flipped, read as a signed number, they are that minus 2^63.
# (13 bytes is the narrowest lane that holds a sum; the multiplication's cost grows with its square.)
_LANE = 13  # bytes
_LANE_MULTIPLIERS = {
    k: int.from_bytes(b"".join(m.to_bytes(_LANE, "little") for m in reversed(_MULTIPLIERS[:k])), "little")
    for k in range(1, len(_MULTIPLIERS) + 1)
}
_FLIP_TOP_BIT = bytes(b ^ 0x80 for b in range(256))
_BIG_ENDIAN = sys.byteorder == "big"
_word_lanes: dict[str, bytes] = {}  # word -> _word_hash(word) as a lane; read for every word of every text
_MAX_CACHED = 300_000


def _window_hashes(tokens: list[str], k: int) -> set[int]:
    """shingles_of(tokens, k) for len(tokens) >= k and 1 <= k <= 5."""
    if len(_word_lanes) > _MAX_CACHED:
        _word_lanes.clear()
    for w in filterfalse(_word_lanes.__contains__, tokens):  # most texts have a few new words: names, figures
        _word_lanes[w] = _word_hash(w).to_bytes(_LANE, "little")
    n = len(tokens)
    product = int.from_bytes(b"".join(map(_word_lanes.__getitem__, tokens)), "little") * _LANE_MULTIPLIERS[k]
    lanes = product.to_bytes(_LANE * (n + k - 1), "little")
    # The low 8 bytes of lanes k - 1 .. n - 1, gathered byte by byte into 8-byte little-endian numbers.
    sums = bytearray(8 * (n - k + 1))
    first, end = _LANE * (k - 1), _LANE * n
    for i in range(7):
        sums[i::8] = lanes[first + i : end : _LANE]
    sums[7::8] = lanes[first + 7 : end : _LANE].translate(_FLIP_TOP_BIT)
    hashes = array("q", sums)
    if _BIG_ENDIAN:
        hashes.byteswap()
    return set(hashes)


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
    high = SAMPLE_MOD - 1
    return sorted({h for h in hashes if not (h >> 40) & high} | head)  # is_sampled(h), inlined: no call per hash


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
