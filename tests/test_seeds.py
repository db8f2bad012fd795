"""ingest/seeds.py: seed files (.txt and .md with front matter, legacy encodings, CJK), their failures and slugs;
saving seeds and their resumable scoring (manage.save_seed, processor.rescore)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.errors import SeedError
from ingest.seeds import load_seed_file, parse_seed, slugify
from ingest.text import words

REPO = Path(__file__).resolve().parent.parent
FOUNDING = REPO / "seeds" / "russia-iran-sacred-alliance.txt"
FOUNDING_TITLE = "RUSSIA-IRAN Moscow and Tehran cement a \u2018sacred alliance\u2019 against the West"

BODY = (
    "Russia launched dozens of Iranian-made Shahed drones at Kyiv overnight, targeting the energy grid "
    "and leaving thousands of homes without power, officials said on Tuesday."
)


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


# --- the founding seed ---------------------------------------------------------------------------


def test_founding_seed_title_skips_section_label() -> None:
    seed = load_seed_file(FOUNDING)
    assert seed.title == FOUNDING_TITLE
    assert seed.title != "Asia"


def test_founding_seed_body_without_label_and_source_link() -> None:
    seed = load_seed_file(FOUNDING)
    lines = [line.strip() for line in seed.body.splitlines()]
    assert "Asia" not in lines
    assert not seed.body.rstrip().endswith("Source link")
    assert "Source link" not in lines
    assert seed.body.startswith("The Iranians help Putin with the Shahed kamikaze drones.")
    assert seed.body.rstrip().endswith("inside the Kremlin bunker.")
    assert FOUNDING_TITLE not in seed.body


def test_founding_seed_name_and_settings() -> None:
    seed = load_seed_file(FOUNDING)
    assert seed.name == "russia-iran-sacred-alliance"
    assert seed.url is None and seed.threshold is None and seed.keywords == []
    assert seed.source == str(FOUNDING)


def test_name_argument_overrides_file_name() -> None:
    assert load_seed_file(FOUNDING, name="My Story").name == "my-story"


def test_content_hash_is_stable_and_content_sensitive() -> None:
    a, b = load_seed_file(FOUNDING), load_seed_file(FOUNDING)
    assert a.content_hash == b.content_hash and len(a.content_hash) == 64
    b.body += " extra"
    assert a.content_hash != b.content_hash


# --- markdown with front matter ------------------------------------------------------------------


def test_md_front_matter_fields(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "drones.md",
        "---\n"
        'title: "Drones over Kyiv: a night of strikes"\n'
        "url: https://example.com/drones?id=1\n"
        "name: Kyiv Drones\n"
        "threshold: 0.25\n"
        "keywords: [Shahed, +Kyiv, energy grid]\n"
        "---\n\n" + BODY + "\n",
    )
    seed = load_seed_file(path)
    assert seed.title == "Drones over Kyiv: a night of strikes"
    assert seed.url == "https://example.com/drones?id=1"
    assert seed.name == "kyiv-drones"
    assert seed.threshold == 0.25
    assert seed.keywords == ["Shahed", "+Kyiv", "energy grid"]
    assert seed.body == BODY


def test_md_front_matter_keywords_as_dash_lines(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "list.md",
        "---\ntitle: 'Shahed drones strike the grid'\nkeywords:\n  - Shahed\n  - \"energy grid\"\n  - +Kyiv\nthreshold: 0\n---\n" + BODY,
    )
    seed = load_seed_file(path)
    assert seed.title == "Shahed drones strike the grid"
    assert seed.keywords == ["Shahed", "energy grid", "+Kyiv"]
    assert seed.threshold == 0.0
    assert seed.name == "list"


def test_md_without_front_matter_takes_heading_as_title(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "treaty.md",
        "# Iran and Russia sign a treaty\n\nThe two countries signed a **strategic partnership** treaty in "
        "[Moscow](https://example.com/moscow) on Friday, officials said.\n",
    )
    seed = load_seed_file(path)
    assert seed.title == "Iran and Russia sign a treaty"
    assert seed.body == "The two countries signed a strategic partnership treaty in Moscow on Friday, officials said."
    assert "#" not in seed.body and "**" not in seed.body and "https://" not in seed.body


def test_md_front_matter_without_title_uses_heading(tmp_path: Path) -> None:
    path = write(tmp_path, "h.md", "---\nthreshold: 0.4\n---\n# Heading is the title here\n\n" + BODY)
    seed = load_seed_file(path)
    assert seed.title == "Heading is the title here"
    assert seed.threshold == 0.4
    assert seed.body == BODY


def test_txt_seed_first_headline_line_is_title(tmp_path: Path) -> None:
    path = write(tmp_path, "plain.txt", "Europe\n\nShahed drones strike Kyiv's power grid overnight\n\n" + BODY + "\n\nSource link\n")
    seed = load_seed_file(path)
    assert seed.title == "Shahed drones strike Kyiv's power grid overnight"
    assert seed.body == BODY


def test_cp1252_seed_is_decoded(tmp_path: Path) -> None:
    text = "Caf\u00e9 owners in Tehran protest \u2018unfair\u2019 new taxes\n\n" + BODY
    seed = load_seed_file(write(tmp_path, "cp.txt", text.encode("cp1252")))
    assert seed.title == "Caf\u00e9 owners in Tehran protest \u2018unfair\u2019 new taxes"


def test_utf8_bom_is_dropped(tmp_path: Path) -> None:
    seed = load_seed_file(write(tmp_path, "bom.txt", b"\xef\xbb\xbf" + ("Shahed drones strike Kyiv again\n\n" + BODY).encode()))
    assert seed.title == "Shahed drones strike Kyiv again"


# --- non-English seeds ---------------------------------------------------------------------------

RUSSIAN = (
    "Россия и Иран укрепляют «священный союз» против Запада\n\n"
    "Москва и Тегеран расширяют военное сотрудничество: иранские беспилотники «Шахед» используются "
    "против энергетической системы Украины.\n"
)
PERSIAN = (
    "روسیه و ایران اتحاد مقدس علیه غرب را تحکیم می‌کنند\n\n"
    "مسکو و تهران همکاری نظامی خود را گسترش می‌دهند و پهپادهای شاهد علیه شبکه انرژی اوکراین به کار می‌روند.\n"
)


def test_russian_seed(tmp_path: Path) -> None:
    seed = load_seed_file(write(tmp_path, "russia-iran-ru.txt", RUSSIAN))
    assert seed.title == "Россия и Иран укрепляют «священный союз» против Запада"
    assert seed.body.startswith("Москва и Тегеран")
    assert seed.name == "russia-iran-ru"


def test_persian_seed(tmp_path: Path) -> None:
    seed = load_seed_file(write(tmp_path, "iran-fa.txt", "اخبار\n\n" + PERSIAN))
    assert seed.title == "روسیه و ایران اتحاد مقدس علیه غرب را تحکیم می‌کنند"  # the one-word label is skipped
    assert seed.body.startswith("مسکو و تهران")


def test_seeds_with_non_latin_file_names_get_distinct_names(tmp_path: Path) -> None:
    a = load_seed_file(write(tmp_path, "новости.txt", RUSSIAN))
    b = load_seed_file(write(tmp_path, "خبر.txt", PERSIAN))
    assert a.name and b.name
    assert a.name != b.name


# --- errors --------------------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SeedError, match="does not exist"):
        load_seed_file(tmp_path / "nope.txt")


def test_folder(tmp_path: Path) -> None:
    (tmp_path / "dir.txt").mkdir()
    with pytest.raises(SeedError, match="folder"):
        load_seed_file(tmp_path / "dir.txt")


@pytest.mark.parametrize("content", [b"", b"   \n\n\t  \n"])
def test_empty_file(tmp_path: Path, content: bytes) -> None:
    with pytest.raises(SeedError, match="empty"):
        load_seed_file(write(tmp_path, "empty.txt", content))


def test_binary_file(tmp_path: Path) -> None:
    data = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4
    with pytest.raises(SeedError, match="binary"):
        load_seed_file(write(tmp_path, "image.txt", data))


def test_text_with_nul_bytes_is_binary(tmp_path: Path) -> None:
    with pytest.raises(SeedError, match="binary"):
        load_seed_file(write(tmp_path, "nul.txt", (BODY + "\0" + BODY).encode()))


def test_three_megabyte_file(tmp_path: Path) -> None:
    path = write(tmp_path, "big.txt", ("word " * 10 + "\n") * 60_000)
    assert path.stat().st_size > 3_000_000
    with pytest.raises(SeedError, match="MiB"):
        load_seed_file(path)


def test_three_megabyte_bytes_to_parse_seed() -> None:
    with pytest.raises(SeedError, match="MiB"):
        parse_seed(b"word " * 620_000, "big.txt")


@pytest.mark.parametrize("name", ["article.pdf", "article.docx", "article.html", "article"])
def test_wrong_suffix(tmp_path: Path, name: str) -> None:
    path = write(tmp_path, name, "Shahed drones strike Kyiv again\n\n" + BODY)
    with pytest.raises(SeedError, match=r"\.txt or \.md"):
        load_seed_file(path)


def test_front_matter_never_closed(tmp_path: Path) -> None:
    path = write(tmp_path, "open.md", "---\ntitle: Drones over Kyiv tonight\n" + BODY + "\n")
    with pytest.raises(SeedError, match="never closes"):
        load_seed_file(path)


@pytest.mark.parametrize(("value", "message"), [("abc", "not a number"), ("1.5", "outside 0..1"), ("-0.1", "outside 0..1")])
def test_bad_threshold(tmp_path: Path, value: str, message: str) -> None:
    path = write(tmp_path, "t.md", f"---\ntitle: Drones over Kyiv tonight\nthreshold: {value}\n---\n{BODY}\n")
    with pytest.raises(SeedError, match=message):
        load_seed_file(path)


def test_front_matter_bad_line(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.md", "---\ntitle: Drones over Kyiv tonight\nthis is not a key value line\n---\n" + BODY)
    with pytest.raises(SeedError, match="key: value"):
        load_seed_file(path)


@pytest.mark.parametrize("text", ["Too few words here.\n", "Asia\n\nShort headline only\n\nSource link\n"])
def test_too_few_words(tmp_path: Path, text: str) -> None:
    with pytest.raises(SeedError, match="too little text"):
        load_seed_file(write(tmp_path, "few.txt", text))


def test_error_messages_name_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "few-words.txt", "Too few words here.\n")
    with pytest.raises(SeedError) as info:
        load_seed_file(path)
    assert "few-words.txt" in str(info.value)


# --- slugify -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "slug"),
    [
        ("russia-iran-sacred-alliance", "russia-iran-sacred-alliance"),
        ("Kyiv Drones", "kyiv-drones"),
        ("  --Hello, World!--  ", "hello-world"),
        ("Café déjà vu", "cafe-deja-vu"),
        ("RUSSIA-IRAN Moscow & Tehran", "russia-iran-moscow-tehran"),
        ("under_score and 2,400 drones", "under-score-and-2-400-drones"),
        ("", "seed"),
        ("!!!", "seed"),
    ],
)
def test_slugify(text: str, slug: str) -> None:
    assert slugify(text) == slug


def test_slugify_is_bounded_and_clean() -> None:
    slug = slugify("a very long title " * 20)
    assert len(slug) <= 60
    assert not slug.startswith("-") and not slug.endswith("-")
    assert slugify(slug) == slug


# --- legacy encodings: read right, or refused --------------------------------------------------------

LEGACY_TEXTS = {
    "cp1251": RUSSIAN,
    "koi8_r": RUSSIAN.replace("«", '"').replace("»", '"'),  # KOI8-R has no guillemets
    "cp1256": PERSIAN.replace("ی", "ي").replace("ک", "ك"),  # CP1256 has the Arabic yeh and kaf, not the Persian ones
    "cp1252": "L'été dernier, à Paris, les élèves ont manifesté près du ministère contre la réforme.\n\n" + BODY,
    "cp1250": "Rząd przyjął w środę projekt ustawy o pomocy dla rolników\n\nŹródła mówią, że Sejm zagłosuje w przyszłym tygodniu.\n",
    "cp1254": "Cumhurbaşkanı salı günü ekonomik işbirliğinin güçlendirileceğini söyledi\n\nAçıklama başkentte yapıldı ve bakanlar katıldı.\n",
    "cp1253": "Η κυβέρνηση ανακοίνωσε την Τρίτη νέα μέτρα για την ενεργειακή κρίση\n\nΟι τιμές του πετρελαίου αυξήθηκαν ξανά.\n",
    "cp1255": "הממשלה הודיעה ביום שלישי על צעדים חדשים נגד משבר האנרגיה\n\nמחירי הנפט עלו שוב השבוע בכל הארץ.\n",
}


@pytest.mark.parametrize("encoding", sorted(LEGACY_TEXTS))
def test_legacy_encoding_is_read_right(tmp_path: Path, encoding: str) -> None:
    text = LEGACY_TEXTS[encoding]
    seed = load_seed_file(write(tmp_path, f"{encoding}.txt", text.encode(encoding)))
    assert seed.title == text.splitlines()[0]


@pytest.mark.parametrize(("encoding", "text"), [
    ("gbk", "国际新闻\n中国政府周二宣布了应对能源危机的新措施，油价再次上涨。\n"),
    ("big5", "國際新聞\n中國政府週二宣布了應對能源危機的新措施，油價再次上漲。\n"),
    ("shift_jis", "日本政府は火曜日、エネルギー危機に対する新たな対策を発表した。\n"),
])
def test_legacy_cjk_encoding_is_refused_not_misread(tmp_path: Path, encoding: str, text: str) -> None:
    with pytest.raises(SeedError, match="not UTF-8"):
        load_seed_file(write(tmp_path, f"{encoding}.txt", text.encode(encoding)))


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32"])
def test_utf16_and_utf32_with_a_byte_order_mark(tmp_path: Path, encoding: str) -> None:
    data = ("Shahed drones strike Kyiv again\n\n" + BODY).encode(encoding)
    if encoding == "utf-16-be":
        data = b"\xfe\xff" + data
    assert load_seed_file(write(tmp_path, "wide.txt", data)).title == "Shahed drones strike Kyiv again"


def test_utf16_without_text_is_empty(tmp_path: Path) -> None:
    with pytest.raises(SeedError, match="empty"):
        load_seed_file(write(tmp_path, "wide.txt", "  \n ".encode("utf-16")))


# --- Chinese and Japanese: words, labels -----------------------------------------------------------


def test_words_splits_chinese_and_japanese_into_characters() -> None:
    assert words("莫斯科与德黑兰巩固“神圣联盟”") == list("莫斯科与德黑兰巩固神圣联盟")
    assert words("東京タワーは2024年に") == ["東", "京", "タ", "ワ", "ー", "は", "2024", "年", "に"]
    assert words("iPhone手机，人々") == ["iphone", "手", "机", "人", "々"]


def test_words_keep_korean_latin_cyrillic_and_arabic_words_whole() -> None:
    assert words("서울의 날씨 Moscow\u2019s 2,400 drones Москва تهران") == ["서울의", "날씨", "moscow's", "2400", "drones", "москва", "تهران"]


def test_chinese_seed_title_skips_the_section_label(tmp_path: Path) -> None:
    text = "国际新闻\n莫斯科与德黑兰巩固“神圣联盟”\n俄罗斯和伊朗签署了全面战略伙伴关系条约。伊朗的无人机被用于打击乌克兰的电网。\n"
    seed = load_seed_file(write(tmp_path, "zh.txt", text))
    assert seed.title == "莫斯科与德黑兰巩固“神圣联盟”"
    assert seed.body.startswith("俄罗斯和伊朗")


# --- saving and scoring: resumable, and safe against seeds changing meanwhile ---------------------


def add_articles(db, n: int) -> list[int]:
    """n stored articles on assorted news words (no feed needed: scoring reads articles only)."""
    import random

    from store import articles as store_articles
    from store.db import transaction

    rng = random.Random(n)
    vocab = "drones Kyiv grid Tehran Moscow alliance markets rates bank election court minister football cup".split()
    with transaction(db):
        return [
            store_articles.insert_article_tx(db, {
                "url": f"https://news.example/{i}", "title": f"Story {i} " + " ".join(rng.choices(vocab, k=5)),
                "content": " ".join(rng.choices(vocab, k=60)), "shingle_count": 0, "index_keys": 0,
            })
            for i in range(n)
        ]


def match_count(db, seed_id: int) -> int:
    return db.execute("SELECT count(*) FROM matches WHERE seed_id = ?", [seed_id]).fetchone()[0]


def stop_after(calls: int):
    state = {"n": 0}

    def stop() -> bool:
        state["n"] += 1
        return state["n"] > calls

    return stop


def test_seed_scoring_cut_short_is_finished_by_the_next_run(fresh_db) -> None:
    from ingest.manage import finish_seed_scoring
    from ingest.processor import rescore
    from store import review as store_review
    from store import seeds as store_seeds

    ids = add_articles(fresh_db, 35)
    # What a kill -9 right after the seed's transaction leaves: the seed, marked pending, no matches.
    seed_id, change = store_seeds.upsert_seed(fresh_db, "drones", "Drones strike the Kyiv grid", BODY, "h1")
    assert change == "added" and store_seeds.scoring_pending(fresh_db)[seed_id][0] == 0
    # A run stopped after two batches of ten (SIGTERM, Ctrl-C) leaves its progress behind.
    stats = rescore(fresh_db, restart=False, stop=stop_after(2), batch=10)
    assert stats.new == 20 and match_count(fresh_db, seed_id) == 20
    assert store_seeds.scoring_pending(fresh_db)[seed_id][0] == ids[19]
    store_review.mark(fresh_db, [ids[0]], "kept", "keep me")
    # The next run (seeds add, seeds sync, the daemon) finishes it where it stopped.
    assert finish_seed_scoring(fresh_db) == 15
    assert store_seeds.scoring_pending(fresh_db) == {}
    assert match_count(fresh_db, seed_id) == 35
    assert fresh_db.execute("SELECT status, note FROM matches WHERE article_id = ?", [ids[0]]).fetchone() == ("kept", "keep me")
    assert finish_seed_scoring(fresh_db) == 0  # nothing left: a cheap no-op


def test_save_seed_scores_once_and_only_when_what_scores_changed(fresh_db) -> None:
    from ingest.manage import save_seed
    from ingest.seeds import SeedDoc

    add_articles(fresh_db, 12)
    doc = SeedDoc(name="drones", title="Drones strike the Kyiv grid", body=BODY)
    assert save_seed(fresh_db, doc)[1:] == ("added", 12)
    assert save_seed(fresh_db, doc)[1:] == ("unchanged", 0)
    doc.url = "https://example.org/drones"
    assert save_seed(fresh_db, doc)[1:] == ("updated", 0)  # the URL does not change a score
    doc.threshold = 0.5
    assert save_seed(fresh_db, doc)[1:] == ("updated", 12)


def test_seeds_version_moves_with_what_scores_and_nothing_else(fresh_db) -> None:
    from ingest.manage import remove_seed
    from ingest.processor import rescore
    from store import seeds as store_seeds

    add_articles(fresh_db, 3)
    v0 = store_seeds.version(fresh_db)
    seed_id, _ = store_seeds.upsert_seed(fresh_db, "drones", "Drones strike the Kyiv grid", BODY, "h1")
    v1 = store_seeds.version(fresh_db)
    assert v1 > v0
    rescore(fresh_db, restart=False)  # scoring progress is not a seed change
    store_seeds.upsert_seed(fresh_db, "drones", "Drones strike the Kyiv grid", BODY, "h1")
    store_seeds.upsert_seed(fresh_db, "drones", "Drones strike the Kyiv grid", BODY, "h1", url="https://example.org/")
    assert store_seeds.version(fresh_db) == v1
    store_seeds.upsert_seed(fresh_db, "drones", "Drones strike the Kyiv grid", BODY, "h1", url="https://example.org/", threshold=0.9)
    v2 = store_seeds.version(fresh_db)
    assert v2 > v1
    remove_seed(fresh_db, seed_id)
    assert store_seeds.version(fresh_db) > v2


def test_rescore_judges_again_when_the_seed_changes_under_it(fresh_db, monkeypatch) -> None:
    """A batch judged with a seed that changed before it was stored is dropped and judged again."""
    from ingest.processor import rescore
    from store import articles as store_articles
    from store import seeds as store_seeds

    add_articles(fresh_db, 30)
    store_seeds.upsert_seed(fresh_db, "drones", "Drones strike the Kyiv grid", BODY, "h1", threshold=0.0)
    real = store_articles.articles_after
    calls = {"n": 0}

    def changing(db, after, limit=500):
        rows = real(db, after, limit)
        calls["n"] += 1
        if calls["n"] == 1:  # `seeds add` in another terminal, while the first batch is being judged
            store_seeds.upsert_seed(fresh_db, "drones", "Drones strike the Kyiv grid", BODY, "h1", threshold=1.0)
        return rows

    monkeypatch.setattr(store_articles, "articles_after", changing)
    rescore(fresh_db, restart=False, batch=10)
    assert store_seeds.scoring_pending(fresh_db) == {}
    verdicts = dict(fresh_db.execute("SELECT verdict, count(*) FROM matches GROUP BY verdict").fetchall())
    assert verdicts == {"unrelated": 30}, verdicts  # every match judged with the threshold now stored


def test_removing_a_seed_while_it_is_scored_stores_nothing_for_it(fresh_db, monkeypatch) -> None:
    from ingest.manage import remove_seed
    from ingest.processor import rescore
    from store import articles as store_articles
    from store import seeds as store_seeds

    add_articles(fresh_db, 20)
    seed_id, _ = store_seeds.upsert_seed(fresh_db, "drones", "Drones strike the Kyiv grid", BODY, "h1")
    real = store_articles.articles_after

    def removing(db, after, limit=500):
        rows = real(db, after, limit)
        remove_seed(fresh_db, seed_id)
        return rows

    monkeypatch.setattr(store_articles, "articles_after", removing)
    rescore(fresh_db, restart=False, batch=10)  # no foreign-key error, no orphan matches
    assert fresh_db.execute("SELECT count(*) FROM matches").fetchone()[0] == 0


def test_a_store_from_before_resumable_scoring_resumes_a_half_scored_seed(db_path) -> None:
    import sqlite3

    from ingest.manage import finish_seed_scoring
    from store import schema
    from store import seeds as store_seeds
    from store.db import open_db, transaction

    db = open_db(db_path, migrate_schema=False)
    for number, step in enumerate(schema.MIGRATIONS[:2]):  # a version 2 store
        with transaction(db):
            step(db)
            db.execute(f"PRAGMA user_version = {number + 1}")
    ids = add_articles(db, 10)
    db.execute("INSERT INTO seeds (name, title, body, content_hash, added_at, updated_at) VALUES"
               " ('done', 'Drones strike the Kyiv grid', ?, 'h', 'now', 'now'), ('half', 'Markets rally', ?, 'h', 'now', 'now')", [BODY, BODY])
    for article_id in ids:
        db.execute("INSERT INTO matches (article_id, seed_id, score, verdict, scored_at) VALUES (?, 1, 0, 'unrelated', 'now')", [article_id])
    for article_id in ids[:4]:
        db.execute("INSERT INTO matches (article_id, seed_id, score, verdict, scored_at) VALUES (?, 2, 0, 'unrelated', 'now')", [article_id])
    for number in (2, 3):  # v3 (resumable scoring) and v4
        with transaction(db):
            schema.MIGRATIONS[number](db)
            db.execute(f"PRAGMA user_version = {number + 1}")
    assert {i: c for i, (c, _) in store_seeds.scoring_pending(db).items()} == {2: ids[3]}
    db.conn.close()

    db = open_db(db_path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == len(schema.MIGRATIONS)
    # v5: two seeds are judged together from now on, so both are judged again on every article.
    assert {i: c for i, (c, _) in store_seeds.scoring_pending(db).items()} == {1: 0, 2: 0}
    assert finish_seed_scoring(db) == 10
    missing = db.execute("SELECT count(*) FROM articles a, seeds s WHERE NOT EXISTS "
                         "(SELECT 1 FROM matches m WHERE m.article_id = a.id AND m.seed_id = s.id)").fetchone()[0]
    assert missing == 0
    db.conn.close()
    assert sqlite3.connect(db_path).execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_store_from_before_seeds_learned_is_scored_once_for_their_base_scores(db_path) -> None:
    from ingest.manage import finish_seed_scoring
    from store import schema
    from store import seeds as store_seeds
    from store.db import open_db, transaction

    db = open_db(db_path, migrate_schema=False)
    for number, step in enumerate(schema.MIGRATIONS[:5]):  # a version 5 store, its one seed fully scored
        with transaction(db):
            step(db)
            db.execute(f"PRAGMA user_version = {number + 1}")
    ids = add_articles(db, 6)
    db.execute("INSERT INTO seeds (name, title, body, content_hash, added_at, updated_at) VALUES"
               " ('drones', 'Drones strike the Kyiv grid', ?, 'h', 'now', 'now')", [BODY])
    for article_id in ids:
        db.execute("INSERT INTO matches (article_id, seed_id, score, verdict, scored_at) VALUES (?, 1, 0, 'unrelated', 'now')", [article_id])
    assert store_seeds.scoring_pending(db) == {}
    db.conn.close()

    db = open_db(db_path)
    assert {i: c for i, (c, _) in store_seeds.scoring_pending(db).items()} == {1: 0}
    assert db.execute("SELECT count(*) FROM matches WHERE base IS NULL").fetchone()[0] == 6
    assert finish_seed_scoring(db) == 6
    assert db.execute("SELECT count(*) FROM matches WHERE base IS NULL").fetchone()[0] == 0
    before = store_seeds.version(db)
    with transaction(db):
        db.execute("UPDATE seeds SET feedback = '[1]'")
    assert store_seeds.version(db) > before  # what a seed learns from changes what it scores
    db.conn.close()


def test_pending_scoring_someone_is_doing_is_left_to_them_until_it_stalls(fresh_db) -> None:
    """The daemon takes over a seed's scoring only when it made no progress for a while."""
    from ingest.manage import finish_seed_scoring
    from store import seeds as store_seeds

    add_articles(fresh_db, 8)
    store_seeds.upsert_seed(fresh_db, "drones", "Drones strike the Kyiv grid", BODY, "h1")
    assert finish_seed_scoring(fresh_db, idle_for=60) == 0  # a `seeds add` started it a moment ago
    fresh_db.execute("UPDATE seeds SET scoring_at = '2000-01-01T00:00:00Z'")  # ... and was killed long ago
    assert finish_seed_scoring(fresh_db, idle_for=60) == 8
    assert store_seeds.scoring_pending(fresh_db) == {}


def test_a_txt_seed_that_opens_with_a_rule_is_text_not_front_matter() -> None:
    """It used to fail with "front matter opens with '---' but never closes"."""
    doc = parse_seed(("----------\n" + BODY).encode(), "rule.txt")
    assert "Shahed drones" in f"{doc.title} {doc.body}" and "---" not in f"{doc.title} {doc.body}"


def test_an_unreadable_seed_file_is_a_seed_error_naming_it(tmp_path) -> None:
    path = tmp_path / "mem.txt"
    path.symlink_to("/proc/self/mem")
    with pytest.raises(SeedError, match=rf"^seed {path} cannot be read: Input/output error$"):
        load_seed_file(path)
