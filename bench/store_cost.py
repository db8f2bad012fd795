"""What storing costs, without the noise of a whole poll: the store thread's work on a farm's parsed entries.

    .venv/bin/python bench/store_cost.py                      # 200 x 50 farm, 3 runs, this checkout
    .venv/bin/python bench/store_cost.py --tree /tmp/old      # the same entries through another checkout's code
    .venv/bin/python bench/store_cost.py --feeds 60 --runs 5  # smaller, more runs

A cold pull's critical path is the store thread (dedupe, score, SQL), and whole `poll --all` runs on a shared
2-core machine move by +-15% from one minute to the next, so a change of 10% there cannot be seen in them.
Here the farm's feeds are fetched and parsed once (parse, normalise and feature extraction, as a parser
process does), then stored --runs times into fresh copies of a store holding the founding seed, in one
transaction per feed as a poll does, timing the CPU of this thread (time.thread_time) for the whole and per
step. Document frequencies are written with every feed (process_entries' default); a poll writes them every
5 s, so add_df_tx here is an upper bound. Index keys come from the parser side, as in a poll. With --tree the storing runs in a child process that imports ingest/ and store/ from that checkout (the
entries are passed as they were parsed here), interleaved run by run with this checkout's, so an old and a
new version see the same machine.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
SEED_FILE = ROOT / "seeds" / "russia-iran-sacred-alliance.txt"
# Steps timed on their own (module, function), all within the store thread's whole; look_up holds
# postings (index_overlap and full_keys before 2026-12-01), find_duplicate holds index_info (read only for candidates not stored this run).
STEPS = {
    "store.articles": ["insert_article_tx", "add_shingles_tx", "postings", "index_overlap", "full_keys", "index_info",
                       "upsert_match_tx", "add_source_tx", "add_df_tx"],
    "ingest.processor": ["look_up", "find_duplicate"],
}
NESTED = "(look_up holds postings, or index_overlap and full_keys; find_duplicate holds index_info; judge is the scoring per seed)"


def parsed_farm(feeds: int, entries: int, seed: int, out: Path) -> None:
    """Serve the farm, fetch and parse every feed once; pickle [(feed URL, Extracted)] to out."""
    sys.path.insert(0, str(BENCH))
    sys.path.insert(0, str(ROOT))
    from farm import find_corpus
    from run import Farm

    from ingest.extract import extract

    farm = Farm(feeds, entries, seed, find_corpus())
    try:
        parsed = []
        for url in farm.urls:
            with urllib.request.urlopen(url, timeout=60) as resp:
                body = resp.read()
            parsed.append((url, extract(body, {"content-type": "application/rss+xml"}, url, 5, set())))
    finally:
        farm.stop()
    out.write_bytes(pickle.dumps(parsed))


def store_once(parsed_path: Path, work: Path) -> dict:
    """Store the parsed feeds into a fresh store (the founding seed, the feeds) and time this thread's CPU."""
    from ingest.manage import save_seed
    from ingest.processor import Matcher, process_entries
    from ingest.seeds import load_seed_file
    from store import feeds as store_feeds
    from store.db import open_db, transaction

    parsed = pickle.loads(parsed_path.read_bytes())
    path = work / "store.db"
    for leftover in work.glob("store.db*"):
        leftover.unlink()
    db = open_db(path)
    save_seed(db, load_seed_file(SEED_FILE))
    feed_ids = [store_feeds.add_feed(db, url)[0] for url, _ in parsed]
    steps: Counter[str] = Counter()
    for module_name, names in STEPS.items():
        module = sys.modules.get(module_name) or __import__(module_name, fromlist=["_"])
        for name in names:
            if hasattr(module, name):  # a step another checkout (--tree) does not have is not timed there
                setattr(module, name, _timed(getattr(module, name), name, steps))
    from ingest import processor

    judge = processor.Matcher.judge
    processor.Matcher.judge = lambda self, *a: _timed(judge, "judge", steps)(self, *a)
    matcher = Matcher(db)
    started, wall = time.thread_time(), time.perf_counter()
    for feed_id, (_, extracted) in zip(feed_ids, parsed):
        with transaction(db):
            process_entries(db, matcher, feed_id, extracted.entries, extracted.features)
            commit_from = time.thread_time()
        steps["commit"] += time.thread_time() - commit_from
        matcher.refresh()
    result = {"cpu_s": time.thread_time() - started, "wall_s": time.perf_counter() - wall,
              "articles": db.execute("SELECT count(*) FROM articles").fetchone()[0], "steps": dict(steps)}
    db.conn.close()
    return result


def _timed(fn, name: str, steps: Counter):
    def timed(*args, **kwargs):
        started = time.thread_time()
        try:
            return fn(*args, **kwargs)
        finally:
            steps[name] += time.thread_time() - started
    return timed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--feeds", type=int, default=200)
    ap.add_argument("--entries", type=int, default=50)
    ap.add_argument("--seed", type=int, default=1, help="the farm's random seed")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--tree", type=Path, help="also store with the ingest/ and store/ of this checkout, interleaved")
    ap.add_argument("--child", nargs=2, metavar=("PARSED", "WORK"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        sys.path.insert(0, os.environ["STORE_COST_TREE"])
        print(json.dumps(store_once(Path(args.child[0]), Path(args.child[1]))))
        return 0
    sys.path.insert(0, str(ROOT))
    with tempfile.TemporaryDirectory(prefix="seedwatch-store-cost-") as tmp:
        work = Path(tmp)
        parsed = work / "parsed.pickle"
        print(f"parsing the farm ({args.feeds} feeds x {args.entries} entries) once ...", flush=True)
        parsed_farm(args.feeds, args.entries, args.seed, parsed)
        trees = {"this checkout": ROOT} | ({f"{args.tree}": args.tree.resolve()} if args.tree else {})
        results: dict[str, list[dict]] = {name: [] for name in trees}
        for run in range(args.runs):
            for name, tree in trees.items():
                (work / name.replace("/", "_")).mkdir(exist_ok=True)
                child = subprocess.run(
                    [sys.executable, __file__, "--child", str(parsed), str(work / name.replace("/", "_"))],
                    env=dict(os.environ, STORE_COST_TREE=str(tree)), capture_output=True, text=True, check=True,
                )
                r = json.loads(child.stdout.strip().splitlines()[-1])
                results[name].append(r)
                print(f"run {run + 1} {name}: store thread {r['cpu_s']:.2f} CPU s ({r['wall_s']:.2f} s wall), "
                      f"{r['articles']} articles", flush=True)
        for name, runs in results.items():
            best = min(runs, key=lambda r: r["cpu_s"])
            per = 1000 / best["articles"]
            print(f"\n{name}: best of {len(runs)}: {best['cpu_s']:.2f} CPU s, {best['cpu_s'] * per:.3f} ms an article; "
                  f"all runs {sorted(round(r['cpu_s'], 2) for r in runs)}")
            for step, seconds in sorted(best["steps"].items(), key=lambda kv: -kv[1]):
                print(f"  {step:<18} {seconds:6.2f} s  {seconds * per:.3f} ms an article")
        print(NESTED)
    return 0


if __name__ == "__main__":
    sys.exit(main())
