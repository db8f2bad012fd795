"""seedwatch's performance benchmark: scenarios against a local feed farm, side by side with lemon24/reader.

    .venv/bin/python bench/run.py                   # 200 x 50 scenarios, reader, floor, daemon idle CPU
    .venv/bin/python bench/run.py --scale           # ... then the 2,000 x 50 scale run (long)
    .venv/bin/python bench/run.py --scale-only      # only the scale run; merged into the last results

Every scenario is one whole `seedwatch --db STORE poll --all` process, timed from fork to exit, with its
peak RSS from wait4(). The reader side runs bench/peers.py in bench/.venv-peers (`make bench-peers`) and
times reader.update_feeds() and reader.update_search() inside that process. Both tools poll the same farm
(bench/farm.py, a separate process on 127.0.0.1) in the same run, interleaved run by run, so load from
other processes on the machine hits both alike. Medians are reported; the number of runs is shown.

Scenarios (200 feeds x 50 entries of ~500 words by default):
  cold       empty store (the founding seed added, feeds imported), every entry new; farm sends validators
  304        re-poll of the cold store; every feed answers 304 Not Modified
  same       re-poll of the cold store; the farm sends 200 with the same bytes and no validators
  grow       re-poll of the cold store after 10% of the feeds gained 5 new entries (validators on)
plus the floor (bench/floor.py: feedparser alone over the same bytes, all cores) and the daemon's CPU use
between ticks over a minute. Results: a table on stdout and JSON in bench/results/latest.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import selectors
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import datetime, timezone
from collections.abc import Callable
from pathlib import Path

from farm import find_corpus

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
VENV_BIN = ROOT / ".venv" / "bin"
SEEDWATCH = VENV_BIN / "seedwatch"
MAIN_PY = VENV_BIN / "python"
PEERS_PY = BENCH / ".venv-peers" / "bin" / "python"
SEED_FILE = ROOT / "seeds" / "russia-iran-sacred-alliance.txt"
RESULTS = BENCH / "results"

TARGETS = {
    "cold_vs_update_feeds": 0.6,
    "cold_vs_update_feeds_and_search": 0.25,
    "cold_vs_floor": 1.3,
    "same_vs_reader": 0.1,
    "304_vs_reader": 1.0,
    "scale_rss_mb": 400,
    "scale_rate_drop": 0.2,
    "query_p95_ms": 50,
    "near_copy_ms": 2,
}


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def median(xs: list[float]) -> float | None:
    return statistics.median(xs) if xs else None


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def cpu_probe() -> float:
    """Milliseconds a fixed pure-Python loop takes here (best of 5): how fast the machine is right now.

    The load average does not show a VM whose host is busy; on this kind of machine the same work took from
    1x to 2.5x as long within one afternoon, so runs far apart compare only through their ratios or this.
    """
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        counts: dict[int, int] = {}
        for i in range(200_000):
            counts[i % 1009] = counts.get(i % 1009, 0) + i
        best = min(best, time.perf_counter() - started)
    return round(best * 1000, 1)


# ------------------------------------------------------------------ processes


_TICKS = os.sysconf("SC_CLK_TCK")


def _session_members(sid: int) -> dict[int, float]:
    """Live processes of a session and their CPU seconds so far (each measured command gets a session)."""
    found = {}
    for entry in os.scandir("/proc"):
        # A session's processes start after its leader, so their pids are higher (unless pids wrapped around).
        if entry.name.isdigit() and int(entry.name) >= sid:
            try:
                fields = Path(f"/proc/{entry.name}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == sid:  # stat field 6: the session id
                found[int(entry.name)] = (int(fields[11]) + int(fields[12])) / _TICKS  # utime + stime
    return found


def _memory_mb(pid: int) -> tuple[float, float]:
    """(RSS, PSS) of one process in MB; PSS splits pages shared with other processes, so PSS values add up."""
    rss = pss = 0
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Rss:"):
                rss = int(line.split()[1])
            elif line.startswith("Pss:"):
                pss = int(line.split()[1])
    except (OSError, ValueError):
        pass
    return rss / 1024, pss / 1024


class TreeMemory:
    """Samples the memory of a process and all its descendants (parser processes included) until stopped.

    wait4()'s ru_maxrss is the peak of the single largest process; a tool that forks workers uses the sum.
    """

    def __init__(self, sid: int, every: float = 0.5):
        self.sid, self.every = sid, every
        self.peak_pss = self.peak_rss = 0.0
        self.peak_procs = 0
        self.cpu: dict[int, float] = {}  # per process, the last CPU seconds seen
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.sample()

    def sample(self) -> tuple[float, float]:
        members = _session_members(self.sid)
        for pid, cpu in members.items():
            self.cpu[pid] = max(cpu, self.cpu.get(pid, 0.0))
        mems = [_memory_mb(p) for p in members]
        rss, pss = sum(m[0] for m in mems), sum(m[1] for m in mems)
        self.peak_rss, self.peak_pss = max(self.peak_rss, rss), max(self.peak_pss, pss)
        self.peak_procs = max(self.peak_procs, len(members))
        return rss, pss

    def stop(self) -> dict:
        self._stop.set()
        self._thread.join(timeout=5)
        return {"tree_pss_mb": round(self.peak_pss, 1), "tree_rss_mb": round(self.peak_rss, 1), "tree_procs": self.peak_procs,
                "tree_cpu_s": round(sum(self.cpu.values()), 2)}


def _kill_session(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        pass


def run_timed(cmd: list[str], timeout: float, env: dict | None = None) -> dict:
    """Run a command to completion (its whole session killed after timeout); wall time, peak RSS and CPU from
    wait4(), and the sampled peak memory of its process tree."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        load = loadavg()
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        tree = TreeMemory(proc.pid, every=0.25)
        timer = threading.Timer(timeout, _kill_session, [proc])
        timer.start()
        try:
            _, status, ru = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        _kill_session(proc)  # a worker left behind by a crash must not outlive the run
        out.seek(0)
        err.seek(0)
        return {
            "wall_s": round(wall, 3),
            "maxrss_mb": round(ru.ru_maxrss / 1024, 1),
            **tree.stop(),
            "cpu_s": round(ru.ru_utime + ru.ru_stime, 2),
            "rc": proc.returncode,
            "timed_out": wall >= timeout,
            "stdout": out.read().decode("utf-8", "replace"),
            "stderr": err.read().decode("utf-8", "replace")[-2000:],
            "loadavg": load,
        }


def copy_store(src: Path, dst: Path) -> Path:
    """Copy an SQLite store with its -wal/-shm and (for reader) its .search companion files."""
    for old in dst.parent.glob(dst.name + "*"):
        old.unlink()
    for f in src.parent.glob(src.name + "*"):
        shutil.copyfile(f, dst.parent / (dst.name + f.name[len(src.name):]))
    return dst


def read_lines(fd: int, timeout: float, last: Callable[[str], bool]) -> list[str]:
    """Lines a child writes on fd until one satisfies `last`, EOF, or the timeout (unbuffered: no lost lines)."""
    lines: list[str] = []
    buf = b""
    deadline = time.monotonic() + timeout
    sel = selectors.DefaultSelector()
    sel.register(fd, selectors.EVENT_READ)
    try:
        while time.monotonic() < deadline:
            if not sel.select(timeout=max(0.0, deadline - time.monotonic())):
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            buf += chunk
            while b"\n" in buf:
                raw, buf = buf.split(b"\n", 1)
                line = raw.decode("utf-8", "replace")
                lines.append(line)
                if last(line):
                    return lines
    finally:
        sel.close()
    return lines


class Farm:
    """bench/farm.py as a child process; ready when it prints its port."""

    def __init__(self, feeds: int, entries: int, seed: int, corpus: Path, timeout: float = 300, max_seconds: float = 7200):
        cmd = [sys.executable, str(BENCH / "farm.py"), "--feeds", str(feeds), "--entries", str(entries),
               "--seed", str(seed), "--corpus", str(corpus), "--max-seconds", str(max_seconds)]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, bufsize=0)
        self.port = None
        self.base = None
        self.info: dict = {}
        for line in read_lines(self.proc.stdout.fileno(), timeout, lambda line: line.startswith("INFO ")):
            if line.startswith("PORT "):
                self.port = int(line.split()[1])
            elif line.startswith("INFO "):
                self.info = json.loads(line[5:])
        if self.port is None or not self.info:
            self.stop()
            raise RuntimeError("the feed farm did not start")
        self.base = f"http://127.0.0.1:{self.port}"
        self.urls = [f"{self.base}/feed/{i}.xml" for i in range(feeds)]

    def control(self, what: str, **params: object) -> dict:
        query = "&".join(f"{k}={v}" for k, v in params.items())
        with urllib.request.urlopen(f"{self.base}/_control/{what}{'?' + query if query else ''}", timeout=120) as resp:
            return json.loads(resp.read())

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                if self.base:
                    self.control("quit")
            except OSError:
                pass
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)


# ------------------------------------------------------------------ the two tools

_SUMMARY = re.compile(r"polled (\d+) feeds in ([\d.]+) s: (\d+) ok \((\d+) unchanged\), (\d+) failed; (\d+) new articles")


def seedwatch_template(path: Path, farm: Farm) -> Path:
    opml = path.parent / "farm.opml"
    opml.write_text(
        '<?xml version="1.0"?>\n<opml version="2.0"><head><title>farm</title></head><body>\n'
        + "".join(f'<outline type="rss" text="farm {i}" xmlUrl="{u}"/>\n' for i, u in enumerate(farm.urls))
        + "</body></opml>\n",
        encoding="utf-8",
    )
    for args in (["seeds", "add", str(SEED_FILE)], ["feeds", "import", str(opml)]):
        r = run_timed([str(SEEDWATCH), "--db", str(path), *args], 600)
        if r["rc"] != 0:
            raise RuntimeError(f"seedwatch {' '.join(args)} failed: {r['stderr']}")
    return path


def seedwatch_poll(db: Path, timeout: float) -> dict:
    r = run_timed([str(SEEDWATCH), "--db", str(db), "poll", "--all"], timeout)
    m = _SUMMARY.search(r["stdout"] + r["stderr"])
    if m:
        r.update(feeds=int(m[1]), ok=int(m[3]), unchanged=int(m[4]), failed=int(m[5]), new=int(m[6]))
    r["summary"] = (m[0] if m else (r["stdout"] + r["stderr"]).strip()[-300:])
    del r["stdout"]
    if r["rc"] == 0:
        del r["stderr"]
    return r


def reader_template(path: Path, farm: Farm) -> Path:
    urls = path.parent / "urls.txt"
    urls.write_text("\n".join(farm.urls) + "\n", encoding="utf-8")
    r = run_timed([str(PEERS_PY), str(BENCH / "peers.py"), "setup", "--db", str(path), "--urls", str(urls)], 600)
    if r["rc"] != 0:
        raise RuntimeError(f"reader setup failed: {r['stderr']}")
    return path


def reader_update(db: Path, search: bool, workers: int, timeout: float) -> dict:
    cmd = [str(PEERS_PY), str(BENCH / "peers.py"), "update", "--db", str(db), "--workers", str(workers)]
    r = run_timed(cmd + (["--search"] if search else []), timeout)
    try:
        r.update(json.loads(r["stdout"].strip().splitlines()[-1]))
    except (ValueError, IndexError):
        r["error"] = (r["stderr"] or r["stdout"])[-500:]
    del r["stdout"]
    if r["rc"] == 0:
        del r["stderr"]
    return r


# ------------------------------------------------------------------ scenarios


def expected(scenario: str, feeds: int, entries: int, grow_share: float = 0.10, grow_entries: int = 5) -> dict:
    """What each scenario must look like (farm answers, new entries), so a number never stands for other work."""
    grown = max(1, round(feeds * grow_share))
    return {
        "cold": {"status_200": feeds, "status_304": 0, "new": feeds * entries},
        "304": {"status_200": 0, "status_304": feeds, "new": 0},
        "same": {"status_200": feeds, "status_304": 0, "new": 0},
        "grow": {"status_200": grown, "status_304": feeds - grown, "new": grown * grow_entries},
    }[scenario]


def validate(run: dict, want: dict, feeds: int) -> dict:
    """Record on the run what differs from the scenario's expectations; such a run is left out of the medians."""
    problems = []
    if run.get("rc") != 0:
        problems.append(f"exit code {run.get('rc')}" + (" (timed out)" if run.get("timed_out") else ""))
    if run.get("error"):
        problems.append("no result: " + run["error"][-200:])
    farm = run.get("farm", {})
    for key in ("status_200", "status_304"):
        if farm.get(key) != want[key]:
            problems.append(f"farm {key} {farm.get(key)}, expected {want[key]}")
    if run.get("new") != want["new"]:
        problems.append(f"new entries {run.get('new')}, expected {want['new']}")
    if run.get("failed") or run.get("errors"):
        problems.append(f"{run.get('failed') or run.get('errors')} feeds failed")
    if run.get("feeds") is not None and run["feeds"] != feeds:
        problems.append(f"{run['feeds']} feeds polled, expected {feeds}")
    run["valid"] = not problems
    if problems:
        run["problems"] = problems
        log("  INVALID RUN: " + "; ".join(problems))
    return run


def summarise(runs: list[dict], key: str) -> dict:
    """Median, min and max of one measure over the valid runs."""
    values = [r[key] for r in runs if r.get(key) is not None and r.get("valid", True)]
    return {"n": len(values), "median": round(median(values), 3) if values else None,
            "min": round(min(values), 3) if values else None, "max": round(max(values), 3) if values else None}


def run_main(args: argparse.Namespace, work: Path) -> dict:
    results: dict = {"scenarios": {}}
    peers = not args.no_peers
    if peers and not PEERS_PY.exists():
        log(f"{PEERS_PY} is missing: run `make bench-peers` (or pass --no-peers); continuing without reader")
        peers = False
    log(f"starting the farm: {args.feeds} feeds x {args.entries} entries")
    farm = Farm(args.feeds, args.entries, args.seed, args.corpus)
    results["farm"] = farm.info
    log(f"farm ready on port {farm.port}: {farm.info['total_bytes'] / 1e6:.1f} MB of XML, rendered in {farm.info['render_seconds']} s")
    try:
        sw_tpl = seedwatch_template(work / "sw-template.db", farm)
        rd_tpl = reader_template(work / "rd-template.sqlite", farm) if peers else None

        floor_runs: list[dict] = []

        def floor() -> None:
            """The bytes of the cold pull parsed by feedparser alone: one pool run and one single-core pass."""
            log("floor: feedparser alone over the same bytes")
            r = run_timed([str(MAIN_PY), str(BENCH / "floor.py"), "--base", farm.base, "--feeds", str(args.feeds),
                           "--runs", "1", "--serial"], 900)
            run = json.loads(r["stdout"].strip().splitlines()[-1]) if r["rc"] == 0 else {"error": r["stderr"][-500:]}
            floor_runs.append({**run, "loadavg": r["loadavg"]})

        # Cold pulls, interleaved, repeated while the cold budget lasts.
        farm.control("mode", set="304")
        farm.control("gen", set=0)
        sw_runs: list[dict] = []
        rd_runs: list[dict] = []
        sw_cold = work / "sw-cold.db"
        rd_cold = work / "rd-cold.sqlite"

        def more(runs: list[dict], key: str) -> bool:
            """Another cold run of this tool fits: its runs so far plus one more stay within the budget."""
            spent = sum(r.get(key) or 0 for r in runs)
            return not runs or spent + spent / len(runs) <= args.cold_budget

        for i in range(args.cold_runs):
            if i < args.runs_floor:  # next to the cold pulls, so it sees the same load
                floor()
            if peers and more(rd_runs, "wall_s"):
                farm.control("stats", reset=1)
                log(f"cold pull, reader run {i + 1}")
                run = reader_update(copy_store(rd_tpl, work / "rd-run.sqlite"), True, args.reader_workers, args.timeout)
                run["farm"] = farm.control("stats")
                rd_runs.append(validate(run, expected("cold", args.feeds, args.entries), args.feeds))
                log(f"  reader update_feeds {run.get('update_feeds_s')} s + update_search {run.get('update_search_s')} s")
                copy_store(work / "rd-run.sqlite", rd_cold)
            if more(sw_runs, "wall_s"):
                farm.control("stats", reset=1)
                log(f"cold pull, seedwatch run {i + 1}")
                run = seedwatch_poll(copy_store(sw_tpl, work / "sw-run.db"), args.timeout)
                run["farm"] = farm.control("stats")
                sw_runs.append(validate(run, expected("cold", args.feeds, args.entries), args.feeds))
                log(f"  seedwatch {run['wall_s']} s, {run['maxrss_mb']} MB: {run['summary']}")
                copy_store(work / "sw-run.db", sw_cold)
        results["scenarios"]["cold"] = {"seedwatch": sw_runs, "reader": rd_runs}
        ok = [r for r in floor_runs if "median_s" in r]
        results["floor"] = {**(ok[0] if ok else floor_runs[0]), "runs": floor_runs}
        if ok:
            results["floor"].update(runs_s=[r["median_s"] for r in ok], median_s=round(median([r["median_s"] for r in ok]), 3),
                                    serial_s=round(median([r["serial_s"] for r in ok]), 3), n=len(ok))

        # Re-polls of the cold stores.
        plans = [("304", "304", 0), ("same", "200", 0), ("grow", "304", 1)]
        for name, mode, gen in plans:
            farm.control("mode", set=mode)
            farm.control("gen", set=gen)
            sw_runs, rd_runs = [], []
            sw_db, rd_db = work / f"sw-{name}.db", work / f"rd-{name}.sqlite"
            for i in range(args.runs):
                # A grow run must start from the cold store each time, or the new entries would be known.
                if i == 0 or name == "grow":
                    copy_store(sw_cold, sw_db)
                    if peers:
                        copy_store(rd_cold, rd_db)
                if peers:
                    farm.control("stats", reset=1)
                    run = reader_update(rd_db, True, args.reader_workers, args.timeout)
                    run["farm"] = farm.control("stats")
                    rd_runs.append(validate(run, expected(name, args.feeds, args.entries), args.feeds))
                farm.control("stats", reset=1)
                run = seedwatch_poll(sw_db, args.timeout)
                run["farm"] = farm.control("stats")
                sw_runs.append(validate(run, expected(name, args.feeds, args.entries), args.feeds))
            log(f"re-poll {name}: seedwatch {median([r['wall_s'] for r in sw_runs])} s"
                + (f", reader update_feeds {median([r.get('update_feeds_s') or 0 for r in rd_runs])} s" if peers else ""))
            results["scenarios"][name] = {"seedwatch": sw_runs, "reader": rd_runs}
        farm.control("gen", set=0)
        farm.control("mode", set="304")

        if args.daemon_seconds > 0:
            farm.control("stats", reset=1)
            results["daemon"] = daemon_idle(work / "sw-304.db", work, args.daemon_seconds)
            # Idle means nothing was due: a request to the farm in the window would make it a poll.
            results["daemon"]["farm_requests"] = farm.control("stats")["requests"]
    finally:
        farm.stop()
    return results


def daemon_idle(db: Path, work: Path, seconds: float) -> dict:
    """CPU used by `seedwatch run` over `seconds` when no feed is due (one tick falls inside the window)."""
    seeds_dir = work / "daemon-seeds"
    seeds_dir.mkdir(exist_ok=True)
    shutil.copyfile(SEED_FILE, seeds_dir / SEED_FILE.name)
    log(f"daemon idle CPU over {seconds:g} s")
    proc = subprocess.Popen([str(SEEDWATCH), "--db", str(db), "--seeds-dir", str(seeds_dir), "run", "--tick", "60"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, bufsize=0,
                            start_new_session=True)
    ticks = os.sysconf("SC_CLK_TCK")

    def cpu() -> float:
        fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / ticks

    out: dict = {"tick_s": 60, "window_s": seconds}
    try:
        lines = read_lines(proc.stderr.fileno(), 60, lambda line: "daemon started" in line)
        ready = bool(lines) and "daemon started" in lines[-1]
        if not ready:
            out["error"] = "the daemon did not report it started"
            return out
        # Drain its log so it never blocks on a full pipe.
        threading.Thread(target=lambda: [None for _ in iter(lambda: os.read(proc.stderr.fileno(), 65536), b"")], daemon=True).start()
        time.sleep(2)  # let the first tick (run at start) finish; the window then holds one more tick
        c0, t0 = cpu(), time.monotonic()
        time.sleep(seconds)
        c1, t1 = cpu(), time.monotonic()
        out.update(cpu_s=round(c1 - c0, 3), core_percent=round(100 * (c1 - c0) / (t1 - t0), 3),
                   startup_cpu_s=round(c0, 2), rss_mb=_vmrss(proc.pid), processes=len(_session_members(proc.pid)))
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            out["exit_code"] = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
            out["exit_code"] = "killed"
    log(f"  daemon: {out.get('cpu_s')} CPU s in {seconds:g} s")
    return out


def _vmrss(pid: int) -> float | None:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return None


# ------------------------------------------------------------------ scale


def run_scale(args: argparse.Namespace, work: Path) -> dict:
    out: dict = {"feeds": args.scale_feeds, "entries": args.entries}
    log(f"scale: starting the farm: {args.scale_feeds} feeds x {args.entries} entries")
    farm = Farm(args.scale_feeds, args.entries, args.seed, args.corpus, timeout=900, max_seconds=args.scale_timeout + 3600)
    out["farm"] = farm.info
    log(f"scale farm ready: {farm.info['total_bytes'] / 1e6:.0f} MB of XML")
    db = work / "sw-scale.db"
    try:
        seedwatch_template(db, farm)
        log(f"scale: cold pull (at most {args.scale_timeout:g} s)")
        out["cold"] = _pull_with_progress(db, args.scale_timeout, args.scale_sample)
        out["cold"]["farm"] = farm.control("stats")
        if not out["cold"].get("stopped_after_s"):
            validate(out["cold"], expected("cold", args.scale_feeds, args.entries), args.scale_feeds)
        log(f"  scale cold: {out['cold'].get('wall_s')} s, largest process {out['cold'].get('maxrss_mb')} MB, "
            f"process tree {out['cold'].get('tree_pss_mb')} MB PSS, {out['cold'].get('articles')} articles")
    finally:
        farm.stop()
    log("scale: probes (query, stats, show, near-copy check)")
    terms_file = work / "terms.txt"
    r = run_timed([str(MAIN_PY), str(BENCH / "probe.py"), "--db", str(db), "--terms-out", str(terms_file)], 1800)
    out["probe"] = json.loads(r["stdout"].strip().splitlines()[-1]) if r["rc"] == 0 else {"error": r["stderr"][-800:]}
    out["cli"] = cli_latencies(db, terms_file)
    out["store_mb"] = round(sum(f.stat().st_size for f in db.parent.glob(db.name + "*")) / 1e6, 1)
    return out


def _pull_with_progress(db: Path, timeout: float, every: float) -> dict:
    """A cold `poll --all`, with the article count and RSS sampled as it goes; stopped after timeout."""
    load = loadavg()
    started = time.perf_counter()
    proc = subprocess.Popen([str(SEEDWATCH), "--db", str(db), "poll", "--all"], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    tree = TreeMemory(proc.pid, every=1.0)
    result: dict = {}
    done = threading.Event()

    def reap() -> None:
        output = proc.stdout.read()
        _, status, ru = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        result.update(wall_s=round(time.perf_counter() - started, 2), maxrss_mb=round(ru.ru_maxrss / 1024, 1),
                      cpu_s=round(ru.ru_utime + ru.ru_stime, 1), rc=proc.returncode,
                      summary=output.decode("utf-8", "replace").strip()[-400:])
        done.set()

    threading.Thread(target=reap, daemon=True).start()
    progress = []
    deadline = time.monotonic() + timeout
    while not done.wait(every):
        if time.monotonic() > deadline:
            proc.terminate()
            result["stopped_after_s"] = timeout
            if not done.wait(60):
                _kill_session(proc)
                done.wait(30)
            break
        _, pss = tree.sample()
        progress.append({"t_s": round(time.perf_counter() - started, 1), "articles": _count(db),
                         "rss_mb": _vmrss_safe(proc.pid), "tree_pss_mb": round(pss, 1)})
    _kill_session(proc)
    result.update(tree.stop())
    result["progress"] = progress
    result["articles"] = _count(db)
    result["loadavg"] = [load, loadavg()]
    m = _SUMMARY.search(result.get("summary", ""))
    if m:
        result.update(new=int(m[6]), failed=int(m[5]))
    if result.get("wall_s") and (result.get("new") or result["articles"]):
        # new articles per second of the whole process, as the 200-feed figure it is compared with
        result["entries_per_s"] = round((result.get("new") or result["articles"]) / result["wall_s"], 1)
    # Rate over the last stretch of the pull, to see whether it slows as the store grows.
    if len(progress) >= 4:
        a, b = progress[len(progress) * 3 // 4], progress[-1]
        if b["t_s"] > a["t_s"]:
            result["late_entries_per_s"] = round((b["articles"] - a["articles"]) / (b["t_s"] - a["t_s"]), 1)
        a, b = progress[0], progress[len(progress) // 4]
        if b["t_s"] > a["t_s"]:
            result["early_entries_per_s"] = round((b["articles"] - a["articles"]) / (b["t_s"] - a["t_s"]), 1)
    return result


def _count(db: Path) -> int | None:
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
        try:
            return conn.execute("SELECT count(*) FROM articles").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error:
        return None


def _vmrss_safe(pid: int) -> float | None:
    try:
        return _vmrss(pid)
    except OSError:
        return None


def cli_latencies(db: Path, terms_file: Path) -> dict:
    """Whole CLI processes (Python start-up included): query TERM x 20, stats x 5, show x 5, --version x 5."""
    terms = [t for t in terms_file.read_text(encoding="utf-8").split() if t][::5][:20] if terms_file.exists() else []
    articles = _count(db) or 1
    out: dict = {}

    def times(cmds: list[list[str]]) -> dict:
        walls, failed = [], []
        for cmd in cmds:
            r = run_timed([str(SEEDWATCH), "--db", str(db), *cmd], 120)
            if r["rc"] == 0:
                walls.append(r["wall_s"])
            else:  # a failing command is fast and would flatter the latency: count it apart
                failed.append(f"{' '.join(cmd)}: rc {r['rc']} {r['stderr'][-200:]}")
        walls.sort()
        res = {"n": len(walls), "p50_ms": round(1000 * pct(walls, 50), 1), "p95_ms": round(1000 * pct(walls, 95), 1)} if walls else {}
        if failed:
            res["failed"] = failed
        return res

    out["version"] = times([["--version"]] * 5)
    out["query"] = times([["query", t] for t in terms])
    out["query_all"] = times([["query", t, "--verdict", "all", "--status", "all"] for t in terms])
    out["stats"] = times([["stats"]] * 5)
    out["show"] = times([["show", str(max(1, articles * q // 100))] for q in (1, 25, 50, 75, 100)])
    return out


def pct(values: list[float], q: float) -> float:
    """The q-th percentile by the nearest-rank method (as probe.py computes it)."""
    s = sorted(values)
    return s[max(0, min(len(s) - 1, math.ceil(q / 100 * len(s)) - 1))] if s else float("nan")


# ------------------------------------------------------------------ report


def ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a is not None and b else None


def cpu_lines(cold: dict, floor: dict | None, cores: int | None) -> list[str]:
    """Where the cold pull's CPU went, and the least wall time that much CPU allows on these cores: what bounds it."""
    tree, main, wall = cold.get("seedwatch_tree_cpu_s"), cold.get("seedwatch_cpu_s"), cold.get("seedwatch_s", {}).get("median")
    if not (tree and wall and cores):
        return []
    split = ""
    if main is not None:
        parsers = f"; parser processes {tree - main:.1f} s" if tree > main else ""
        split = f" (main process, i.e. fetch loop and store thread, {main:.1f} s{parsers})"
    lines = [f"cold pull CPU, all processes (sampled): seedwatch {tree:.1f} s in {wall:.1f} s wall = {tree / wall:.2f} of {cores} cores busy{split}"]
    others = []
    if cold.get("reader_cpu_s"):
        others.append(f"reader {cold['reader_cpu_s']:.1f} s (its whole process, update_search included)")
    if floor and floor.get("serial_s"):
        others.append(f"feedparser alone {floor['serial_s']:.1f} s")
    if others:
        lines.append("  against: " + "; ".join(others))
    lines.append(f"  with every core busy, {tree:.1f} CPU s take at least {tree / cores:.1f} s on {cores} cores")
    return lines


def build_report(res: dict) -> dict:
    """Medians and the ratios the targets speak of."""
    rep: dict = {}
    sc = res.get("scenarios", {})
    for name, runs in sc.items():
        sw = summarise(runs["seedwatch"], "wall_s")
        entry = {
            "seedwatch_s": sw,
            "seedwatch_rss_mb": summarise(runs["seedwatch"], "maxrss_mb")["median"],
            "seedwatch_tree_mb": summarise(runs["seedwatch"], "tree_pss_mb")["median"],
            "invalid_runs": [f"{tool} run {i + 1}: {'; '.join(r['problems'])}" for tool in ("seedwatch", "reader")
                             for i, r in enumerate(runs[tool]) if r.get("problems")],
            "seedwatch_cpu_s": summarise(runs["seedwatch"], "cpu_s")["median"],
            "seedwatch_tree_cpu_s": summarise(runs["seedwatch"], "tree_cpu_s")["median"],
            "seedwatch_new": runs["seedwatch"][-1].get("new") if runs["seedwatch"] else None,
        }
        if runs["reader"]:
            uf = summarise(runs["reader"], "update_feeds_s")
            us = summarise(runs["reader"], "update_search_s")
            both = [r["update_feeds_s"] + (r.get("update_search_s") or 0) for r in runs["reader"]
                    if r.get("update_feeds_s") is not None and r.get("valid", True)]
            entry.update(
                reader_update_feeds_s=uf,
                reader_update_search_s=us,
                reader_both_s=round(median(both), 3) if both else None,
                reader_process_s=summarise(runs["reader"], "wall_s")["median"],
                reader_rss_mb=summarise(runs["reader"], "maxrss_mb")["median"],
                reader_cpu_s=summarise(runs["reader"], "cpu_s")["median"],
                reader_new=runs["reader"][-1].get("new"),
                ratio_update_feeds=ratio(sw["median"], uf["median"]),
                ratio_update_feeds_and_search=ratio(sw["median"], median(both) if both else None),
            )
        rep[name] = entry
    floor = res.get("floor", {})
    if "cold" in rep and floor.get("median_s"):
        # The floor is a lower bound: when other jobs hold the cores, one core can beat the pool; take the faster.
        best = min(floor["median_s"], floor.get("serial_s") or floor["median_s"])
        rep["floor"] = {"floor_s": best, "pool_s": floor["median_s"], "procs": floor.get("procs"), "serial_s": floor.get("serial_s"),
                        "ratio_cold_to_floor": ratio(rep["cold"]["seedwatch_s"]["median"], best),
                        "ratio_cold_to_pool": ratio(rep["cold"]["seedwatch_s"]["median"], floor["median_s"])}
    checks = []

    def check(name: str, value: float | None, target: float, op: str = "<=") -> None:
        ok = None if value is None else (value <= target)
        checks.append({"target": name, "value": value, "limit": f"{op} {target}", "met": ok})

    peers = any(runs["reader"] for runs in sc.values())
    if "cold" in rep and peers:
        check("cold / reader update_feeds", rep["cold"].get("ratio_update_feeds"), TARGETS["cold_vs_update_feeds"])
        check("cold / reader update_feeds+update_search", rep["cold"].get("ratio_update_feeds_and_search"), TARGETS["cold_vs_update_feeds_and_search"])
    if "floor" in rep:
        check("cold / floor (feedparser alone, best of pool/1 core)", rep["floor"]["ratio_cold_to_floor"], TARGETS["cold_vs_floor"])
    if "same" in rep and peers:
        check("re-poll same bytes / reader", rep["same"].get("ratio_update_feeds"), TARGETS["same_vs_reader"])
    if "304" in rep and peers:
        check("re-poll 304 / reader", rep["304"].get("ratio_update_feeds"), TARGETS["304_vs_reader"])
    scale = res.get("scale")
    if scale and "cold" in scale:
        c = scale["cold"]
        check("scale: peak RSS MB (largest process, wait4)", c.get("maxrss_mb"), TARGETS["scale_rss_mb"])
        check("scale: peak memory MB (process tree, PSS sum)", c.get("tree_pss_mb"), TARGETS["scale_rss_mb"])
        base = None
        if "cold" in rep and rep["cold"]["seedwatch_s"]["median"]:
            new = rep["cold"]["seedwatch_new"] or 0
            base = new / rep["cold"]["seedwatch_s"]["median"] if new else None
        elif scale.get("base_entries_per_s"):
            base = scale["base_entries_per_s"]
        if base and c.get("entries_per_s"):
            scale["base_entries_per_s"] = round(base, 1)
            check("scale: entries/s drop vs 200-feed run", round(1 - c["entries_per_s"] / base, 3), TARGETS["scale_rate_drop"])
        p = scale.get("probe", {})
        if "query_default" in p:
            check("scale: query p95 ms (in-process)", p["query_default"]["p95_ms"], TARGETS["query_p95_ms"])
            check("scale: query --verdict all p95 ms (in-process)", p["query_all"]["p95_ms"], TARGETS["query_p95_ms"])
            if "query_related3" in p:
                check("scale: query p95 ms, 3% related (in-process)", p["query_related3"]["p95_ms"], TARGETS["query_p95_ms"])
        if scale.get("cli", {}).get("query"):
            check("scale: query p95 ms (CLI process, start-up incl.)", scale["cli"]["query"]["p95_ms"], TARGETS["query_p95_ms"])
        if "near_copy_novel" in p:
            check("scale: near-copy check ms/article (novel, p50)", p["near_copy_novel"]["check"]["p50_ms"], TARGETS["near_copy_ms"])
            check("scale: near-copy check ms/article (mean)", p["near_copy_novel"]["check"]["mean_ms"], TARGETS["near_copy_ms"])
    d = res.get("daemon")
    if d and "cpu_s" in d:
        checks.append({"target": "daemon idle CPU s per minute", "value": d["cpu_s"], "limit": "no CPU to speak of", "met": None})
    rep["checks"] = checks
    return rep


def fmt(v: object, nd: int = 2) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{nd}f}"
    return str(v)


def render_table(res: dict, rep: dict) -> str:
    lines = []
    meta = res.get("meta", {})
    farm = res.get("farm", {})
    if farm:
        lines.append(
            (f"seedwatch vs reader {res['reader_version']}: " if res.get("reader_version") else
             "seedwatch (reader not run: make bench-peers): ")
            + f"{farm.get('feeds')} feeds x {farm.get('entries')} entries "
            f"({farm.get('feeds', 0) * farm.get('entries', 0):,} entries, {farm.get('total_bytes', 0) / 1e6:.1f} MB of XML); "
            f"{meta.get('cpus')} cores, load average {meta.get('loadavg_start')} at start, {meta.get('loadavg_end')} at end "
            f"(other jobs share the machine: medians; compare ratios within this run); "
            f"CPU probe {meta.get('cpu_probe_ms_start')} ms at start, {meta.get('cpu_probe_ms_end')} ms at end (bench/run.py cpu_probe: lower is faster)"
        )
        lines.append("")
        hdr = (f"{'scenario':<30}{'seedwatch s':>12}{'n':>3}{'RSS MB':>7}{'tree MB':>8} |{'reader feeds s':>15}"
               f"{'+search s':>10}{'n':>3}{'proc s':>7}{'RSS MB':>7} |{'sw/feeds':>9}{'sw/(f+s)':>9}")
        lines.append(hdr)
        lines.append("-" * len(hdr))
        names = {"cold": "cold pull (empty store)", "304": "re-poll, all 304", "same": "re-poll, same bytes, no ETag",
                 "grow": "re-poll, 10% feeds +5 entries"}
        for key, label in names.items():
            e = rep.get(key)
            if not e:
                continue
            uf = e.get("reader_update_feeds_s", {})
            us = e.get("reader_update_search_s", {})
            lines.append(
                f"{label:<30}{fmt(e['seedwatch_s']['median']):>12}{e['seedwatch_s']['n']:>3}{fmt(e['seedwatch_rss_mb'], 0):>7}"
                f"{fmt(e['seedwatch_tree_mb'], 0):>8} |{fmt(uf.get('median')):>15}{fmt(us.get('median')):>10}{fmt(uf.get('n')):>3}"
                f"{fmt(e.get('reader_process_s')):>7}{fmt(e.get('reader_rss_mb'), 0):>7} |"
                f"{fmt(e.get('ratio_update_feeds')):>9}{fmt(e.get('ratio_update_feeds_and_search')):>9}"
            )
        lines.append("(seedwatch s: the whole `poll --all` process; reader s: update_feeds() / update_search() inside its process,"
                     " proc s: that whole process; RSS: the largest process; tree: PSS sum of all its processes)")
        fl = rep.get("floor")
        if fl:
            lines.append(
                f"floor, feedparser alone on the same bytes: {fmt(fl.get('pool_s', fl['floor_s']))} s on {fl['procs']} cores, "
                f"{fmt(fl.get('serial_s'))} s on 1 core; seedwatch cold / the faster = {fmt(fl['ratio_cold_to_floor'])}"
                f" (/ all cores = {fmt(fl.get('ratio_cold_to_pool'))})"
            )
        c = rep.get("cold", {})
        sw_s, rd_s = c.get("seedwatch_s", {}).get("median"), c.get("reader_update_feeds_s", {}).get("median")
        if c.get("seedwatch_new") and sw_s:
            lines.append(
                f"cold pull rate: seedwatch {c['seedwatch_new'] / sw_s:.0f} entries/s"
                + (f", reader update_feeds {(c.get('reader_new') or 0) / rd_s:.0f} entries/s" if rd_s else "")
            )
        lines.extend(cpu_lines(c, rep.get("floor"), meta.get("cpus")))
        d = res.get("daemon")
        if d and "cpu_s" in d:
            lines.append(f"daemon between ticks: {d['cpu_s']} CPU s over {d['window_s']:g} s ({d['core_percent']}% of a core), "
                         f"RSS {d.get('rss_mb')} MB, {d.get('farm_requests')} farm requests in the window")
        for key in names:
            for problem in rep.get(key, {}).get("invalid_runs", []):
                lines.append(f"INVALID ({key}): {problem}")
    s = res.get("scale")
    if s:
        c = s.get("cold", {})
        p = s.get("probe", {})
        cli = s.get("cli", {})
        lines.append("")
        sm = s.get("meta", {})
        lines.append(f"scale: {s['feeds']} feeds x {s['entries']} entries ({s['feeds'] * s['entries']:,} articles, {s.get('farm', {}).get('total_bytes', 0) / 1e6:.0f} MB of XML); "
                     f"CPU probe {sm.get('cpu_probe_ms_start')} ms at start, {sm.get('cpu_probe_ms_end')} ms at end (the 200-feed run's: {meta.get('cpu_probe_ms_start')})")
        stopped = f" (STOPPED after {c['stopped_after_s']:g} s)" if c.get("stopped_after_s") else ""
        lines.append(f"  cold pull: {fmt(c.get('wall_s'), 1)} s{stopped}, {c.get('articles')} articles, peak RSS {fmt(c.get('maxrss_mb'), 0)} MB "
                     f"(largest process; whole tree {fmt(c.get('tree_pss_mb'), 0)} MB PSS over {c.get('tree_procs')} processes), "
                     f"{fmt(c.get('entries_per_s'), 0)} entries/s (first quarter {fmt(c.get('early_entries_per_s'), 0)}, last quarter "
                     f"{fmt(c.get('late_entries_per_s'), 0)}; 200-feed run {fmt(s.get('base_entries_per_s'), 0)}); store {s.get('store_mb')} MB")
        if "query_default" in p:
            q, qa = p["query_default"], p["query_all"]
            lines.append(f"  query TERM (in-process, {q['n']} terms): p50 {q['p50_ms']} ms, p95 {q['p95_ms']} ms, "
                         f"{q.get('rows_mean')} rows on average (the farm's text is not the seed's story: few or none "
                         f"related); --verdict all --status all: p50 {qa['p50_ms']} ms, p95 {qa['p95_ms']} ms, "
                         f"{qa.get('rows_mean')} rows")
            if "query_related3" in p:
                q3 = p["query_related3"]
                lines.append(f"  query TERM with 3% of the matches made related: p50 {q3['p50_ms']} ms, p95 {q3['p95_ms']} ms, "
                             f"{q3['rows_mean']} rows on average")
        if cli.get("query"):
            lines.append(f"  CLI processes: query p50 {cli['query']['p50_ms']} ms p95 {cli['query']['p95_ms']} ms; "
                         f"query --verdict all p95 {cli['query_all']['p95_ms']} ms; stats {cli['stats']['p50_ms']} ms; "
                         f"show {cli['show']['p50_ms']} ms; bare start-up (--version) {cli['version']['p50_ms']} ms")
        if "stats" in p:
            lines.append(f"  in-process: stats {p['stats']['p50_ms']} ms, show {p['show']['p50_ms']} ms (p95 {p['show']['p95_ms']})")
        if "near_copy_novel" in p:
            n, st = p["near_copy_novel"], p["near_copy_stored"]
            lines.append(f"  near-copy check per article: novel p50 {n['check']['p50_ms']} ms, mean {n['check']['mean_ms']} ms, "
                         f"p95 {n['check']['p95_ms']} ms ({n['candidates_p50']} candidate articles p50); an article already stored "
                         f"(finds itself) p50 {st['check']['p50_ms']} ms; own shingles {n['features']['p50_ms']} ms")
        base_probe, probe = meta.get("cpu_probe_ms_start"), sm.get("cpu_probe_ms_start")
        if base_probe and probe and not 0.87 <= probe / base_probe <= 1.15:
            lines.append(f"  NOTE: the CPU probe took {probe} ms here and {base_probe} ms in the 200-feed run: the machine ran at "
                         f"another speed, so the entries/s drop between them measures it too (--scale takes both in one go)")
        for problem in c.get("problems", []):
            lines.append(f"  INVALID scale cold pull: {problem}")
        if "error" in p:
            lines.append(f"  probe FAILED: {p['error'][-300:]}")
        for name, part in cli.items():
            for failure in part.get("failed", []):
                lines.append(f"  CLI {name} FAILED: {failure}")
    checks = rep.get("checks", [])
    if checks:
        lines.append("")
        lines.append("targets:")
        for c in checks:
            mark = {True: "met", False: "MISSED", None: "(see value)"}[c["met"]]
            lines.append(f"  {c['target']:<52} {fmt(c['value'], 3):>10}  {c['limit']:<20} {mark}")
    return "\n".join(lines)


# ------------------------------------------------------------------ main


def byte_compile() -> None:
    """Byte-compile ingest/ and store/, as pip does for an installed package (reader's, in its venv).

    `make` installs seedwatch in editable mode, which leaves compiling to the first import. Where
    PYTHONDONTWRITEBYTECODE is set (it is on the machine the README figures come from), that cache is
    never written, and every timed process would compile the package again (~25 ms), a cost no installed
    copy pays.
    """
    import compileall

    for package in ("ingest", "store"):
        compileall.compile_dir(ROOT / package, quiet=1)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--feeds", type=int, default=200)
    ap.add_argument("--entries", type=int, default=50)
    ap.add_argument("--seed", type=int, default=1, help="the farm's random seed")
    ap.add_argument("--corpus", type=Path, default=None, help="the ECB+ file (default: $BENCH_CORPUS, else ../shared/eval/)")
    ap.add_argument("--runs", type=int, default=3, help="runs of each re-poll scenario")
    ap.add_argument("--cold-runs", type=int, default=3, help="at most this many cold pulls per tool ...")
    ap.add_argument("--cold-budget", type=float, default=900,
                    help="... each tool repeating while its cold runs so far plus one more fit in this many s")
    ap.add_argument("--runs-floor", type=int, default=3, help="floor runs, one before each of the first cold pulls")
    ap.add_argument("--reader-workers", type=int, default=4)
    ap.add_argument("--timeout", type=float, default=1200, help="kill one poll process after this many s")
    ap.add_argument("--daemon-seconds", type=float, default=60, help="0 to skip the daemon idle measurement")
    ap.add_argument("--no-peers", action="store_true", help="skip reader")
    ap.add_argument("--scale", action="store_true", help="also run the 2,000 x 50 scale run")
    ap.add_argument("--scale-only", action="store_true", help="only the scale run, merged into the last results")
    ap.add_argument("--scale-feeds", type=int, default=2000)
    ap.add_argument("--scale-timeout", type=float, default=5400, help="stop the scale cold pull after this many s")
    ap.add_argument("--scale-sample", type=float, default=20, help="s between progress samples of the scale pull")
    ap.add_argument("--out", type=Path, default=RESULTS / "latest.json")
    ap.add_argument("--workdir", type=Path, help="keep the stores here (default: a temporary folder, removed)")
    ap.add_argument("--report", type=Path, help="only print the table of this results JSON again")
    args = ap.parse_args(argv)
    if args.report:
        res = json.loads(args.report.read_text(encoding="utf-8"))
        print(render_table(res, build_report(res)))
        return 0
    args.corpus = args.corpus or find_corpus()

    for path, hint in ((SEEDWATCH, "run `make bench` to create .venv"), (MAIN_PY, "run `make bench` to create .venv"),
                       (SEED_FILE, "the founding seed is part of the repository"),
                       (args.corpus, "pass --corpus or set BENCH_CORPUS to ecbplus-dev.jsonl")):
        if not path.exists():
            print(f"missing {path}: {hint}", file=sys.stderr)
            return 2
    byte_compile()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="seedwatch-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    meta = {
        "started_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "cpus": os.cpu_count(),
        "loadavg_start": loadavg(),
        "cpu_probe_ms_start": cpu_probe(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "git_commit": _git_commit(),
        "git_modified": _git_modified(),
        "args": {k: str(v) for k, v in vars(args).items()},
    }
    res: dict = {}
    if args.scale_only and args.out.exists():
        res = json.loads(args.out.read_text(encoding="utf-8"))
        res.pop("report", None)
        prev = res.get("report_cold_rate")
        if prev:
            res.setdefault("scale", {})["base_entries_per_s"] = prev
    try:
        if not args.scale_only:
            res = {"meta": meta}
            res.update(run_main(args, work))
            rd = [r for r in res["scenarios"]["cold"]["reader"] if r.get("reader_version")]
            res["reader_version"] = rd[0]["reader_version"] if rd else None
        if args.scale or args.scale_only:
            base = (res.get("scale") or {}).get("base_entries_per_s")
            res["scale"] = run_scale(args, work)
            res["scale"]["meta"] = {**meta, "loadavg_end": loadavg(), "cpu_probe_ms_end": cpu_probe()}
            if base:
                res["scale"]["base_entries_per_s"] = base
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    res.setdefault("meta", meta)["loadavg_end"] = loadavg()
    if not args.scale_only:
        res["meta"]["cpu_probe_ms_end"] = cpu_probe()
    res["meta"]["elapsed_s"] = round(time.monotonic() - started, 1)
    rep = build_report(res)
    if "cold" in rep and rep["cold"].get("seedwatch_new"):
        res["report_cold_rate"] = round(rep["cold"]["seedwatch_new"] / rep["cold"]["seedwatch_s"]["median"], 1)
    res["report"] = rep
    table = render_table(res, rep)
    res["table"] = table
    args.out.write_text(json.dumps(res, indent=1), encoding="utf-8")
    print(table)
    print(f"\nJSON: {args.out}  ({res['meta']['elapsed_s']:.0f} s)")
    return 0


def _git_commit() -> str | None:
    try:
        return subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=10).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def _git_modified() -> list[str]:
    """Product files changed but not committed: the numbers are of the work tree, not of the commit."""
    try:
        out = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--", "ingest", "store", "pyproject.toml"],
                             capture_output=True, text=True, timeout=10).stdout
        return [line[3:] for line in out.splitlines() if line.strip()]
    except (OSError, subprocess.SubprocessError):
        return []


if __name__ == "__main__":
    sys.exit(main())
