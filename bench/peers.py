"""The peer side of the benchmark: lemon24/reader on the same farm, run inside bench/.venv-peers.

    .venv-peers/bin/python bench/peers.py setup  --db R.sqlite --urls urls.txt   # add feeds, enable search
    .venv-peers/bin/python bench/peers.py update --db R.sqlite [--search] [--workers N]

`update` times reader.update_feeds() (every feed, scheduled or not: reader 3.21+ otherwise skips feeds
updated recently, which would make a re-poll free) and then, with --search, reader.update_search(), and
prints one JSON line: the two times, the per-feed outcome counts and this process's peak RSS.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time


def setup(db: str, urls_file: str) -> dict:
    from reader import make_reader

    started = time.perf_counter()
    reader = make_reader(db)
    urls = [u.strip() for u in open(urls_file, encoding="utf-8") if u.strip()]
    for url in urls:
        reader.add_feed(url, exist_ok=True)
    reader.enable_search()
    reader.close()
    return {"feeds": len(urls), "seconds": round(time.perf_counter() - started, 3)}


def update(db: str, search: bool, workers: int) -> dict:
    import reader as reader_pkg
    from reader import make_reader
    from reader.types import UpdatedFeed

    reader = make_reader(db)
    counts = {"feeds": 0, "ok": 0, "not_modified": 0, "errors": 0, "new": 0, "modified": 0, "unmodified": 0}
    errors: list[str] = []
    started = time.perf_counter()
    for result in reader.update_feeds_iter(scheduled=False, workers=workers):
        counts["feeds"] += 1
        value = result.value
        if value is None:
            counts["not_modified"] += 1
        elif isinstance(value, UpdatedFeed):
            counts["ok"] += 1
            counts["new"] += value.new
            counts["modified"] += value.modified
            counts["unmodified"] += value.unmodified
        else:
            counts["errors"] += 1
            if len(errors) < 3:
                errors.append(f"{result.url}: {value!r}"[:300])
    update_feeds = time.perf_counter() - started
    update_search = None
    if search:
        started = time.perf_counter()
        reader.update_search()
        update_search = time.perf_counter() - started
    entries = reader.get_entry_counts().total
    reader.close()
    return {
        "reader_version": reader_pkg.__version__,
        "workers": workers,
        "update_feeds_s": round(update_feeds, 4),
        "update_search_s": round(update_search, 4) if update_search is not None else None,
        "entries_total": entries,
        **counts,
        "errors_sample": errors,
        "maxrss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("setup")
    s.add_argument("--db", required=True)
    s.add_argument("--urls", required=True)
    u = sub.add_parser("update")
    u.add_argument("--db", required=True)
    u.add_argument("--search", action="store_true")
    u.add_argument("--workers", type=int, default=4)
    args = ap.parse_args(argv)
    out = setup(args.db, args.urls) if args.cmd == "setup" else update(args.db, args.search, args.workers)
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
