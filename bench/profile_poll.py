"""Profile one `seedwatch poll --all` in-process: every thread, and the parser processes too (project venv).

    .venv/bin/python bench/profile_poll.py --feeds 200 [--entries 50] -o poll.prof   # a cold pull of a fresh farm
    .venv/bin/python bench/profile_poll.py --db STORE -o poll.prof                    # poll an existing store

`python -m cProfile -m ingest poll --all` sees only the main thread, i.e. the asyncio fetch loop, while
seedwatch stores, dedupes and scores on a worker thread and (at 8+ feeds) parses, normalises and extracts
features in a pool of parser processes. Here every thread gets its own cProfile.Profile (threading.setprofile
installs one as each thread starts), and each parser process profiles its calls of ingest.poll.extract and
writes them to a file after each call (that write costs the workers a few ms per feed, outside the profile).
Written: OUTPUT (main process, all threads), OUTPUT with .workers.prof (the parser processes), and --json.

Waiting (select/epoll, lock and queue waits, sleeping) shows up as own time of those functions; the
percentages of "busy" time leave those out. cProfile roughly doubles the run time of pure-Python code,
so read the shares, not the seconds.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import tempfile
import threading
import time
from pathlib import Path

from ingest.extract import extract as _real_extract

PROFILE_DIR_ENV = "SEEDWATCH_PROFILE_DIR"
# Own time of these is time spent waiting: for the network (epoll), for another thread (locks, queues), for
# the parser processes (select.poll on their result pipes; posix.write blocks while their task pipe is full).
WAITING = ("'select.epoll'", "'select.poll'", "'_thread.lock'", "time.sleep", "'_queue.SimpleQueue'",
           "posix.read", "posix.write", "posix.waitpid")

_profiles: list[tuple[str, cProfile.Profile]] = []
_lock = threading.Lock()
_worker_prof: cProfile.Profile | None = None


def _thread_hook(frame, event, arg):  # noqa: ANN001 - sys.setprofile's signature
    """The first profile event of a new thread: swap this hook for a real profiler on that thread."""
    prof = cProfile.Profile()
    with _lock:
        _profiles.append((threading.current_thread().name, prof))
    prof.enable()  # replaces this hook for the current thread


def profiled_extract(*args: object, **kwargs: object):  # noqa: ANN201 - returns what extract returns
    """ingest.poll.extract under a per-process profiler, saved after every call (workers are never told to exit)."""
    global _worker_prof
    if _worker_prof is None:
        _worker_prof = cProfile.Profile()
    _worker_prof.enable()
    try:
        return _real_extract(*args, **kwargs)
    finally:
        _worker_prof.disable()
        folder = os.environ.get(PROFILE_DIR_ENV)
        if folder:
            _worker_prof.dump_stats(os.path.join(folder, f"worker-{os.getpid()}.prof"))


def _is_waiting(func: tuple) -> bool:
    return any(w in func[2] for w in WAITING)


def top_table(stats: pstats.Stats, key: str, n: int, busy: float) -> list[dict]:
    """The n top rows of a pstats.Stats sorted by key ('cumulative' or 'tottime') as dicts, with % of busy time."""
    stats.sort_stats(key)
    rows = []
    for func in stats.fcn_list[:n]:  # type: ignore[attr-defined]
        cc, nc, tt, ct, _callers = stats.stats[func]  # type: ignore[attr-defined]
        filename, line, name = func
        short = filename.split("site-packages/")[-1].split("/work/main/")[-1]
        rows.append({"function": f"{short}:{line}({name})", "calls": nc, "tottime": round(tt, 3), "cumtime": round(ct, 3),
                     "own_pct_busy": None if _is_waiting(func) else round(100 * tt / busy, 1) if busy else None,
                     "waiting": _is_waiting(func)})
    return rows


def busy_seconds(stats: pstats.Stats) -> tuple[float, float]:
    """(own time of everything but waiting, own time spent waiting) over all the profiled threads."""
    busy = wait = 0.0
    for func, (_cc, _nc, tt, _ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        if _is_waiting(func):
            wait += tt
        else:
            busy += tt
    return busy, wait


def print_tables(title: str, stats: pstats.Stats, top: int) -> dict:
    busy, wait = busy_seconds(stats)
    cum = top_table(stats, "cumulative", top, busy)
    own = top_table(stats, "tottime", top, busy)
    print(f"\n=== {title}: {busy:.1f} s busy, {wait:.1f} s waiting (own time summed over its threads) ===")
    for name, rows in (("own time", own), ("cumulative", cum)):
        print(f"\ntop {top} by {name}:")
        print(f"{'cumtime':>9} {'tottime':>9} {'own%':>6} {'calls':>9}  function")
        for r in rows:
            pct = "wait" if r["waiting"] else f"{r['own_pct_busy']:.1f}"
            print(f"{r['cumtime']:>9.2f} {r['tottime']:>9.2f} {pct:>6} {r['calls']:>9}  {r['function']}")
    return {"busy_s": round(busy, 2), "waiting_s": round(wait, 2), "cumulative": cum, "tottime": own}


def cold_store(feeds: int, entries: int, work: Path):  # noqa: ANN201 - returns run.Farm
    """A feed farm and a store holding the founding seed and the farm's feeds (what run.py's cold pull starts from)."""
    import run

    farm = run.Farm(feeds, entries, 1, find_corpus())
    run.seedwatch_template(work / "profile.db", farm)
    return farm, work / "profile.db"


def find_corpus() -> Path:
    from farm import find_corpus as find

    return find()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", help="poll this store (default: a cold pull of a fresh --feeds x --entries farm)")
    ap.add_argument("--feeds", type=int, default=200)
    ap.add_argument("--entries", type=int, default=50)
    ap.add_argument("-o", "--output", default="poll.prof")
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--json", help="also write the top tables as JSON here")
    args = ap.parse_args(argv)

    import ingest.poll
    from ingest.cli import cli

    import profile_poll  # this file under its own name, so parser processes can unpickle profiled_extract

    work = Path(tempfile.mkdtemp(prefix="seedwatch-profile-"))
    farm = None
    if args.db:
        db = Path(args.db)
    else:
        farm, db = cold_store(args.feeds, args.entries, work)
    os.environ[PROFILE_DIR_ENV] = str(work)
    ingest.poll.extract = profile_poll.profiled_extract

    threading.setprofile(_thread_hook)
    main_prof = cProfile.Profile()
    started = time.perf_counter()
    cpu0 = os.times()
    main_prof.enable()
    try:
        cli.main(["--db", str(db), "poll", "--all"], prog_name="seedwatch", standalone_mode=False)
    finally:
        main_prof.disable()
        threading.setprofile(None)
        if farm is not None:
            farm.stop()
    wall = time.perf_counter() - started
    cpu1 = os.times()
    stats = pstats.Stats(main_prof, stream=io.StringIO())
    per_thread = {"main (asyncio fetch loop)": busy_seconds(pstats.Stats(main_prof, stream=io.StringIO()))}
    for name, prof in _profiles:
        prof.create_stats()
        stats.add(prof)
        per_thread[name] = busy_seconds(pstats.Stats(prof, stream=io.StringIO()))
    stats.dump_stats(args.output)
    worker_files = sorted(work.glob("worker-*.prof"))
    out: dict = {"wall_s": round(wall, 2), "threads": 1 + len(_profiles), "parser_processes": len(worker_files),
                 "main_process_cpu_s": round(cpu1.user + cpu1.system - cpu0.user - cpu0.system, 2)}
    print(f"profiled wall {wall:.1f} s; main process: {out['threads']} threads, {out['main_process_cpu_s']} CPU s; "
          f"{len(worker_files)} parser processes; written {args.output}")
    print("threads of the main process (own time, s):")
    for name, (busy, wait) in per_thread.items():
        print(f"  {name:<40} busy {busy:7.2f}   waiting {wait:7.2f}")
    out["per_thread"] = {name: {"busy_s": round(b, 2), "waiting_s": round(w, 2)} for name, (b, w) in per_thread.items()}
    out["main"] = print_tables("main process (fetch loop, store thread)", stats, args.top)
    if worker_files:
        wstats = pstats.Stats(*map(str, worker_files), stream=io.StringIO())
        wout = str(Path(args.output).with_suffix("")) + ".workers.prof"
        wstats.dump_stats(wout)
        out["workers"] = print_tables(f"parser processes (ingest.poll.extract; written {wout})", wstats, args.top)
    for f in work.iterdir():
        f.unlink()
    work.rmdir()
    if args.json:
        import json

        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(out, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.exit(main())
