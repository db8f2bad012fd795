"""The feature extraction as it was before the speed-up (commit eeed813), kept verbatim as the reference.

tests/test_features.py and bench/features_speed.py compare the current ingest code with this copy: the
terms, entities, words, shingle hashes and index keys must stay identical (same values, same Counter order)
because the stored index and the quality evaluation depend on them. Constants and the STOPWORDS, WORD,
BOILERPLATE and CJK definitions are imported, not copied: they are not part of the change.
"""

from __future__ import annotations

import functools
import re
import unicodedata
import zlib
from collections import Counter
from dataclasses import dataclass

from ingest.dedupe import HEAD_WORDS, SAMPLE_MOD
from ingest.normalise import Entry
from ingest.score import NUMBER_WEIGHT, TITLE_WEIGHT
from ingest.text import BOILERPLATE, CJK, STOPWORDS, WORD


_ENTITY = re.compile(r"(?:[^\W\d_][\w'\u2019-]*|\d[\d.,:/-]*)", re.UNICODE)
_SENTENCE_END = ".!?:\"\u201c\u2018('"
_CJK_CHAR = re.compile(f"[{CJK}]")


def fold(text: str) -> str:
    """Lower-case, NFKC-normalised text with curly quotes made straight."""
    text = unicodedata.normalize("NFKC", text).lower()
    return text.replace("\u2019", "'").replace("\u2018", "'")


def words(text: str) -> list[str]:
    """All words of a text, folded (numbers such as 2,400 kept whole; each CJK character a word)."""
    return [w.replace(",", "") for w in WORD.findall(fold(text))]


def strip_boilerplate(text: str) -> str:
    """The text without lines that are site furniture (share buttons, 'Source link', newsletter pitches)."""
    return "\n".join(line for line in text.splitlines() if line.strip() and not BOILERPLATE.match(line))


def article_text(title: str | None, summary: str | None, content: str | None) -> str:
    """The text of an article that is scored and compared: its title and its longer body."""
    summary, content = summary or "", content or ""
    body = content if len(content) >= len(summary) else summary
    return f"{title or ''}\n{body}".strip()


# ingest/score.py


@functools.lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """A light English plural fold (drones -> drone, sanctions -> sanction), nothing cleverer."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def terms(title: str, body: str) -> Counter[str]:
    """Term counts of a document: stopwords dropped, plurals folded, title words and numbers weighted up.

    In Chinese and Japanese text every pair of neighbouring characters is a term (character bigrams).
    """
    counts: Counter[str] = Counter()
    for weight, text in ((TITLE_WEIGHT, title), (1, body)):
        previous_cjk = ""
        for w in words(text):
            if _CJK_CHAR.match(w):
                # Chinese and Japanese have no spaces; each character is a word, and pairs of them are the terms.
                if previous_cjk:
                    counts[previous_cjk + w] += weight
                previous_cjk = w
                continue
            previous_cjk = ""
            if w in STOPWORDS or (len(w) < 2 and not w.isdigit()):
                continue
            counts[stem(w)] += weight * (NUMBER_WEIGHT if w[0].isdigit() else 1)
    return counts


def _address_alone(line: str) -> bool:
    """A line that is one URL and nothing else, once the spaces around its punctuation are closed up."""
    squeezed = re.sub(r"\s*([./:?=&#%~+_-])\s*", r"\1", line.strip())
    return re.match(r"(https?://|www\.)", squeezed, re.IGNORECASE) is not None and re.search(r"\s", squeezed) is None


def entities(title: str, body: str) -> Counter[str]:
    """Counts of names and figures: capitalised words not opening a sentence, and numbers; none in a line
    that is an address alone."""
    counts: Counter[str] = Counter()
    for weight, text in ((TITLE_WEIGHT, title), (1, body)):
        text = "".join(line for line in text.splitlines(keepends=True) if not _address_alone(line))
        if text.isupper() or text.istitle():
            continue  # a headline in capitals says nothing about which words are names
        for line in text.splitlines():
            for m in _ENTITY.finditer(line):
                token = m.group(0)
                if token[0].isdigit():
                    pass
                elif not token[0].isupper():
                    continue
                else:
                    before = line[: m.start()].rstrip()
                    if not before or before[-1] in _SENTENCE_END:
                        continue
                for w in words(token):
                    if w not in STOPWORDS and (len(w) > 1 or w.isdigit()):
                        counts[stem(w)] += weight
    return counts


# ingest/dedupe.py


def tokens(text: str) -> list[str]:
    """The words that are compared: boilerplate lines removed."""
    return words(strip_boilerplate(text))


def shingles(text: str, k: int = 5) -> set[int]:
    """Signed 64-bit hashes of every k-word window of the text, boilerplate lines removed."""
    return shingles_of(tokens(text), k)


# A shingle's hash: each word's CRC-32 (cached) times a fixed odd 64-bit multiplier per position, summed
# mod 2^64 and shifted into SQLite's signed range.
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


# ingest/processor.py


@dataclass
class Features:
    """What scoring and dedup need from one text, computed once."""

    counts: Counter[str]
    names: Counter[str]
    words: list[str]
    hashes: set[int]


def features_of(entry_or_title: Entry | str, shingle_size: int, body: str | None = None) -> Features:
    """Terms, entities, words and shingles of an entry (or of a title and body)."""
    if isinstance(entry_or_title, Entry):
        # Entry.text is article_text(title, summary, content): the reference's own copy is used here.
        title, text = entry_or_title.title, article_text(entry_or_title.title, entry_or_title.summary, entry_or_title.content)
    else:
        title, text = entry_or_title, article_text(entry_or_title, None, body)
    rest = text[len(title):] if text.startswith(title) else text
    words = tokens(text)
    return Features(terms(title, rest), entities(title, rest), words, shingles_of(words, shingle_size))
