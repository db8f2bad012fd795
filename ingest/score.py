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
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import chain, filterfalse, repeat
from operator import mul, sub

from .text import CJK, STOPWORDS, ascii_words_only, without_url_lines, words

TITLE_WEIGHT = 2  # a title word counts as much as two body words
NUMBER_WEIGHT = 2  # figures (2,400 drones; 6.1 magnitude) are specific to one story
ENTITY_SHARE = 0.3  # weight of the entity channel in the blended score
SHORT_TERMS = 80  # documents with fewer distinct terms than this get their score lifted ...
SHORT_LIFT = 0.2  # ... by this x log(SHORT_TERMS / terms)
KEYWORD_BOOST = 0.05  # per boost keyword the article contains
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
    return terms_of_words(words(title), words(body))


def terms_of_words(title_words: list[str], body_words: list[str]) -> Counter[str]:
    """terms() of a document whose title and body are already split into words (text.words)."""
    _learn_terms(chain(title_words, body_words))
    # Counted in C, each word's term read from the cache: no Python step per word.
    counts = Counter(map(_word_term.__getitem__, chain(*[title_words] * TITLE_WEIGHT, body_words)))
    if _CJK_WORD in counts:
        counts = Counter()
        _count_terms(counts, title_words, TITLE_WEIGHT)
        _count_terms(counts, body_words, 1)
        return counts
    counts.pop(None, None)  # stopwords
    for t in _number_terms.intersection(counts):
        counts[t] *= NUMBER_WEIGHT
    return counts


# Each word's term: None for a stopword, _CJK_WORD for a CJK character (its terms depend on its neighbours).
# The terms of numbers, which count NUMBER_WEIGHT times, are in _number_terms: a term starts with a digit
# exactly when its word does, so no word's term is both.
_word_term: dict[str, object] = {}
_number_terms: set[str] = set()
_CJK_WORD = object()
_MAX_CACHED = 300_000


def _learn_terms(ws: Iterable[str]) -> None:
    """Put the terms of the words not in the cache yet in it (most texts have a few: names, figures)."""
    if len(_word_term) > _MAX_CACHED:
        _word_term.clear()
        _number_terms.clear()
    for w in filterfalse(_word_term.__contains__, ws):
        if _CJK_CHAR.match(w):
            _word_term[w] = _CJK_WORD
        elif w in STOPWORDS or (len(w) < 2 and not w.isdigit()):
            _word_term[w] = None
        else:
            t = _word_term[w] = stem(w)
            if w[0].isdigit():
                _number_terms.add(t)


def _count_terms(counts: Counter[str], ws: list[str], weight: int) -> None:
    """Add the terms of these words one by one: with CJK characters, pairs of neighbours are terms."""
    previous_cjk = ""
    for w in ws:
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


def entities(title: str, body: str) -> Counter[str]:
    """Counts of names and figures: capitalised words not opening a sentence, and numbers.

    A line that is an address alone has none: the date and the numbers in its path, its site's name are
    not the story's (text.without_url_lines).
    """
    counts: Counter[str] = Counter()
    for weight, text in ((TITLE_WEIGHT, without_url_lines(title)), (1, without_url_lines(body))):
        if text.isupper() or text.istitle():
            continue  # a headline in capitals says nothing about which words are names
        sequence = _entity_sequence(text)
        if weight == 1:
            counts.update(sequence)
        else:
            for t in sequence:
                counts[t] += weight
    return counts


# Entity tokens, found left to right: a letter then letters, digits, apostrophes and hyphens, or a digit
# then digits and . , : / -. _CANDIDATES finds the same tokens but stops only at those that may be entities
# (the ones not starting with a-z) and at line breaks, so Python sees about one token in five. Groups: 1
# everything since the previous stop (lower-case tokens, matched whole, and the characters between tokens),
# then one of 2 a token starting with a letter, 3 a number, 4 a line break; all four empty at the end of the
# text. Possessive, so a lower-case token is never split.
_LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"  # where str.splitlines() breaks lines
_CANDIDATES = re.compile(
    rf"((?:[a-z][\w'\u2019-]*+|[^\w{_LINE_BREAKS}]++|_++)*+)"
    rf"(?:([^\W\d_a-z][\w'\u2019-]*+)|(\d[\d.,:/-]*+)|([{_LINE_BREAKS}])|\Z)",
    re.UNICODE | re.DOTALL,
)
# _CANDIDATES for a text whose word characters are all ASCII (text.ascii_words_only): the same matches there,
# and every token of group 2 is capitalised. (A lower-case token and the separators after it are one step.)
_ASCII_CANDIDATES = re.compile(
    rf"((?:[a-z][A-Za-z0-9_'\u2019-]*+[^A-Za-z0-9{_LINE_BREAKS}]*+|[^A-Za-z0-9{_LINE_BREAKS}]++)*+)"
    rf"(?:([A-Z][A-Za-z0-9_'\u2019-]*+)|([0-9][0-9.,:/-]*+)|([{_LINE_BREAKS}])|\Z)",
    re.DOTALL,
)


def _entity_sequence(text: str) -> list[str]:
    """The entity terms of one text in order: numbers, and capitalised tokens that do not open a sentence.

    A token opens a sentence when nothing but whitespace precedes it in its line, or the last character
    before it is in _SENTENCE_END. A token starting with a digit that is not a decimal one (a superscript two)
    is a number too, as str.isdigit says.
    """
    ascii_only = ascii_words_only(text)
    sentence_end = _SENTENCE_END
    kept: list[str] = []
    previous = ""  # the previous token in the line, if only whitespace lies between it and the next
    for gap, letters, number, line_break in (_ASCII_CANDIDATES if ascii_only else _CANDIDATES).findall(text):
        if letters:
            if ascii_only or (not letters[0].isdigit() and letters[0].isupper()):
                before = gap.rstrip() or previous
                if before and before[-1] not in sentence_end:
                    kept.append(letters)
            elif letters[0].isdigit():
                kept.append(letters)
            previous = letters
        elif number:
            kept.append(number)
            previous = number
        elif line_break:
            previous = ""
        else:
            break
    return list(chain.from_iterable(map(_entity_terms, kept)))


@functools.lru_cache(maxsize=200_000)
def _entity_terms(token: str) -> tuple[str, ...]:
    """The terms an entity token counts as (a hyphenated name is two; stopwords are none)."""
    return tuple(stem(w) for w in words(token) if w not in STOPWORDS and (len(w) > 1 or w.isdigit()))


class _LogTable(dict):
    """n -> log(n + 1): a term's IDF is log(docs + 1) + 1 - log(df + 1), and document frequencies are small integers."""

    def __missing__(self, n: int) -> float:
        value = self[n] = math.log(n + 1)
        return value


_LOG1 = _LogTable()


class _TfTable(dict):
    """count -> sub-linear term frequency 1 + log(count)."""

    def __missing__(self, count: int) -> float:
        value = self[count] = 1.0 + math.log(count)
        return value


_TF = _TfTable()


@dataclass
class Vocabulary:
    """Document frequencies: how many stored articles use each term."""

    df: Counter[str] = field(default_factory=Counter)
    docs: int = 0
    pending: Counter[str] = field(default_factory=Counter)  # counted since the last flush to the store
    pending_docs: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.df, Counter):
            self.df = Counter(self.df)  # Counter.update counts a document's terms in C

    def idf(self, term: str) -> float:
        return math.log(self.docs + 1) + 1.0 - _LOG1[self.df.get(term, 0)]

    def add(self, counts: Counter[str]) -> None:
        """Count one more document."""
        self.df.update(counts.keys())
        self.docs += 1
        self.pending.update(counts.keys())
        self.pending_docs += 1

    def merge(self, counts: Counter[str], docs: int) -> None:
        """Count documents counted elsewhere and not yet in the store (they are not pending here)."""
        self.df.update(counts)
        self.docs += docs

    def take_pending(self) -> tuple[Counter[str], int]:
        pending, docs = self.pending, self.pending_docs
        self.pending, self.pending_docs = Counter(), 0
        return pending, docs

    def vector(self, counts: Counter[str]) -> dict[str, float]:
        """A unit-length TF-IDF vector (sub-linear TF)."""
        # Mapped in C, no Python step per term: this runs for every article and seed. IDF is
        # log(docs + 1) + 1 - log(df + 1), log(df + 1) looked up by df.
        top = math.log(self.docs + 1) + 1.0
        idfs = map(sub, repeat(top), map(_LOG1.__getitem__, map(self.df.get, counts, repeat(0))))
        weights = list(map(mul, map(_TF.__getitem__, counts.values()), idfs))
        norm = math.sqrt(sum(map(mul, weights, weights))) or 1.0
        return dict(zip(counts, [w / norm for w in weights]))


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


def with_feedback(vector: dict[str, float], others: list[dict[str, float]], weight: float) -> dict[str, float]:
    """Rocchio: the unit vector of vector + weight x the mean of others (unit vectors of a seed's best matches)."""
    if not others or weight <= 0:
        return vector
    summed = dict(vector)
    share = weight / len(others)
    for other in others:
        for term, value in other.items():
            summed[term] = summed.get(term, 0.0) + share * value
    norm = math.sqrt(sum(v * v for v in summed.values())) or 1.0
    return {term: value / norm for term, value in summed.items()}


def dot(a: dict[str, float], b: dict[str, float]) -> float:
    """Cosine of two unit vectors, without the terms (cosine() says which carry it)."""
    if len(b) < len(a):
        a, b = b, a
    return min(1.0, sum(v * b[t] for t, v in a.items() if t in b))


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
