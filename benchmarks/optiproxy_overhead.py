"""OptiProxy's own cost: searcher compute per query and peak memory over 200-query runs.

Searcher time is what the runner charges to asks and tells (proxy fitting, relaxed search,
selection), not the table lookups. Each search runs in a fresh process, as `hwnas search` does,
so its peak resident set is that search's own (tables of its setting included); it is reported
both in total and above the resident set just before the search started (tables loaded). In one
long-lived process the peaks would add up glibc's freed-but-kept heap of earlier searches.

    python benchmarks/optiproxy_overhead.py                 # 200 queries, seeds 0-2, two settings
    python benchmarks/optiproxy_overhead.py --queries 100 --seeds 0
"""

from __future__ import annotations

import argparse
import csv
import io
import multiprocessing
import os
import platform
import resource
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import psutil
import torch

from hwnas.atomic import atomic_write_text
from hwnas.bench.suite import SUITE_SETTINGS, parse_int_list
from hwnas.devices.registry import DeviceRegistry
from hwnas.search.problem import build_problem
from hwnas.search.runner import run_search
from hwnas.tables.catalog import Catalog

RESULTS = Path(__file__).parent / "results"
DEFAULT_SETTINGS = ("raspi4-16ms", "pi5-onnx-4ms")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux reports KiB


def measure(setting_id: str, seed: int, queries: int) -> dict:
    setting = next(s for s in SUITE_SETTINGS if s.id == setting_id)
    problem = build_problem(DeviceRegistry().get(setting.device), setting.dataset, setting.budget_ms, Catalog())
    problem.ground_truth()  # load everything the summary needs before measuring
    rss_before_mb = psutil.Process().memory_info().rss / 2**20
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        result = run_search(problem, "optiproxy", seed, queries, Path(tmp) / "run", fsync=False)
    wall_s = time.perf_counter() - start
    trials = result.trials
    steps = sorted({t.step for t in trials})
    per_step = [sum(t.searcher_time_s for t in trials if t.step == s) for s in steps]
    return {
        "setting": setting_id,
        "seed": seed,
        "queries": result.summary["queries_used"],
        "searcher_time_s": round(result.summary["searcher_time_s"], 3),
        "searcher_time_per_query_s": round(result.summary["searcher_time_per_query_s"], 4),
        "slowest_step_s": round(max(per_step), 3),
        "last_step_s": round(per_step[-1], 3),
        "run_wall_s": round(wall_s, 2),
        "rss_before_mb": round(rss_before_mb, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "peak_rss_above_start_mb": round(peak_rss_mb() - rss_before_mb, 1),
        "load_avg_1min_before": round(load_before, 2),
        "load_avg_1min_after": round(os.getloadavg()[0], 2),
        "best_accuracy": result.summary["best"]["accuracy"] if result.summary["best"] else None,
        "hit_optimum": result.summary["hit_optimum"],
    }


def write_report(rows: list[dict], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    table = io.StringIO(newline="")
    writer = csv.DictWriter(table, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(out / "optiproxy_overhead.csv", table.getvalue())
    mean_per_query = sum(r["searcher_time_per_query_s"] for r in rows) / len(rows)
    worst_peak = max(r["peak_rss_mb"] for r in rows)
    lines = [
        "# OptiProxy searcher overhead",
        "",
        f"`python benchmarks/optiproxy_overhead.py` on {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, torch {torch.__version__}, one fresh process per search, torch threads set to 1 "
        "by the searcher. "
        "The machine is shared: the 1-minute load average before and after each run is listed.",
        "",
        f"**Mean searcher time per query: {mean_per_query:.3f} s** (target <= 0.5 s). "
        f"**Peak resident memory: {worst_peak:.0f} MB** for the worst search's process, tables included "
        "(target <= 1 GB).",
        "",
        "| " + " | ".join(rows[0]) + " |",
        "|" + "---|" * len(rows[0]),
    ]
    lines += ["| " + " | ".join(str(v) for v in r.values()) + " |" for r in rows]
    atomic_write_text(out / "optiproxy_overhead.md", "\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--settings", default=",".join(DEFAULT_SETTINGS))
    parser.add_argument("--seeds", default="0-2")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    rows = []
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=spawn, max_tasks_per_child=1) as pool:
        for setting_id in args.settings.split(","):
            for seed in parse_int_list(args.seeds, "--seeds"):
                row = pool.submit(measure, setting_id, seed, args.queries).result()
                print(row, flush=True)
                rows.append(row)
    write_report(rows, args.out)


if __name__ == "__main__":
    main()
