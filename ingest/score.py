"""Score: TF-IDF cosine between a seed and an article, with IDF learned from the store as it grows.

Two channels, blended: all content words, and the *entities* alone (capitalised words that do not open a
sentence, and numbers). Stories of the same kind (two earthquakes, two rehab check-ins) share their topic
words; the names, places and figures are what tell them apart. Every score can be explained:
`Scored.terms` lists the shared terms that contributed most.
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from dataclasses import dataclass, field

from .text import CJK, STOPWORDS, words

TITLE_WEIGHT = 2  # a title word counts as much as two body words
NUMBER_WEIGHT = 2  # figures (2,400 drones; 6.1 magnitude) are specific to one story
ENTITY_SHARE = 0.3  # weight of the entity channel in the blended score
SHORT_TERMS = 80  # documents with fewer distinct terms than this get their score lifted ...
SHORT_LIFT = 0.2  # ... by this x log(SHORT_TERMS / terms)
KEYWORD_BOOST = 0.05  # per boost keyword the article contains
_ENTITY = re.compile(r"(?:[^\W\d_][\w'\u2019-]*|\d[\d.,:/-]*)", re.UNICODE)
_SENTENCE_END = ".!?:\"\u201c\u2018('"
_CJK_CHAR = re.compile(f"[{CJK}]")


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


def entities(title: str, body: str) -> Counter[str]:
    """Counts of names and figures: capitalised words not opening a sentence, and numbers."""
    counts: Counter[str] = Counter()
    for weight, text in ((TITLE_WEIGHT, title), (1, body)):
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


@dataclass
class Vocabulary:
    """Document frequencies: how many stored articles use each term."""

    df: dict[str, int] = field(default_factory=dict)
    docs: int = 0
    pending: Counter[str] = field(default_factory=Counter)  # counted since the last flush to the store
    pending_docs: int = 0
    _idf: dict[str, float] = field(default_factory=dict)  # valid until the next add()

    def idf(self, term: str) -> float:
        value = self._idf.get(term)
        if value is None:
            value = self._idf[term] = math.log((self.docs + 1) / (self.df.get(term, 0) + 1)) + 1.0
        return value

    def add(self, counts: Counter[str]) -> None:
        """Count one more document."""
        self._idf.clear()
        for term in counts:
            self.df[term] = self.df.get(term, 0) + 1
        self.docs += 1
        self.pending.update(counts.keys())
        self.pending_docs += 1

    def take_pending(self) -> tuple[Counter[str], int]:
        pending, docs = self.pending, self.pending_docs
        self.pending, self.pending_docs = Counter(), 0
        return pending, docs

    def vector(self, counts: Counter[str]) -> dict[str, float]:
        """A unit-length TF-IDF vector (sub-linear TF)."""
        cache, df, log, base = self._idf, self.df, math.log, self.docs + 1
        vec = {}
        for t, c in counts.items():  # one pass, no call per term: this runs for every article and seed
            idf = cache.get(t)
            if idf is None:
                idf = cache[t] = log(base / (df.get(t, 0) + 1)) + 1.0
            vec[t] = (1.0 + log(c)) * idf
        norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
        return {t: v / norm for t, v in vec.items()}


@dataclass
class Scored:
    score: float
    terms: list[str]  # the shared terms that weigh most, best first
    missing: list[str] = field(default_factory=list)  # must-have keywords the article lacks


def parse_keywords(keywords: list[str]) -> tuple[list[str], list[str]]:
    """Split keywords into must-have ('+word') and boost ('word') lists of stemmed terms."""
    must, boost = [], []
    for k in keywords:
        k = k.strip()
        if not k:
            continue
        target = must if k.startswith("+") else boost
        target.extend(stem(w) for w in words(k.lstrip("+")))
    return must, boost


def length_lift(distinct_terms: int) -> float:
    """Factor putting a short text's cosine on the scale of a full article's.

    A 20-term brief cannot reach the cosine a 300-term article does with the same seed, however
    on-topic it is; without this, one threshold is either too high for briefs or too low for articles.
    """
    if distinct_terms <= 0 or distinct_terms >= SHORT_TERMS:
        return 1.0
    return 1.0 + SHORT_LIFT * math.log(SHORT_TERMS / distinct_terms)


def blend(words_: Scored, names: Scored, share: float = ENTITY_SHARE) -> Scored:
    """One score from the word and entity channels; the terms shown are the word channel's."""
    return Scored(score=(1 - share) * words_.score + share * names.score, terms=words_.terms)


def cosine(seed_vec: dict[str, float], doc_vec: dict[str, float], top: int = 10) -> Scored:
    """Cosine of two unit vectors, with the terms that carry it."""
    if len(doc_vec) < len(seed_vec):
        shared = {t: v * seed_vec[t] for t, v in doc_vec.items() if t in seed_vec}
    else:
        shared = {t: v * doc_vec[t] for t, v in seed_vec.items() if t in doc_vec}
    best = sorted(shared, key=shared.__getitem__, reverse=True)[:top]
    return Scored(score=min(1.0, sum(shared.values())), terms=best)


def apply_keywords(scored: Scored, doc_terms: Counter[str], must: list[str], boost: list[str]) -> Scored:
    """Boost the score per boost keyword present; note must-have keywords that are absent."""
    hits = sum(1 for k in boost if k in doc_terms)
    scored.score = min(1.0, scored.score + KEYWORD_BOOST * hits)
    scored.missing = [k for k in must if k not in doc_terms]
    return scored
