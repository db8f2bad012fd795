"""bench/run.py's report: the cold pull's CPU lines say what the run measured, and nothing for a run without them."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"


@pytest.fixture(scope="module")
def run():
    sys.path.insert(0, str(BENCH))
    try:
        import run as bench_run
    finally:
        sys.path.remove(str(BENCH))
    return bench_run


def _runs(walls: list[float], cpus: list[float], trees: list[float]) -> list[dict]:
    return [{"wall_s": w, "cpu_s": c, "tree_cpu_s": t, "maxrss_mb": 100.0, "tree_pss_mb": 150.0, "new": 10_000}
            for w, c, t in zip(walls, cpus, trees)]


def test_the_cold_pull_cpu_is_split_and_bounds_the_wall_time(run):
    res = {
        "meta": {"cpus": 2},
        "scenarios": {"cold": {
            "seedwatch": _runs([44.7, 50.0, 40.0], [37.7, 40.0, 30.0], [78.3, 90.0, 70.0]),
            "reader": [{"wall_s": 62.0, "cpu_s": 56.2, "maxrss_mb": 54.0, "update_feeds_s": 26.7, "update_search_s": 8.6, "new": 10_000}],
        }},
        "floor": {"median_s": 8.4, "serial_s": 15.6, "procs": 2},
    }
    rep = run.build_report(res)
    lines = run.cpu_lines(rep["cold"], rep.get("floor"), 2)
    assert lines[0] == ("cold pull CPU, all processes (sampled): seedwatch 78.3 s in 44.7 s wall = 1.75 of 2 cores busy "
                        "(main process, i.e. fetch loop and store thread, 37.7 s; parser processes 40.6 s)")
    assert lines[1] == "  against: reader 56.2 s (its whole process, update_search included); feedparser alone 15.6 s"
    assert lines[2] == "  with every core busy, 78.3 CPU s take at least 39.1 s on 2 cores"


def test_a_run_recorded_without_tree_cpu_gets_no_cpu_lines(run):
    runs = _runs([44.7], [37.7], [0.0])
    del runs[0]["tree_cpu_s"]
    rep = run.build_report({"meta": {"cpus": 2}, "scenarios": {"cold": {"seedwatch": runs, "reader": []}}})
    assert run.cpu_lines(rep["cold"], None, 2) == []
