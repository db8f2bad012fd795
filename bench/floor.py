"""The floor: feedparser alone parsing the farm's bytes, spread over every core (run with the project's venv).

    .venv/bin/python bench/floor.py --base http://127.0.0.1:PORT --feeds 200 [--runs 3] [--procs N] [--serial]

The bodies are fetched once from the farm (not timed), so they are the very bytes the clients get. Each
timed run forks a multiprocessing pool of --procs workers (default: all cores), parses every body with
feedparser.parse() the way seedwatch calls it (bytes plus response headers), and returns only the entry
counts, so no parse result is pickled back. Pool start-up is inside the timing. --serial adds one run on a
single core in this process. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing as mp
import os
import statistics
import sys
import time
import urllib.request

import feedparser

_BODIES: list[tuple[str, bytes]] = []  # inherited by the forked workers
_HEADERS = {"content-type": "application/rss+xml; charset=utf-8"}


def _parse(i: int) -> int:
    url, body = _BODIES[i]
    parsed = feedparser.parse(io.BytesIO(body), response_headers={**_HEADERS, "content-location": url})
    return len(parsed.entries)


def fetch(base: str, feeds: int) -> list[tuple[str, bytes]]:
    out = []
    for i in range(feeds):
        url = f"{base}/feed/{i}.xml"
        with urllib.request.urlopen(url, timeout=30) as resp:
            out.append((url, resp.read()))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", required=True, help="the farm's base URL, http://127.0.0.1:PORT")
    ap.add_argument("--feeds", type=int, required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--procs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--serial", action="store_true", help="also time one single-core pass")
    args = ap.parse_args(argv)

    _BODIES[:] = fetch(args.base, args.feeds)
    ctx = mp.get_context("fork")
    times, entries = [], 0
    for _ in range(max(1, args.runs)):
        started = time.perf_counter()
        with ctx.Pool(args.procs) as pool:
            entries = sum(pool.map(_parse, range(len(_BODIES)), chunksize=1))
        times.append(time.perf_counter() - started)
    out = {
        "feedparser_version": feedparser.__version__,
        "procs": args.procs,
        "feeds": len(_BODIES),
        "entries": entries,
        "bytes": sum(len(b) for _, b in _BODIES),
        "runs_s": [round(t, 3) for t in times],
        "median_s": round(statistics.median(times), 3),
    }
    if args.serial:
        started = time.perf_counter()
        for i in range(len(_BODIES)):
            _parse(i)
        out["serial_s"] = round(time.perf_counter() - started, 3)
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
