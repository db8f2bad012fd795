"""ingest/dedupe.py, ingest/score.py and ingest/text.py: shingles and containment, words and terms, cosine, keywords."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from ingest.dedupe import HEAD_WORDS, aligned_containment, containment, index_keys, is_sampled, shingles, shingles_of, tokens
from ingest.score import (
    KEYWORD_BOOST,
    Scored,
    Vocabulary,
    apply_keywords,
    blend,
    cosine,
    entities,
    parse_keywords,
    stem,
    terms,
)
from ingest.text import article_text, strip_boilerplate, without_url_lines, words

REPO = Path(__file__).resolve().parent.parent
SEED_TEXT = (REPO / "seeds" / "russia-iran-sacred-alliance.txt").read_text(encoding="utf-8")
# The article itself, without the section label and the aggregator's line.
ARTICLE = "\n".join(line for line in SEED_TEXT.splitlines() if line.strip() not in ("Asia", "Source link")).strip()

UNRELATED = (
    "Preheat the oven to 200 degrees. Whisk the eggs with sugar until pale and fluffy, then fold in the flour "
    "and a pinch of salt. Pour the batter into a buttered tin and bake for twenty five minutes until golden. "
    "Leave the sponge to cool on a rack before spreading the strawberry jam and whipped cream on top. "
    "Serve the cake with fresh berries and a cup of tea in the garden on a sunny afternoon."
)
UNRELATED_2 = (
    "The striker scored twice in the second half as the home side came from behind to win the derby. "
    "Supporters sang throughout the match, and the manager praised the defence for keeping a clean sheet "
    "after the break. The club now sits third in the league table ahead of the cup final next month."
)


# --- shingles ------------------------------------------------------------------------------------


def test_shingles_are_deterministic_across_processes() -> None:
    code = (
        "import json, sys; from ingest.dedupe import shingles; "
        "text = sys.stdin.read(); print(json.dumps(sorted(shingles(text))))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", code], input=ARTICLE, capture_output=True, text=True, check=True, cwd=REPO, env=env, timeout=60
    )
    assert json.loads(out.stdout) == sorted(shingles(ARTICLE))


def test_shingles_are_signed_64_bit() -> None:
    hashes = shingles(ARTICLE)
    assert len(hashes) > 100
    assert all(-(2**63) <= h < 2**63 for h in hashes)
    assert any(h < 0 for h in hashes) and any(h > 0 for h in hashes)


def test_shingles_ignore_case_and_punctuation() -> None:
    assert shingles("Iran sends drones to Russia, officials say.") == shingles("IRAN sends drones -- to Russia officials say")


def test_short_text_has_one_shingle_and_empty_has_none() -> None:
    assert len(shingles("three short words")) == 1
    assert shingles("") == set()
    assert shingles("Source link") == set()  # only boilerplate


def test_shingles_of_window() -> None:
    toks = "a b c d e f g".split()
    assert len(shingles_of(toks, 5)) == 3
    assert len(shingles_of(toks, 3)) == 5


@pytest.mark.parametrize("k", [0, 6, 8])
def test_shingles_of_refuses_sizes_it_cannot_hash(k: int) -> None:
    # five multipliers: a 6-word window would be hashed as its first five words
    with pytest.raises(ValueError, match="shingle size"):
        shingles_of("a b c d e f g h i".split(), k)


def test_index_keys_are_the_sample_plus_the_opening() -> None:
    words_ = tokens(ARTICLE)
    hashes = shingles_of(words_)
    keys = index_keys(words_, hashes)
    assert set(keys) <= hashes and keys == sorted(keys)
    head = shingles_of(words_[: HEAD_WORDS + 4])
    assert head <= set(keys)
    sampled = {h for h in keys if h not in head}
    assert sampled and all(is_sampled(h) for h in sampled)
    assert 0.1 < len(keys) / len(hashes) < 0.6
    # a copy (here: the first paragraphs) indexes a subset of the original's keys
    paragraphs = ARTICLE.split("\n\n")
    first = "\n\n".join(paragraphs[: len(paragraphs) // 2])
    assert set(index_keys(tokens(first), shingles(first))) <= set(keys)


def test_a_short_text_always_has_index_keys() -> None:
    # 14 shingles with none divisible by 4 happen 2% of the time; the opening is indexed regardless.
    short = "Officials in the northern province confirmed on Monday that the bridge would reopen next week after repairs"
    words_ = tokens(short)
    assert len(index_keys(words_, shingles_of(words_))) == len(shingles_of(words_))


# --- containment ---------------------------------------------------------------------------------


def test_containment_of_identical_text_is_one() -> None:
    assert containment(shingles(ARTICLE), shingles(ARTICLE)) == 1.0


def test_truncated_copy_is_contained() -> None:
    half = ARTICLE[: len(ARTICLE) // 2]  # cut mid-sentence, maybe mid-word
    score = containment(shingles(half), shingles(ARTICLE))
    assert score > 0.97
    assert containment(shingles(ARTICLE), shingles(half)) == score  # symmetric: the smaller set decides


def test_truncated_copy_at_a_paragraph_is_fully_contained() -> None:
    paragraphs = ARTICLE.split("\n\n")
    first = "\n\n".join(paragraphs[: len(paragraphs) // 2])
    assert containment(shingles(first), shingles(ARTICLE)) == 1.0


def test_copy_wrapped_in_boilerplate_is_contained() -> None:
    wrapped = (
        "Share this: Facebook Twitter\n"
        "Sign up for our newsletter\n"
        + ARTICLE
        + "\nRead more: the war in Ukraine\nShare this: Facebook Twitter\nSign up for our newsletter\nSource link\n"
        "Facebook Twitter WhatsApp Email\nAdvertisement\n"
    )
    assert containment(shingles(wrapped), shingles(ARTICLE)) > 0.9
    # without the boilerplate filter, those lines would add shingles of their own
    assert shingles(wrapped) == shingles(ARTICLE)


def test_boilerplate_is_stripped_from_tokens() -> None:
    assert tokens("Source link\nShare this: Facebook Twitter\nSign up for our newsletter\nReal words stay") == [
        "real",
        "words",
        "stay",
    ]


def test_unrelated_texts_have_no_containment() -> None:
    assert containment(shingles(ARTICLE), shingles(UNRELATED)) < 0.02
    assert containment(shingles(UNRELATED), shingles(UNRELATED_2)) < 0.02


def test_containment_of_empty_is_zero() -> None:
    assert containment(set(), shingles(ARTICLE)) == 0.0
    assert containment(shingles(ARTICLE), set()) == 0.0


def test_aligned_containment() -> None:
    a, b = tokens(ARTICLE), tokens(ARTICLE[: len(ARTICLE) // 2])
    assert aligned_containment(a, a) == 1.0
    assert aligned_containment(a, b) > 0.97
    assert aligned_containment(tokens(ARTICLE), tokens(UNRELATED)) < 0.05
    assert aligned_containment([], a) == 0.0


def test_aligned_containment_light_edit_stays_high() -> None:
    toks = tokens(ARTICLE)
    edited = [("CHANGED" if i % 20 == 0 else t) for i, t in enumerate(toks)]  # 5% of words replaced
    assert aligned_containment(toks, edited) > 0.8
    assert containment(shingles_of(toks), shingles_of(edited)) < 0.85


# --- words ---------------------------------------------------------------------------------------


def test_words_keep_thousands_as_one_token() -> None:
    assert words("Russia launched 2,400 drones") == ["russia", "launched", "2400", "drones"]
    assert words("1,000,000 people") == ["1000000", "people"]


def test_words_keep_decimals_and_fold_case() -> None:
    assert words("A 6.1 MAGNITUDE quake") == ["a", "6.1", "magnitude", "quake"]


def test_words_fold_curly_apostrophes() -> None:
    assert words("Iran\u2019s regime") == ["iran's", "regime"]
    assert words("Iran\u2019s regime") == words("Iran's regime")


def test_words_unicode() -> None:
    assert words("Москва и Тегеран") == ["москва", "и", "тегеран"]


def test_words_trailing_comma_is_not_part_of_a_number() -> None:
    assert words("drones, 2,400, and more") == ["drones", "2400", "and", "more"]


def test_strip_boilerplate_keeps_article_lines() -> None:
    text = "Real first line.\nSource link\n\nShare this article: Facebook\nCopyright 2024 Example News\nReal last line."
    assert strip_boilerplate(text) == "Real first line.\nReal last line."


def test_article_text_uses_the_longer_body() -> None:
    assert article_text("T", "short", "a much longer content body") == "T\na much longer content body"
    assert article_text("T", "a much longer summary body", "short") == "T\na much longer summary body"
    assert article_text(None, None, None) == ""


# --- terms ---------------------------------------------------------------------------------------


def test_terms_drop_stopwords_and_fold_plurals() -> None:
    counts = terms("", "The drones and the sanctions hit the cities of the countries.")
    assert set(counts) == {"drone", "sanction", "hit", "city", "country"}
    assert "the" not in counts and "and" not in counts and "of" not in counts


def test_terms_weight_title_and_numbers() -> None:
    counts = terms("Drones hit Kyiv", "Drones hit Kyiv: 2,400 drones.")
    assert counts["kyiv"] == 2 + 1
    assert counts["drone"] == 2 + 1 + 1
    assert counts["2400"] == 2  # a number counts double


def test_terms_of_chinese_are_character_pairs() -> None:
    # No spaces: each character is a word (text.words), and neighbouring pairs are the terms.
    counts = terms("伊朗无人机", "俄罗斯使用伊朗无人机。")
    assert counts["伊朗"] == 2 + 1 and counts["无人"] == 2 + 1 and counts["俄罗"] == 1
    assert all(len(t) == 2 for t in counts)


def test_chinese_related_article_scores_above_an_unrelated_one() -> None:
    seed = ("伊朗向俄罗斯提供无人机", "伊朗向俄罗斯提供了数百架无人机，俄罗斯用它们袭击乌克兰的能源设施。")
    related = ("俄罗斯用伊朗无人机袭击基辅", "俄罗斯再次使用伊朗制造的无人机袭击乌克兰首都的能源设施。")
    unrelated = ("股市上涨", "央行维持利率不变后，股市周二大幅上涨，银行股领涨。")
    vocab = Vocabulary()
    for title, body in (seed, related, unrelated):
        vocab.add(terms(title, body))
    seed_vec = vocab.vector(terms(*seed))
    assert cosine(seed_vec, vocab.vector(terms(*related))).score > 0.2
    assert cosine(seed_vec, vocab.vector(terms(*unrelated))).score < 0.05


@pytest.mark.parametrize(
    ("word", "stemmed"),
    [("drones", "drone"), ("sanctions", "sanction"), ("cities", "city"), ("countries", "country"),
     ("bus", "bus"), ("crisis", "crisis"), ("press", "press"), ("gas", "gas"), ("iran", "iran")],
)
def test_stem(word: str, stemmed: str) -> None:
    assert stem(word) == stemmed


def test_entities_are_names_and_numbers() -> None:
    ents = entities("", "Officials in Kyiv said Russia used Iranian Shahed drones and 2,400 shells. Then they left.")
    assert set(ents) == {"kyiv", "russia", "iranian", "shahed", "2400"}


def test_entities_ignore_all_caps_headline() -> None:
    assert entities("RUSSIA IRAN ALLIANCE", "") == Counter()


def test_an_address_alone_on_its_line_has_no_names_or_figures() -> None:
    # A scraped page that opens with its URL (spaces around the punctuation, as some tokenisers leave it):
    # the date and the id in its path are not the story's figures, nor its site a name.
    url = "http: / / news. bbc. co. uk / 2 / hi / middle _ east / 4475546. stm"
    body = f"{url}\nLast Updated: Monday, 28 November 2005\nA quake hit Qeshm island, killing 10 people."
    assert set(entities(url, body)) == {"updated", "28", "november", "2005", "qeshm", "10"}
    # An address inside a sentence is prose: its line is kept.
    assert "lavrov" in entities("", "See https://example.com/x where Sergei Lavrov spoke")


@pytest.mark.parametrize(
    "line",
    ["http: / / secretdubai. blogspot. nl / 2005 / 11 / did-earth-move-for-you. html", "https://example.com/a?b=1&c=2#d",
     "www.example.co.uk/news/story-1", "  HTTP://EXAMPLE.COM/  ", "wWw.Example.com", "http: / / forums. nba-live. com / viewtopic. php? f=44&t=25677"],
)
def test_without_url_lines_drops_a_line_that_is_an_address(line: str) -> None:
    assert without_url_lines(f"Before\n{line}\nAfter") == "Before\nAfter"
    assert without_url_lines(f"{line}\r\nAfter") == "After"
    assert without_url_lines(f"Before\u2028{line}") == "Before\u2028"  # a line break as str.splitlines() sees it


@pytest.mark.parametrize(
    "text", ["http://example.com/a said the minister", "The page www.example.com is down", "Prices rose 5 / 10 points", "no address"],
)
def test_without_url_lines_keeps_prose(text: str) -> None:
    assert without_url_lines(text) == text


# --- cosine --------------------------------------------------------------------------------------


def _vec(vocab: Vocabulary, text: str) -> dict[str, float]:
    title, _, body = text.partition("\n")
    return vocab.vector(terms(title, body))


def test_cosine_identical_is_one() -> None:
    vocab = Vocabulary()
    result = cosine(_vec(vocab, ARTICLE), _vec(vocab, ARTICLE))
    assert result.score == pytest.approx(1.0, abs=1e-9)
    assert result.terms and len(result.terms) <= 10


def test_cosine_unrelated_is_near_zero() -> None:
    vocab = Vocabulary()
    for text in (ARTICLE, UNRELATED, UNRELATED_2):
        title, _, body = text.partition("\n")
        vocab.add(terms(title, body))
    assert cosine(_vec(vocab, ARTICLE), _vec(vocab, UNRELATED)).score < 0.05
    assert cosine(_vec(vocab, UNRELATED), _vec(vocab, UNRELATED_2)).score < 0.05


def test_cosine_related_is_between() -> None:
    vocab = Vocabulary()
    related = (
        "Iran supplies Russia with Shahed drones\nTehran has shipped hundreds of Shahed kamikaze drones to Moscow, "
        "which Russia uses against the Ukrainian energy grid, Western officials say."
    )
    score = cosine(_vec(vocab, ARTICLE), _vec(vocab, related)).score
    assert 0.1 < score < 0.9
    assert score > cosine(_vec(vocab, ARTICLE), _vec(vocab, UNRELATED)).score


def test_cosine_terms_are_shared_terms() -> None:
    vocab = Vocabulary()
    result = cosine(vocab.vector(terms("Drones Kyiv", "")), vocab.vector(terms("Drones Odesa", "")))
    assert result.terms == ["drone"]


def test_vector_is_unit_length() -> None:
    vec = _vec(Vocabulary(), ARTICLE)
    assert sum(v * v for v in vec.values()) == pytest.approx(1.0)


def test_idf_rewards_rare_terms() -> None:
    vocab = Vocabulary()
    for _ in range(10):
        vocab.add(Counter({"common": 1}))
    vocab.add(Counter({"rare": 1, "common": 1}))
    assert vocab.idf("rare") > vocab.idf("common")
    assert vocab.idf("unseen") > vocab.idf("rare")
    pending, docs = vocab.take_pending()
    assert docs == 11 and pending["common"] == 11 and pending["rare"] == 1
    assert vocab.take_pending() == (Counter(), 0)


def test_blend() -> None:
    out = blend(Scored(0.5, ["a"]), Scored(1.0, ["b"]), share=0.3)
    assert out.score == pytest.approx(0.65)
    assert out.terms == ["a"]


# --- keywords ------------------------------------------------------------------------------------


def test_parse_keywords() -> None:
    must, boost = parse_keywords(["Shahed", "+Kyiv", "energy grids", "", "  ", "+ drones strike"])
    assert must == ["kyiv", "drone", "strike"]
    assert boost == ["shahed", "energy", "grid"]


def test_keyword_boost() -> None:
    doc = terms("Shahed drones hit the energy grid", "")
    must, boost = parse_keywords(["Shahed", "grid", "absent"])
    scored = apply_keywords(Scored(0.3, []), doc, must, boost)
    assert scored.score == pytest.approx(0.3 + 2 * KEYWORD_BOOST)
    assert scored.missing == []


def test_keyword_boost_is_capped_at_one() -> None:
    doc = terms("alpha beta gamma", "")
    must, boost = parse_keywords(["alpha", "beta", "gamma"])
    assert apply_keywords(Scored(0.99, []), doc, must, boost).score == 1.0


def test_must_have_keywords_report_what_is_missing() -> None:
    doc = terms("Shahed drones hit Odesa", "")
    must, boost = parse_keywords(["+Kyiv", "+drones", "+Shahed"])
    scored = apply_keywords(Scored(0.4, []), doc, must, boost)
    assert scored.missing == ["kyiv"]
    assert scored.score == pytest.approx(0.4)  # must-have keywords do not boost
    present = apply_keywords(Scored(0.4, []), terms("Shahed drones hit Kyiv", ""), must, boost)
    assert present.missing == []


def test_vector_weights_are_sublinear_tf_times_idf_as_the_formula_says() -> None:
    """IDF = log((docs + 1) / (df + 1)) + 1, TF = 1 + log(count), the vector scaled to unit length."""
    vocab = Vocabulary(df={"drone": 3, "kyiv": 1}, docs=7)
    vocab.add(Counter({"drone": 2, "grid": 1}))
    vocab.merge(Counter({"grid": 4}), 4)
    df, docs = {"drone": 4, "kyiv": 1, "grid": 5}, 12
    assert (dict(vocab.df), vocab.docs) == (df, docs)
    counts = Counter({"drone": 3, "grid": 1, "kyiv": 2, "unseen": 1})
    raw = {t: (1 + math.log(n)) * (math.log((docs + 1) / (df.get(t, 0) + 1)) + 1) for t, n in counts.items()}
    norm = math.sqrt(sum(w * w for w in raw.values()))
    assert vocab.vector(counts) == pytest.approx({t: w / norm for t, w in raw.items()}, rel=1e-12)
    assert vocab.idf("kyiv") == pytest.approx(math.log(13 / 2) + 1, rel=1e-12)
