"""Feature extraction is exactly the reference (the code before the speed-up, tests/features_reference.py).

The stored shingle index and the quality evaluation depend on every word, term, entity and hash, and the
order of a Counter's keys decides ties among the terms an explanation shows and the rounding of its sums,
so the comparison is of lists of items, not of Counters as multisets. Texts: hypothesis-generated ones
built from the characters that matter (Unicode letters and digits, CJK, numbers with , and ., apostrophes,
quotes, hyphens, every line break str.splitlines knows, capitals after . ! ? : and quotes, boilerplate
lines), the demo feeds and seed, and (marked slow) every document and line of the evaluation corpus.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import pickle
import random
import sys
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest import dedupe, score, text
from ingest.normalise import Entry, normalise_entries
from ingest.parser import parse_feed
from ingest.processor import features_of
from tests import features_reference as ref
from tests.conftest import DEMO_DATA, FOUNDING_SEED, REPO



def load_bench_module(name: str):
    """A module of bench/ (scripts, not a package), loaded by path."""
    spec = importlib.util.spec_from_file_location(name, REPO / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def eval_data() -> Path:
    """$SEEDWATCH_EVAL_DATA, else the ECB+ file where the benchmark finds it (../shared/eval, also from a clone)."""
    if os.environ.get("SEEDWATCH_EVAL_DATA"):
        return Path(os.environ["SEEDWATCH_EVAL_DATA"])
    return load_bench_module("farm").find_corpus()


def items(counts: Counter[str]) -> list[tuple[str, int]]:
    return list(counts.items())


def entry(title: str, summary: str, content: str) -> Entry:
    return Entry(guid="g", url="https://example.org/a", link=None, title=title, summary=summary, content=content,
                 content_html=None, author=None, published_at=None, updated_at=None, language=None)


def assert_same_features(old: ref.Features, new: ref.Features) -> None:
    assert items(new.counts) == items(old.counts)
    assert items(new.names) == items(old.names)
    assert new.words == old.words
    assert new.hashes == old.hashes


def assert_same_shingles(words_: list[str]) -> None:
    """shingles_of and index_keys of these words, for every size shingles_of hashes (it refuses others)."""
    for k in range(1, 6):
        hashes = ref.shingles_of(words_, k)
        assert dedupe.shingles_of(words_, k) == hashes, k
        assert dedupe.index_keys(words_, hashes, k) == ref.index_keys(words_, hashes, k), k


def assert_same_text_functions(t: str) -> None:
    """words, fold, strip_boilerplate, tokens, shingles (every k) and index keys of one text."""
    assert text.fold(t) == ref.fold(t)
    assert text.words(t) == ref.words(t)
    assert text.strip_boilerplate(t) == ref.strip_boilerplate(t)
    toks = ref.tokens(t)
    assert dedupe.tokens(t) == toks
    assert dedupe.tokens(t, ref.words(t)) == toks
    assert_same_shingles(toks)
    assert dedupe.shingles(t) == ref.shingles(t)


def assert_same(title: str, body: str) -> None:
    """Every owned function agrees with the reference on this title and body, in each way they are combined."""
    assert items(score.terms(title, body)) == items(ref.terms(title, body))
    assert items(score.entities(title, body)) == items(ref.entities(title, body))
    assert items(score.terms_of_words(text.words(title), text.words(body))) == items(ref.terms(title, body))
    assert text.article_text(title, body, None) == ref.article_text(title, body, None)
    assert_same_features(ref.features_of(title, 5, body), features_of(title, 5, body))
    for summary, content in ((body, ""), ("", body), (body[: len(body) // 2], body), (body, body[:3])):
        e = entry(title, summary, content)
        assert_same_features(ref.features_of(e, 5), features_of(e, 5))
    for k in (1, 3):
        assert_same_features(ref.features_of(title, k, body), features_of(title, k, body))


# --- hypothesis ----------------------------------------------------------------------------------

ASCII_WORDS = [
    # plain, capitalised, upper, stopwords, plurals, apostrophes, hyphens, underscores
    "the", "The", "THE", "drones", "Drones", "sanctions", "stories", "ies", "is", "us", "s", "a", "A", "I",
    "Moscow", "Moscow's", "don't", "DON'T", "o'neill", "O'Neill", "rock'n'roll", "Jean-Pierre", "well-known",
    "X-ray", "-Foo", "Foo-", "_Bar", "a_b", "__init__", "McDonald", "iPhone", "eBay",
    # numbers, with , and . and the punctuation entity numbers keep
    "2,400", "6.1", "1.000,50", "2024", "3.", "1,", "12:30", "24/7", "1-2", "5Foo", "abc2,400", "x2.5", "0", "7",
]
UNICODE_WORDS = [
    # accents, Greek with capital sigma, Turkish, German, ligature, fullwidth, circled, superscript, roman
    # numerals, Arabic-Indic digits, Cyrillic, Korean, Arabic, combining marks, zero-width joiner, symbols that
    # NFKC turns into letters, mathematical letters
    "Caf\u00e9", "cafe\u0301", "\u00c9cole", "\u039f\u0394\u03a5\u03a3\u03a3\u0395\u03a5\u03a3", "\u03a3", "\u0130stanbul",
    "Stra\u00dfe", "STRASSE", "\ufb01nance", "\uff21\uff22\uff23", "\uff11\uff12", "\u2460", "x\u00b2", "\u00b2", "\u00bd",
    "\u2167", "\u2170", "\u0661\u0662\u0663", "\u041c\u043e\u0441\u043a\u0432\u0430", "\uc11c\uc6b8\uc758", "\u062a\u0647\u0631\u0627\u0646",
    "\u0301", "a\u200db", "\u01c5ungla", "\u1e9e", "\u2122", "\u2103", "\u32c0", "\u3392", "\U0001d400\U0001d401",
    "Moscow\u2019s", "\u2018Tehran\u2019",
    # CJK: ideographs, kana, the iteration mark, the middle dot and double hyphen that are not word characters
    "\u83ab\u65af\u79d1", "\u6771\u4eac\u30bf\u30ef\u30fc", "\u3005", "\u30fb", "\u30a0", "\u3042\u3044", "\U00020000",
    "\u4eba\u3005", "iPhone\u624b\u673a",
]
PUNCTUATION = [
    # sentence ends, quotes straight and curly, brackets, dashes, ellipsis
    ".", "!", "?", ":", ";", ",", "\"", "'", "\u201c", "\u201d", "\u2018", "\u2019", "(", ")", "[", "-", "\u2013",
    "\u2014", "\u2026", "/", "&", "#", "@", "%", "\u00a0", "\u00ab", "\u00bb",
]
SPACES = [
    # whitespace and every line break str.splitlines knows
    " ", " ", " ", "  ", "\t", "\n", "\n", "\n\n", "\r\n", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x1f", "\x85",
    "\u2028", "\u2029", "\u3000", " \n ",
]
BOILERPLATE_LINES = [
    # only lines of their own count as boilerplate
    "\nSource link\n", "\nRead more\n", "\nShare this: Facebook Twitter\n", "\nAdvertisement\n", "\n  advertisement  \n",
    "\nSign up for our newsletter\n", "\nCopyright 2024 Example\n", "\nRelated:\n",
]
FRAGMENTS = ASCII_WORDS + UNICODE_WORDS + PUNCTUATION + SPACES + BOILERPLATE_LINES
# News as most feeds write it: ASCII words, but curly quotes and dashes (the fast paths for ASCII words).
NEWS_FRAGMENTS = ASCII_WORDS + PUNCTUATION + SPACES + BOILERPLATE_LINES

texts = st.one_of(
    st.lists(st.sampled_from(FRAGMENTS), max_size=60).map("".join),
    st.lists(st.sampled_from(NEWS_FRAGMENTS), max_size=60).map("".join),
    st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=6), max_size=40).map("".join),
    st.text(max_size=80),
)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(title=texts, body=texts)
def test_features_equal_the_reference_on_generated_texts(title: str, body: str) -> None:
    assert_same(title, body)
    assert_same_text_functions(body)
    assert_same_text_functions(f"{title}\n{body}")


@settings(max_examples=300, deadline=None)
@given(words_=st.lists(st.sampled_from(FRAGMENTS) | st.text(min_size=1, max_size=5), max_size=40))
def test_shingles_equal_the_reference_on_any_word_list(words_: list[str]) -> None:
    # Any strings, not only text.words output: empty strings, spaces, repeats.
    assert_same_shingles(words_)


def test_shingles_equal_the_reference_on_long_texts() -> None:
    # Thousands of words: the window sums are computed as one big product, lane by lane.
    rng = random.Random(7)
    vocabulary = [ref.words(f)[0] for f in ASCII_WORDS + UNICODE_WORDS if ref.words(f)] + [str(i) for i in range(500)]
    for n in (4, 5, 6, 24, 28, 29, 100, 1000, 5000):
        words_ = [rng.choice(vocabulary) for _ in range(n)]
        assert_same_shingles(words_)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(title=texts, body=texts, index=st.booleans())
def test_features_arrive_from_a_parser_process_unchanged(title: str, body: str, index: bool) -> None:
    # Features are pickled compactly (words joined, hashes packed) on their way to the store thread.
    sent = features_of(title, 5, body, index=index)
    got = pickle.loads(pickle.dumps(sent, protocol=pickle.HIGHEST_PROTOCOL))
    assert list(got.counts.items()) == list(sent.counts.items()) and type(got.counts) is Counter
    assert list(got.names.items()) == list(sent.names.items())
    assert got.words == sent.words and got.hashes == sent.hashes and got.keys == sent.keys


@pytest.mark.parametrize(
    "title, body",
    [
        ("", ""),
        ("Title", ""),
        ("", "Body Text"),
        ("  Padded Title  ", "Said Moscow. Then Tehran"),  # the text does not start with the title
        ("Title\n", "Body"),
        ("Title", "Title"),
        ("Iran Sends Drones", "IRAN SENDS DRONES"),  # headlines in capitals and title case are skipped
        ("Caf\u00e9", "\u0301Accent opens the rest"),  # a combining mark would join the title's last letter
        ("\u03a3\u03a3", "\u03a3 final sigma"),
        ("Tokyo", "\u6771\u4eac\u30bf\u30ef\u30fc\u306f2024\u5e74\u306b Osaka \u83ab\u65af\u79d1"),
        ("Num", "He said 2,400 drones, 6.1 magnitude, at 12:30. Then, in 1,000 cases: Foo."),
        ("Q", "\u201cWe\u201d said Reid. \u2018Quote\u2019 (Paren) \"Dq\" 'Sq' x: Colon; Semi Bar!Baz?Qux"),
        ("Lines", "first Line\r\nSecond Line\rThird\x0bFourth\x0cFifth\x1cSixth\x85Seventh\u2028Eighth\u2029Ninth\x1fNot"),
        ("Boiler", "Asia\nText One Here\nSource link\nShare this: Facebook Twitter\nRead more at Example"),
        ("Underscore", "snake_Case _Leading a-Hyphen 5-Five 5Five abc2Def x\u2019Curly"),
    ],
)
def test_features_equal_the_reference_on_edge_cases(title: str, body: str) -> None:
    assert_same(title, body)
    assert_same_text_functions(body)


# --- the demo feeds and seeds --------------------------------------------------------------------


def demo_entries() -> list[Entry]:
    out = []
    for path in sorted(DEMO_DATA.glob("*.xml")):
        parsed = parse_feed(path.read_bytes(), {}, f"https://demo.example/{path.name}")
        out.extend(normalise_entries(parsed.entries, f"https://demo.example/{path.name}"))
    return out


def test_features_equal_the_reference_on_the_demo_feeds_and_seeds() -> None:
    entries = demo_entries()
    assert len(entries) >= 20
    for e in entries:
        assert_same_features(ref.features_of(e, 5), features_of(e, 5))
        assert_same(e.title, e.content or e.summary)
        assert_same_text_functions(e.text)
    for path in [FOUNDING_SEED, *sorted(DEMO_DATA.glob("*.txt"))]:
        title, _, body = path.read_text(encoding="utf-8").strip().partition("\n")
        assert_same(title, body)
        assert_same_text_functions(body)


# --- the evaluation corpus -----------------------------------------------------------------------


@pytest.mark.slow
def test_features_equal_the_reference_on_the_evaluation_corpus() -> None:
    """Every document and line, split every way the evaluation feeds them: seed file, full and brief items, copies."""
    data = eval_data()
    assert data.is_file(), f"no evaluation corpus at {data}: set SEEDWATCH_EVAL_DATA to ecbplus-dev.jsonl"
    eq = load_bench_module("eval_quality")
    docs = eq.load_docs(data)
    assert len(docs) == 462
    for doc in docs:
        lines = doc.lines
        lead = eq.lead_of(doc.title, lines)
        assert_same(doc.title, doc.text)  # the seed: title, then the text as in the data
        assert_same("", f"{doc.title}\n\n{doc.text}\n")  # the seed file read whole
        assert_same(doc.title, "\n".join(lines))  # a full-text item
        assert_same(doc.title, lead)  # a brief item: the title and the first sentence
        for kind in eq.KINDS:  # copies of the kinds the evaluation makes
            copy_lines, copy_lead = eq.make_copy(doc, kind)
            assert_same(doc.title, "\n".join(copy_lines))
            e = entry(doc.title, copy_lead, "\n".join(copy_lines))
            assert_same_features(ref.features_of(e, 5), features_of(e, 5))
        assert_same_text_functions(doc.text)
        for line in doc.text.splitlines():
            assert_same(doc.title, line)
            assert_same(line, "")
            assert_same("", line)
            assert_same_text_functions(line)


# The founding seed's features as the code before the speed-up (commit eeed813) computed them, hashed.
SEED_DIGEST = "2e9b0a0583fdf18f18663ba00f01c40d89866b2d23ce4cf4eb3bad707bb9806d"


@pytest.mark.parametrize("implementation", [ref.features_of, features_of], ids=["reference", "current"])
def test_the_founding_seed_keeps_the_features_it_had(implementation) -> None:
    # A fixed point, so a change to the reference copy (or to STOPWORDS, WORD, ...) shows too.
    title, _, body = FOUNDING_SEED.read_text(encoding="utf-8").strip().partition("\n")
    f = implementation(title, 5, body)
    assert len(f.words) == 650 and len(f.hashes) == 646
    digest = json.dumps([items(f.counts), items(f.names), f.words, sorted(f.hashes)])
    assert hashlib.sha256(digest.encode()).hexdigest() == SEED_DIGEST
