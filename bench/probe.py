"""In-process probes of a filled store (run with the project's venv): query latency, stats, show, near-copy check.

    .venv/bin/python bench/probe.py --db STORE [--terms 100] [--copies 100]

Prints one JSON line. Latencies are of the store functions the CLI calls (store.review.query_matches,
stats, article_detail; ingest.dedupe.find_duplicate), without the Python start-up a CLI process adds;
run.py times the CLI processes separately.

- query: 100 single-word terms from the ECB+ vocabulary, spread log-uniformly over document-frequency
  rank (common to rare), each run once after a 5-term warm-up, both as `query TERM` runs it (related and
  copies, status new, limit 50), again with 3% of the matches made related (rolled back after), and as
  `query TERM --verdict all --status all` (every match, newest first).
- near-copy check: what a poll does per new article to find a stored near-copy, index_keys() plus
  find_duplicate() (index lookup, then re-reading and aligning the candidates that pass the prefilter), for
  (a) novel articles made the way the farm makes them (another seed, so not in the store) and (b) articles
  already stored (each finds itself: the positive path). Feature extraction (the article's words and
  shingles) is timed apart: a poll does it in its parser processes anyway, for scoring.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from farm import Farm, find_corpus, load_sentences  # noqa: E402


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    if not s:
        return float("nan")
    k = max(0, min(len(s) - 1, math.ceil(q / 100 * len(s)) - 1))
    return s[k]


def summary_ms(values: list[float]) -> dict:
    ms = [v * 1000 for v in values]
    return {"n": len(ms), "p50_ms": round(pct(ms, 50), 2), "p95_ms": round(pct(ms, 95), 2),
            "mean_ms": round(statistics.fmean(ms), 2) if ms else None, "max_ms": round(max(ms), 2) if ms else None}


def pick_terms(corpus: Path, n: int, stopwords: set[str]) -> list[str]:
    df: Counter[str] = Counter()
    for line in corpus.open(encoding="utf-8"):
        doc = json.loads(line)
        df.update({w for w in re.findall(r"[a-z]+", doc["text"].lower()) if len(w) >= 4 and w not in stopwords})
    ranked = [w for w, _ in df.most_common()]
    lo, hi = math.log(10), math.log(len(ranked) - 1)
    terms, seen = [], set()
    for i in range(n * 3):
        idx = int(math.exp(lo + (hi - lo) * i / (n * 3 - 1)))
        w = ranked[idx]
        if w not in seen:
            seen.add(w)
            terms.append(w)
    step = len(terms) / n
    return [terms[int(i * step)] for i in range(n)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", required=True)
    ap.add_argument("--terms", type=int, default=100)
    ap.add_argument("--copies", type=int, default=100)
    ap.add_argument("--corpus", type=Path, default=None, help="default: as bench/farm.py finds it")
    ap.add_argument("--terms-out", help="write the chosen terms here, one a line")
    args = ap.parse_args(argv)
    args.corpus = args.corpus or find_corpus()

    from ingest import dedupe
    from ingest.config import MatchConfig
    from ingest.dedupe import find_duplicate, shingles_of, tokens
    from ingest.text import STOPWORDS, article_text
    from store import articles as store_articles
    from store import review as store_review
    from store.db import open_db

    db = open_db(args.db)
    out: dict = {"articles": store_articles.article_count(db)}

    terms = pick_terms(args.corpus, args.terms, set(STOPWORDS))
    if args.terms_out:
        Path(args.terms_out).write_text("\n".join(terms) + "\n", encoding="utf-8")
    for w in terms[-5:]:
        store_review.query_matches(db, text=w + "s")  # warm-up on other words
    for name, kw in (("query_default", {}), ("query_all", {"verdict": "all", "status": "all"})):
        times, hits = [], []
        for term in terms:
            t0 = time.perf_counter()
            rows = store_review.query_matches(db, text=term, **kw)
            times.append(time.perf_counter() - t0)
            hits.append(len(rows))
        out[name] = {**summary_ms(times), "rows_mean": round(statistics.fmean(hits), 1)}
    # The farm's text is not the seed's story, so `query TERM` (related and copies) finds next to nothing.
    # Time it again with 3% of the matches made related, in a transaction that is rolled back.
    db.execute("BEGIN")
    try:
        db.execute("UPDATE matches SET verdict = 'related' WHERE article_id % 33 = 0")
        times, hits = [], []
        for term in terms:
            t0 = time.perf_counter()
            rows = store_review.query_matches(db, text=term)
            times.append(time.perf_counter() - t0)
            hits.append(len(rows))
        out["query_related3"] = {**summary_ms(times), "rows_mean": round(statistics.fmean(hits), 1)}
    finally:
        db.execute("ROLLBACK")
    fts_rows = [db.execute("SELECT count(*) FROM articles_fts WHERE articles_fts MATCH ?", [store_review.fts_query(t)]).fetchone()[0] for t in terms]
    out["terms"] = {"n": len(terms), "sample": terms[:: max(1, len(terms) // 10)], "fts_hits_p50": pct(fts_rows, 50),
                    "fts_hits_max": max(fts_rows)}

    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        store_review.stats(db)
        times.append(time.perf_counter() - t0)
    out["stats"] = summary_ms(times)
    rng = random.Random(7)
    n_articles = out["articles"]
    ids = [rng.randint(1, n_articles) for _ in range(20)] if n_articles else []
    times = []
    for i in ids:
        t0 = time.perf_counter()
        store_review.article_detail(db, i)
        times.append(time.perf_counter() - t0)
    out["show"] = summary_ms(times)

    cfg = MatchConfig()
    k = cfg.shingle_size

    def check(texts: list[tuple[str, str]]) -> dict:
        feat_t, check_t, cands, verified, found = [], [], [], [], 0
        for title, body in texts:
            t0 = time.perf_counter()
            words = tokens(article_text(title, None, body))
            hashes = shingles_of(words, k)
            t1 = time.perf_counter()
            keys = dedupe.index_keys(words, hashes, k)
            hits = dedupe.look_up(db, keys)
            dup = find_duplicate(db, words, hashes, keys, hits, k, cfg.copy_prefilter, cfg.duplicate_aligned, cfg.min_shingles)
            t2 = time.perf_counter()
            feat_t.append(t1 - t0)
            check_t.append(t2 - t1)
            found += dup is not None
            # The candidates find_duplicate saw (index overlap >= 2) and those whose estimate passes the prefilter.
            info = store_articles.index_info(db, list(hits.overlap))
            cands.append(len(hits.overlap))
            verified.append(min(dedupe.MAX_CANDIDATES, sum(
                n / max(1, min(len(keys), info.get(a, (None, 0))[1])) >= cfg.copy_prefilter for a, n in hits.overlap.items())))
        return {"check": summary_ms(check_t), "features": summary_ms(feat_t), "found_duplicate": found,
                "candidates_p50": pct(cands, 50), "candidates_max": max(cands) if cands else 0,
                "verified_p50": pct(verified, 50), "verified_mean": round(statistics.fmean(verified), 2) if verified else 0}

    farm = Farm(load_sentences(args.corpus), 1, 1, 500, seed=987654, grow_share=0.1, grow_entries=5, render=False)
    novel = []
    for j in range(args.copies):
        title, body, _ = farm.article(0, j)
        novel.append((title, " ".join(body)))
    out["near_copy_novel"] = check(novel)
    stored_ids = [rng.randint(1, n_articles) for _ in range(args.copies)] if n_articles else []
    stored = [(r["title"] or "", article_text(None, r["summary"], r["content"])) for r in store_articles.article_texts(db, stored_ids)]
    out["near_copy_stored"] = check(stored)
    db.conn.close()
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
