"""Process: new entries -> dedupe against the store and the seeds -> score per seed -> rows in the store."""

from __future__ import annotations

import heapq
import json
import logging
import os
from array import array
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from store import articles as store_articles
from store import seeds as store_seeds
from store.db import transaction

from .config import Config, MatchConfig
from .dedupe import FullKeys, IndexedArticles, TextCache, aligned_containment, containment, find_duplicate, index_keys, keys_to_store, look_up, shingles_of, tokens
from .normalise import Entry
from .score import ENTITY_SHARE, Scored, Vocabulary, apply_keywords, blend, cosine, dot, entities, length_lift, parse_keywords, terms, terms_of_words, with_feedback
from .stats import ProcessStats
from .text import article_text, words

Progress = Callable[[int, int], None]  # told (done, total) as long work goes on, for a progress bar

if TYPE_CHECKING:
    import sqlite_utils


log = logging.getLogger("seedwatch")

BATCH_ENTRIES = 2000  # new entries whose terms are counted, then judged and stored, together
# A rescore with this many stored articles or more left to read computes their features in parser
# processes, the next batch's while this one is judged and stored (100,000 articles, one seed: 64.7 s in
# one thread, 47.5 s so on two cores; starting the processes costs ~0.3 s).
PARALLEL_RESCORE_MIN = 5_000
RESCORE_CHUNK = 100  # articles per task sent to a parser process (a batch of 500 is 5 tasks)
FEEDBACK_REFRESH = 0.01  # growth of the store after which seed vectors with feedback are made again (Matcher.refresh)


@dataclass
class SeedModel:
    """A seed ready to compare against: its terms, its shingles and its settings."""

    id: int
    name: str
    threshold: float
    must: list[str]
    boost: list[str]
    counts: Counter[str]
    names: Counter[str]
    words: list[str]
    hashes: set[int]
    vector: dict[str, float] = field(default_factory=dict)
    name_vector: dict[str, float] = field(default_factory=dict)
    feedback: list[int] = field(default_factory=list)  # ids of the best matches its vectors learn from
    feedback_terms: list[tuple[Counter[str], Counter[str]]] = field(default_factory=list)  # their counts and names
    # (vector, name_vector) without one feedback article, for judging that article: made on first use
    without: dict[int, tuple[dict[str, float], dict[str, float]]] = field(default_factory=dict)
    own: tuple[dict[str, float], dict[str, float]] = ({}, {})  # the vectors of the seed's text alone


@dataclass
class Judgement:
    seed: SeedModel
    score: float
    verdict: str
    copy_score: float
    explain: dict
    base: float = 0.0  # the score against the seed's text alone, before keywords and claims: what picks its best matches


class Matcher:
    """Judges texts against every seed together, with document frequencies learned from the store."""

    def __init__(self, db: sqlite_utils.Database, config: MatchConfig | None = None):
        self.db = db
        self.config = config or MatchConfig()
        df, docs = store_articles.load_df(db)
        self.vocab = Vocabulary(df=df, docs=docs)
        self.texts = TextCache()  # stored articles recently compared as near-copy candidates
        self.indexed = IndexedArticles()  # what the index needs to know of the articles this Matcher stored
        self.full_keys = FullKeys()  # index keys that point at all the articles they ever will
        self.seeds = [self._model(row) for row in store_seeds.list_seeds(db)]
        self._load_feedback()
        self._feedback_docs = -1  # the document count the vectors with feedback were made with
        self.refresh()

    def _model(self, row: dict) -> SeedModel:
        must, boost = parse_keywords(json.loads(row["keywords"] or "[]"))
        body = row["body"]
        seed_words = tokens(article_text(row["title"], None, body))
        return SeedModel(
            id=row["id"],
            name=row["name"],
            threshold=row["threshold"] if row["threshold"] is not None else self.config.default_threshold,
            must=must,
            boost=boost,
            counts=terms(row["title"], body),
            names=entities(row["title"], body),
            words=seed_words,
            hashes=shingles_of(seed_words, self.config.shingle_size),
            feedback=json.loads(row["feedback"]) if self.config.feedback_weight and self.config.feedback_count else [],
        )

    def _load_feedback(self) -> None:
        """The terms of every seed's feedback articles, read once (their vectors follow the document frequencies)."""
        ids = sorted({i for seed in self.seeds for i in seed.feedback})
        texts = {}
        for begin in range(0, len(ids), 500):
            for row in store_articles.article_texts(self.db, ids[begin : begin + 500]):
                f = features_of(row["title"] or "", self.config.shingle_size, article_text(None, row["summary"], row["content"]))
                texts[row["id"]] = (f.counts, f.names)
        for seed in self.seeds:
            seed.feedback = [i for i in seed.feedback if i in texts]
            seed.feedback_terms = [texts[i] for i in seed.feedback]

    def refresh(self) -> None:
        """Recompute seed vectors with the current document frequencies (and the seeds' feedback articles).

        Vectors with feedback (a seed's and five articles' terms) are recomputed once the store has grown
        by FEEDBACK_REFRESH since they were: a poll refreshes after every feed, and a 1% change in the
        document count moves an IDF by under 0.01.
        """
        fresh = self.vocab.docs >= self._feedback_docs * (1 + FEEDBACK_REFRESH)
        if fresh:
            self._feedback_docs = self.vocab.docs
        for seed in self.seeds:
            own = (self.vocab.vector(seed.counts), self.vocab.vector(seed.names))
            seed.own = own
            if not seed.feedback_terms:
                seed.vector, seed.name_vector = own
            elif fresh:
                seed.vector, seed.name_vector = self._vectors(seed, None)
                seed.without = {}

    def _vectors(self, seed: SeedModel, leave_out: int | None) -> tuple[dict[str, float], dict[str, float]]:
        """The seed's own vectors with its feedback articles' (but leave_out's), with the current frequencies."""
        kept = [t for i, t in zip(seed.feedback, seed.feedback_terms) if i != leave_out]
        weight = self.config.feedback_weight
        return (with_feedback(seed.own[0], [self.vocab.vector(c) for c, _ in kept], weight),
                with_feedback(seed.own[1], [self.vocab.vector(n) for _, n in kept], weight))

    @staticmethod
    def _own_score(seed: SeedModel, doc_vec: dict[str, float], name_vec: dict[str, float]) -> float:
        """The blended cosine with the seed's text alone (no feedback, no lift): what base scores and the full-text prefilter use."""
        return (1 - ENTITY_SHARE) * dot(seed.own[0], doc_vec) + ENTITY_SHARE * dot(seed.own[1], name_vec)

    def vectors_for(self, seed: SeedModel, article_id: int | None) -> tuple[dict[str, float], dict[str, float]]:
        """The vectors an article is judged against: a feedback article is judged without itself, so it
        does not vouch for itself (its score says what the seed and the other best matches make of it)."""
        if article_id is None or article_id not in seed.feedback:
            return seed.vector, seed.name_vector
        if article_id not in seed.without:
            seed.without[article_id] = self._vectors(seed, article_id)
        return seed.without[article_id]

    def full_text_candidates(self, feed_id: int, entries: list[Entry]) -> list[Entry]:
        """New, brief entries with a link whose brief text already scores near a seed's threshold."""
        known = store_articles.known_guids(self.db, feed_id, [e.guid for e in entries])
        stored = store_articles.ids_by_url(self.db, [e.url for e in entries])
        picked = []
        for entry in entries:
            if entry.guid in known or entry.url in stored or not entry.link:
                continue
            if len(entry.content.split()) >= self.config.full_text_min_words:
                continue
            f = features_of(entry, self.config.shingle_size)
            doc_vec, name_vec = self.vocab.vector(f.counts), self.vocab.vector(f.names)
            # Against the seeds' own texts: what a seed has learned from its best matches depends on what was
            # polled before, and a page not fetched now never is.
            if any(self._own_score(s, doc_vec, name_vec) >= s.threshold * self.config.full_text_prefilter for s in self.seeds):
                picked.append(entry)
        return picked

    def judge(
        self,
        counts: Counter[str],
        names: Counter[str],
        words: list[str],
        hashes: set[int],
        seed_ids: set[int] | None = None,
        article_id: int | None = None,
    ) -> list[Judgement]:
        """Score and verdict of one article (article_id if stored) for every seed (or these seeds, judged together).

        Seeds are judged together: an article that another seed calls related (or a copy of it), and
        scores over 1 / claim_ratio times higher, is that seed's story, and this seed's score is
        multiplied by claimed_factor. Two seeds of the same kind (two earthquakes) share their topic
        words; this is what tells their articles apart. Scores are compared before keyword boosts. A seed
        that calls the article a copy is never claimed, nor one whose must-have keywords all appear: the
        user's keywords say it is theirs.
        """
        seeds = self.seeds if seed_ids is None else [s for s in self.seeds if s.id in seed_ids]
        out, lexical = self._each(counts, names, words, hashes, seeds, article_id)
        self._claim(out, lexical)
        return out

    def _each(
        self, counts: Counter[str], names: Counter[str], words: list[str], hashes: set[int], seeds: list[SeedModel], article_id: int | None
    ) -> tuple[list[Judgement], list[float]]:
        """Each seed's judgement on its own, and its score before keywords (what claims compare)."""
        doc_vec = self.vocab.vector(counts)
        name_vec = self.vocab.vector(names)
        lift = length_lift(len(counts))
        out = []
        lexical = []
        for seed in seeds:
            vector, name_vector = self.vectors_for(seed, article_id)
            word_part, name_part = cosine(vector, doc_vec), cosine(name_vector, name_vec)
            scored: Scored = blend(word_part, name_part)
            scored.score = min(1.0, scored.score * lift)
            before_keywords = scored.score
            scored = apply_keywords(scored, counts, seed.must, seed.boost)
            shared = len(hashes & seed.hashes)
            copy_score = 0.0
            if shared >= self.config.min_shingles and containment(hashes, seed.hashes) >= self.config.copy_prefilter:
                copy_score = aligned_containment(words, seed.words)
            if copy_score >= self.config.copy_aligned:
                verdict = "copy"
            elif scored.score >= seed.threshold and not scored.missing:
                verdict = "related"
            else:
                verdict = "unrelated"
            explain = {
                "terms": scored.terms,
                "words": round(word_part.score, 4),  # cosine of all content words
                "names": round(name_part.score, 4),  # cosine of names and figures
                "name_terms": name_part.terms[:8],
                "lift": round(lift, 3),  # short texts' lift (1 for a full article)
                "keyword_boost": round(scored.score - before_keywords, 4),
                "threshold": seed.threshold,
                "copy_score": round(copy_score, 3),
                "shared_shingles": shared,
            }
            if scored.missing:
                explain["missing_keywords"] = scored.missing
            base = before_keywords
            learned_from = [i for i in seed.feedback if i != article_id]
            if learned_from:
                explain["feedback"] = learned_from  # the seed's vectors include these articles' (MatchConfig.feedback_weight)
                base = min(1.0, self._own_score(seed, doc_vec, name_vec) * lift)
            out.append(Judgement(seed, scored.score, verdict, copy_score, explain, base))
            lexical.append(before_keywords)
        return out, lexical

    def _claim(self, out: list[Judgement], lexical: list[float]) -> None:
        """Scale down, in place, the judgements of seeds that a seed calling the article its own outscores (see judge)."""
        claimers = heapq.nlargest(2, (i for i, j in enumerate(out) if j.verdict != "unrelated"), key=lambda i: lexical[i])
        ratio, factor = self.config.claim_ratio, self.config.claimed_factor
        for i, j in enumerate(out):
            rival = next((c for c in claimers if c != i), None)
            if rival is None or j.verdict == "copy" or (j.seed.must and not j.explain.get("missing_keywords")):
                continue
            if lexical[i] < ratio * lexical[rival]:
                r = out[rival].seed
                j.explain["claimed_by"] = {"seed": r.id, "name": r.name, "score": round(lexical[rival], 4), "ratio": ratio, "factor": factor}
                j.explain["before_claim"] = round(j.score, 4)
                j.score *= factor
                if j.verdict == "related" and j.score < j.seed.threshold:
                    j.verdict = "unrelated"


def process_entries(
    db: sqlite_utils.Database,
    matcher: Matcher,
    feed_id: int,
    entries: list[Entry],
    precomputed: dict[str, "Features"] | None = None,
    write_df: bool = True,
) -> ProcessStats:
    """Store a feed's entries inside the caller's transaction; each article once, judged once per seed.

    precomputed maps a GUID to the features a parser process already extracted from that entry. With
    write_df False the new articles' document frequencies stay pending in matcher.vocab, for the caller
    to write (poll writes those of many feeds at once).
    """
    stats = ProcessStats()
    config = matcher.config
    known = store_articles.known_guids(db, feed_id, [e.guid for e in entries])
    by_url = store_articles.ids_by_url(db, [e.url for e in entries if e.guid not in known])
    fresh: list[Entry] = []
    same_url: list[Entry] = []  # a second entry of this feed with a URL already in the batch: one article
    batch_urls: set[str] = set()
    for entry in entries:
        if entry.guid in known:
            stats.known += 1
        elif entry.url in by_url:
            store_articles.add_source_tx(db, feed_id, entry.guid, by_url[entry.url])
            stats.also_in_other_feed += 1
        elif entry.url in batch_urls:
            same_url.append(entry)
        else:
            batch_urls.add(entry.url)
            fresh.append(entry)
    # Count a batch's terms before scoring any of it, so an article's score does not depend on where in the
    # feed it stood (and the first feed polled into an empty store is not judged blind). A feed of tens of
    # thousands of entries goes in batches of BATCH_ENTRIES, so their features are not all in memory at once.
    precomputed = precomputed or {}
    for begin in range(0, len(fresh), BATCH_ENTRIES):
        batch = fresh[begin : begin + BATCH_ENTRIES]
        features = [precomputed.pop(entry.guid, None) or features_of(entry, config.shingle_size, index=True) for entry in batch]
        for f in features:
            matcher.vocab.add(f.counts)
        matcher.refresh()
        for entry, f in zip(batch, features):
            by_url[entry.url] = _store_new(db, matcher, feed_id, entry, f, stats)
        del features
    for entry in same_url:
        store_articles.add_source_tx(db, feed_id, entry.guid, by_url[entry.url])
        stats.known += 1
    if write_df:
        pending, docs = matcher.vocab.take_pending()
        store_articles.add_df_tx(db, pending, docs)
    return stats


@dataclass
class Features:
    """What scoring and dedup need from one text, computed once."""

    counts: Counter[str]
    names: Counter[str]
    words: list[str]
    hashes: set[int]
    keys: list[int] | None = None  # what the near-duplicate index files the text under (features_of(index=True))

    # Pickled compactly: features travel from the parser processes to the store thread, whose process
    # unpickles them under the GIL it shares with storing. Words as one string (a word holds no space) and
    # hashes as packed 64-bit integers read back 0.25 ms an article down to ~0.1 ms.
    def __getstate__(self) -> tuple:
        keys = None if self.keys is None else array("q", self.keys).tobytes()
        return (list(self.counts), list(self.counts.values()), self.names, " ".join(self.words),
                array("q", self.hashes).tobytes(), keys)

    def __setstate__(self, state: tuple) -> None:
        terms_, counts, self.names, text_words, hashes, keys = state
        self.counts = Counter(dict(zip(terms_, counts)))
        self.words = text_words.split(" ") if text_words else []
        self.hashes = set(_unpack(hashes))
        self.keys = None if keys is None else _unpack(keys).tolist()


def _unpack(packed: bytes) -> array:
    values = array("q")
    values.frombytes(packed)
    return values


def _store_new(db: sqlite_utils.Database, matcher: Matcher, feed_id: int, entry: Entry, f: "Features", stats: ProcessStats) -> int:
    """Store one new article: its near-copy check, row, source, index keys and a judgement per seed."""
    config = matcher.config
    keys = f.keys if f.keys is not None else index_keys(f.words, f.hashes, config.shingle_size)
    hits = look_up(db, keys, matcher.full_keys)
    duplicate = find_duplicate(
        db, f.words, f.hashes, keys, hits, config.shingle_size, config.copy_prefilter, config.duplicate_aligned,
        config.min_shingles, matcher.texts, matcher.indexed,
    )
    article_id = store_articles.insert_article_tx(
        db,
        {
            "url": entry.url,
            "link": entry.link,
            "guid": entry.guid,
            "title": entry.title,
            "summary": entry.summary,
            "content": entry.content,
            "content_html": entry.content_html,
            "author": entry.author,
            "published_at": entry.published_at,
            "updated_at": entry.updated_at,
            "language": entry.language,
            "duplicate_of": duplicate.article_id if duplicate else None,
            "duplicate_score": round(duplicate.score, 4) if duplicate else None,
            "shingle_count": len(f.hashes),
            "index_keys": len(keys),
        },
    )
    matcher.indexed.add(article_id, duplicate.article_id if duplicate else None, len(keys))
    store_articles.add_source_tx(db, feed_id, entry.guid, article_id)
    store_articles.add_shingles_tx(db, article_id, keys_to_store(keys, hits))
    _store_judgements(db, article_id, matcher.judge(f.counts, f.names, f.words, f.hashes), stats)
    stats.new += 1
    if duplicate:
        stats.duplicates += 1
        # The original was judged with the document frequencies of its day; judge it again with today's,
        # so the same text does not come out related in one copy and unrelated in the other.
        rejudge_tx(db, matcher, [duplicate.article_id])
    return article_id


def features_of(entry_or_title: Entry | str, shingle_size: int, body: str | None = None, index: bool = False) -> Features:
    """Terms, entities, words and shingles of an entry (or of a title and body); index: its index keys too (to store it)."""
    if isinstance(entry_or_title, Entry):
        title, text = entry_or_title.title, entry_or_title.text
    else:
        title, text = entry_or_title, article_text(entry_or_title, None, body)
    title_words = words(title)
    if text.startswith(title):
        rest = text[len(title):]
        rest_words = words(rest)
        # The text is split into words once: a line break between title and rest ends a word as the end of
        # the title does, so the text's words are the title's followed by the rest's.
        text_words = title_words + rest_words if not title or not rest or rest[0] == "\n" else words(text)
    else:
        rest = text
        text_words = rest_words = words(rest)
    compared = tokens(text, text_words)
    counts = terms_of_words(title_words, rest_words)
    hashes = shingles_of(compared, shingle_size)
    keys = index_keys(compared, hashes, shingle_size) if index else None
    return Features(counts, entities(title, rest), compared, hashes, keys)


def rejudge_tx(db: sqlite_utils.Database, matcher: Matcher, article_ids: list[int]) -> int:
    """Judge these stored articles again for every seed, inside the caller's transaction; returns how many."""
    done = 0
    for begin in range(0, len(article_ids), 500):
        for row in store_articles.article_texts(db, article_ids[begin : begin + 500]):
            f = features_of(row["title"] or "", matcher.config.shingle_size, article_text(None, row["summary"], row["content"]))
            _store_judgements(db, row["id"], matcher.judge(f.counts, f.names, f.words, f.hashes, article_id=row["id"]), ProcessStats())
            done += 1
    return done


def _store_judgements(db: sqlite_utils.Database, article_id: int, judgements: list[Judgement], stats: ProcessStats) -> None:
    for j in judgements:
        store_articles.upsert_match_tx(db, article_id, j.seed.id, j.score, j.verdict, j.copy_score, j.explain, j.base)
        stats.related += j.verdict == "related"
        stats.copies += j.verdict == "copy"


def rescore(
    db: sqlite_utils.Database,
    config: MatchConfig | None = None,
    seed_ids: list[int] | None = None,
    restart: bool = True,
    stop: Callable[[], bool] | None = None,
    batch: int = 500,
    processes: Config | None = None,
    progress: Progress | None = None,
) -> ProcessStats:
    """Judge every stored article again against these seeds (all when None); restart=False only finishes.

    Each seed's progress is a cursor in the store, advanced in the same transaction as the batch's matches:
    a run cut short (kill -9, Ctrl-C, stop() turning true) leaves the seed pending, and the next run
    (seeds add or sync, rescore, the daemon) finishes it where it stopped. Features are computed outside
    the write transaction, so a long rescore holds the write lock only while it stores each batch (and
    judges again, with every seed or the owners, the few articles that some seed calls its own).
    Features of a large store's articles come from parser processes, set up as processes says (StoredFeatures).
    Seeds claim articles from each other (Matcher.judge); a seed "owns" an article it calls related or a
    copy. Where a seed being scored owns an article as stored, or any seed judged in the batch owns it
    now, every seed is judged again on it and every row is written: the claims on the others may change.
    Elsewhere only the seeds being scored are written, judged together with the seeds that own the
    article as stored (the only ones that can claim it). So a claimed row always sits beside a stored row
    of the seed that claims it, and removing or changing that seed finds every article it claimed.
    progress(done, total) is told the stored articles scored so far, of those left when it began (0 first).
    """
    if restart:
        store_seeds.start_scoring(db, seed_ids)
    stats = ProcessStats()
    source = StoredFeatures(db, (config or MatchConfig()).shingle_size, batch, processes or Config())
    try:
        _rescore(db, config, seed_ids, stop, source, stats, progress)
    finally:
        source.close()
    return stats


def _rescore(
    db: sqlite_utils.Database,
    config: MatchConfig | None,
    seed_ids: list[int] | None,
    stop: Callable[[], bool] | None,
    source: StoredFeatures,
    stats: ProcessStats,
    progress: Progress | None = None,
) -> None:
    """rescore's loop: one batch of stored articles a turn, until every seed's cursor reaches the end."""
    matcher: Matcher | None = None
    matcher_key: int | None = None
    begun: int | None = None  # the cursor progress counts from
    total = done = 0
    while not (stop and stop()):
        version = store_seeds.version(db)  # read before the seeds: a change in between only costs a rebuild
        cursors = {i: after for i, (after, _) in store_seeds.scoring_pending(db).items() if seed_ids is None or i in seed_ids}
        if not cursors:
            break
        if matcher is None or matcher_key != version:
            matcher, matcher_key = Matcher(db, config), version
        start = min(cursors.values())
        if progress and (begun is None or start < begun):  # the first batch, or another run moved a cursor back
            begun, done, total = start, 0, store_articles.count_after(db, start)
            progress(done, total)
        rows, features = source.after(start)
        judged = []
        for row, f in zip(rows, features):
            judged.append((row["id"], f, matcher.judge(f.counts, f.names, f.words, f.hashes, set(cursors), row["id"])))
        with transaction(db):
            if store_seeds.version(db) != version:
                continue  # a seed changed or went while this batch was judged: judge it again with the stored seeds
            now = {i: after for i, (after, _) in store_seeds.scoring_pending(db).items() if i in cursors}
            if not rows:
                for seed_id in now:
                    store_seeds.finish_scoring_tx(db, seed_id)  # unless a poll stored articles meanwhile
                continue
            # A seed whose cursor another run moved back (rescore again) is not covered by this batch.
            covered = {i for i, after in now.items() if after >= start}
            owners = store_articles.owners(db, [a for a, _, _ in judged])
            written: set[int] = set()
            for article_id, f, pending in judged:
                mine = {j.seed.id for j in pending if j.seed.id in covered and article_id > now[j.seed.id]}
                if not mine:
                    continue
                written.add(article_id)
                owned_by = owners.get(article_id, set())
                if owned_by & mine or any(j.verdict != "unrelated" for j in pending):
                    together = pending if len(pending) == len(matcher.seeds) else matcher.judge(f.counts, f.names, f.words, f.hashes, None, article_id)
                    _store_judgements(db, article_id, [j for j in together if j.seed.id in mine], stats)
                    _store_judgements(db, article_id, [j for j in together if j.seed.id not in mine], ProcessStats())
                    continue
                if owned_by:
                    pending = matcher.judge(f.counts, f.names, f.words, f.hashes, mine | owned_by, article_id)
                _store_judgements(db, article_id, [j for j in pending if j.seed.id in mine], stats)
            for seed_id in covered:
                store_seeds.advance_scoring_tx(db, seed_id, rows[-1]["id"])
        stats.new += len(written)
        if progress:  # a batch stored; one judged again (a seed changed meanwhile) is counted once
            done += len(rows)
            total = max(total, done)  # a poll may have stored articles meanwhile
            progress(done, total)


def _features_of_texts(texts: list[tuple[str, str]], shingle_size: int) -> list[Features]:
    """features_of each (title, body): a parser process's share of a rescore, or all of it in this process."""
    return [features_of(title, shingle_size, body) for title, body in texts]


class StoredFeatures:
    """The stored articles a rescore reads, batch by batch in id order, with their features.

    When PARALLEL_RESCORE_MIN articles or more are left to read (and Config.parse_in_processes allows),
    the features are computed in parser processes: a batch's are asked for when the batch before it is
    handed out, so they are ready by the time it has been judged and stored. If the processes cannot
    start or die, the rest is computed here, as for a small store.
    """

    def __init__(self, db: sqlite_utils.Database, shingle_size: int, batch: int, processes: Config):
        self.db, self.shingle_size, self.batch, self.processes = db, shingle_size, batch, processes
        self._parallel: bool | None = None if processes.parse_in_processes and (os.cpu_count() or 1) > 1 else False
        self._pool = None
        self._ahead: tuple[int, list[dict], list | None] | None = None  # (after, rows, futures of their features)

    def after(self, start: int) -> tuple[list[dict], list[Features]]:
        """The next batch of stored articles with an id above start, and their features."""
        if self._parallel is None:  # decided on the first read: what is left to read, not the store's size
            self._parallel = store_articles.count_after(self.db, start, PARALLEL_RESCORE_MIN) >= PARALLEL_RESCORE_MIN
        ahead, self._ahead = self._ahead, None
        if ahead is not None and ahead[0] == start:
            _, rows, futures = ahead
        else:
            if ahead is not None:  # another run moved a cursor back, or the seeds changed: not this batch
                for future in ahead[2] or ():
                    future.cancel()
            rows = store_articles.articles_after(self.db, start, self.batch)
            futures = self._submit(rows)
        if futures is not None and len(rows) == self.batch:
            following = store_articles.articles_after(self.db, rows[-1]["id"], self.batch)
            self._ahead = (rows[-1]["id"], following, self._submit(following))
        if futures is not None:
            try:
                return rows, [f for future in futures for f in future.result()]
            except Exception as exc:  # noqa: BLE001 - a dead process pool (BrokenProcessPool, OSError): go on here
                self._give_up(exc)
        return rows, _features_of_texts(self._texts(rows), self.shingle_size)

    def _texts(self, rows: list[dict]) -> list[tuple[str, str]]:
        return [(r["title"] or "", article_text(None, r["summary"], r["content"])) for r in rows]

    def _submit(self, rows: list[dict]) -> list | None:
        """Features of these rows asked of the parser processes (None: computed here)."""
        if not self._parallel or not rows:
            return None
        try:
            if self._pool is None:
                from .poll import parser_processes

                self._pool = parser_processes(self.processes.parser_memory_mb)(os.cpu_count() or 1)
            texts = self._texts(rows)
            return [self._pool.submit(_features_of_texts, texts[i : i + RESCORE_CHUNK], self.shingle_size) for i in range(0, len(texts), RESCORE_CHUNK)]
        except Exception as exc:  # noqa: BLE001 - the processes cannot start: compute here
            self._give_up(exc)
            return None

    def _give_up(self, exc: Exception) -> None:
        log.warning("scoring goes on in one process: parser processes failed (%s: %s)", type(exc).__name__, exc)
        self._parallel = False
        self._ahead = None
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
