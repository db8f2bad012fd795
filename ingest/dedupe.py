"""Dedupe: recognise copies of a seed and duplicates among articles.

Two steps. Candidates: 5-word shingle *containment* (the share of the smaller text found in the larger,
not Jaccard, so a truncated copy or one wrapped in boilerplate still counts); the store keeps a 1-in-8
sample of each article's shingle hashes (chosen by hash value, so two copies sample the same shingles) and
every shingle of its opening as the index, each key pointing at no more than MAX_POSTINGS articles (the
earliest), so a lookup costs the same in a store of 1,000 articles as in one of 1,000,000.
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
from collections import Counter, OrderedDict
from dataclasses import dataclass
from itertools import filterfalse
from typing import TYPE_CHECKING

from store import articles as store_articles

from .text import article_text, has_boilerplate, strip_boilerplate, words

if TYPE_CHECKING:
    import sqlite_utils

SAMPLE_MOD = 8
HEAD_WORDS = 24  # the opening words whose shingles are all indexed
MAX_CANDIDATES = 5  # groups of duplicates re-read and aligned per text
MAX_LOOKUPS = 50  # candidates (most shared keys first) whose containment is estimated
MAX_POSTINGS = 8  # articles a shingle key indexes at most (the earliest ones)


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
    """Hashes of every k-word window of these words (1 <= k <= 5); a text shorter than k is one shingle."""
    if not 1 <= k <= len(_MULTIPLIERS):
        raise ValueError(f"shingle size {k} is not between 1 and {len(_MULTIPLIERS)}")
    if len(tokens) >= k:
        return _window_hashes(tokens, k)
    hs = [_word_hash(w) for w in tokens]
    return {(sum(h * m for h, m in zip(hs, _MULTIPLIERS)) & _MASK) - _SIGN} if hs else set()


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


@dataclass
class IndexHits:
    """What the near-duplicate index holds under one text's keys."""

    overlap: Counter[int]  # stored article id -> how many of the keys index it (2 or more)
    full: set[int]  # keys that already index MAX_POSTINGS articles: this text is not added under them


class FullKeys:
    """The articles of index keys that are full (MAX_POSTINGS articles), kept in memory: a full key never
    changes, since articles are never removed and no article is added under it (keys_to_store). News
    repeats itself (a wire story's sentences, a stock paragraph), so a poll meets the same full keys
    again and again; each one found here is one fewer read of the index.

    It lives and dies with its Matcher, which a rolled-back transaction drops: a key filled by articles of
    that transaction is not full once they are gone.
    """

    def __init__(self, size: int = 100_000):
        self.size = size  # keys held at most (~200 bytes each)
        self._items: dict[int, list[int]] = {}

    def get(self, key: int) -> list[int] | None:
        return self._items.get(key)

    def add(self, key: int, ids: list[int]) -> None:
        if len(self._items) >= self.size:
            self._items.clear()  # those still in use come back, one read each
        self._items[key] = ids


def look_up(db: sqlite_utils.Database, keys: list[int], full: FullKeys | None = None) -> IndexHits:
    """Read the index under these keys (at most MAX_POSTINGS articles a key, so the cost does not grow with the store).

    Keys known to be full are answered from `full`, and those found full are added to it.
    """
    full = full if full is not None else FullKeys()
    found: list[int] = []
    full_keys: set[int] = set()
    unknown = []
    for key in keys[: store_articles.MAX_LOOKUP_KEYS]:
        ids = full.get(key)
        if ids is None:
            unknown.append(key)
        else:
            found += ids
            full_keys.add(key)
    for key, ids in store_articles.postings(db, unknown).items():
        found += ids
        if len(ids) >= MAX_POSTINGS:
            full_keys.add(key)
            full.add(key, ids)
    return IndexHits(Counter({a: n for a, n in Counter(found).items() if n >= 2}), full_keys)


def keys_to_store(keys: list[int], hits: IndexHits) -> list[int]:
    """The keys a new article is indexed under: all but those that already index MAX_POSTINGS articles.

    A shingle that many articles share (a popular quote, a wire story's sentence) keeps its earliest
    articles, the ones a later copy should point to; adding every later copy would make each lookup
    read them all, so the cost of a check would grow with the store.
    """
    return [key for key in keys if key not in hits.full] if hits.full else keys


class IndexedArticles:
    """duplicate_of and index_keys of the articles stored through one Matcher, so the candidates of a
    near-copy check that it stored itself (all of them, in a cold pull) are not read back from the store.

    Like TextCache it lives and dies with its Matcher, which is dropped when a transaction rolls back.
    """

    def __init__(self, size: int = 250_000):
        self.size = size
        self._items: dict[int, tuple[int | None, int]] = {}

    def add(self, article_id: int, duplicate_of: int | None, keys: int) -> None:
        if len(self._items) >= self.size:
            self._items.clear()  # ~200 bytes an article: bounded for a first poll of a million entries
        self._items[article_id] = (duplicate_of, keys)

    def info(self, db: sqlite_utils.Database, ids: list[int]) -> dict[int, tuple[int | None, int]]:
        """id -> (duplicate_of, index_keys) for these articles, from memory where it can."""
        known = self._items
        found = {i: known[i] for i in ids if i in known}
        if len(found) < len(ids):
            found.update(store_articles.index_info(db, [i for i in ids if i not in found]))
        return found


class TextCache:
    """Words and shingles of recently compared stored articles (a wire story's original is compared with
    each of its copies); one per poll, dropped with it, so a rolled-back id is never reused stale."""

    def __init__(self, size: int = 512):
        self.size = size
        self._items: OrderedDict[int, tuple[list[str], set[int]]] = OrderedDict()

    def get(self, db: sqlite_utils.Database, article_id: int, k: int) -> tuple[list[str], set[int]]:
        item = self._items.get(article_id)
        if item is None:
            rows = store_articles.article_texts(db, [article_id])
            words_ = tokens(article_text(rows[0]["title"], rows[0]["summary"], rows[0]["content"])) if rows else []
            item = self._items[article_id] = (words_, shingles_of(words_, k))
            if len(self._items) > self.size:
                self._items.popitem(last=False)
        else:
            self._items.move_to_end(article_id)
        return item


def find_duplicate(
    db: sqlite_utils.Database,
    words_: list[str],
    hashes: set[int],
    keys: list[int],
    hits: IndexHits,
    k: int,
    prefilter: float,
    threshold: float,
    min_shingles: int,
    texts: TextCache | None = None,
    indexed: IndexedArticles | None = None,
) -> Duplicate | None:
    """The stored article this text is a near-copy of (aligned containment >= threshold), or None.

    The index overlap estimates each candidate's containment; only those at or above the prefilter are
    re-read and aligned, at most one per group of duplicates (they all point at the group's first
    article), so popular sentences and much-copied stories cost one lookup, not a re-reading of every
    article that shares them.
    """
    if len(hashes) < min_shingles:
        return None
    texts = texts or TextCache()
    likely = sorted(((n, -a) for a, n in hits.overlap.items()), reverse=True)[:MAX_LOOKUPS]
    ids = [-a for _, a in likely]
    info = indexed.info(db, ids) if indexed is not None else store_articles.index_info(db, ids)
    best: Duplicate | None = None
    groups: set[int] = set()
    for n, negative_id in likely:
        candidate = -negative_id
        duplicate_of, candidate_keys = info.get(candidate, (None, 0))
        if n / max(1, min(len(keys), candidate_keys)) < prefilter:
            continue
        group = duplicate_of or candidate
        if group in groups:
            continue
        groups.add(group)
        if len(groups) > MAX_CANDIDATES:
            break
        other_words, other = texts.get(db, candidate, k)
        if len(other) < min_shingles or len(hashes & other) < min_shingles or containment(hashes, other) < prefilter:
            continue
        score = aligned_containment(words_, other_words)
        if score >= threshold and (best is None or score > best.score):
            best = Duplicate(article_id=group, score=score)
    return best
