"""Low-fidelity search benchmark (OptiProxy-NAS Table 4 analogue), resumable:

    python benchmarks/low_fidelity/run.py [--seeds 0-9] [--searchers rea]

For each setting and seed: a full-fidelity search on 200-epoch accuracy (200 queries) and a
low-fidelity search on 12-epoch accuracy (1,000 queries) whose top-k feasible candidates are
retrained for 200 epochs. Every query is charged its training seconds (NAS-Bench-201's 12-epoch
time, x 200/12 for a full run). Writes results.md and results.json next to this file; the run
directories go to runs/ (not committed).
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from hwnas.atomic import atomic_write_json, atomic_write_text
from hwnas.bench.suite import parse_int_list
from hwnas.devices.registry import DeviceRegistry
from hwnas.search.low_fidelity import (
    FULL_EPOCHS,
    LOW_EPOCHS,
    affordable,
    fidelity_sources,
    full_fidelity_points,
    low_fidelity_points,
)
from hwnas.search.problem import build_problem
from hwnas.search.runner import run_search
from hwnas.space.nb201 import NB201Space
from hwnas.tables.catalog import Catalog

HERE = Path(__file__).resolve().parent
# (device, budget_ms); a budget above the slowest network is the unconstrained search.
SETTINGS = (("raspi4", 1000.0), ("raspi4", 16.0), ("pixel3", 6.5), ("fpga", 2.9))
FULL_QUERIES = 200
LOW_QUERIES = 1000
FULL_CHECKPOINTS = tuple(range(5, FULL_QUERIES + 1, 5))
LOW_CHECKPOINTS = tuple(range(10, LOW_QUERIES + 1, 10))
TOP_K = (5, 10)
# Total training budgets, in units of one average 200-epoch training.
BUDGETS_FULL_TRAININGS = (10, 25, 50, 100, 200)


def setting_id(device: str, budget_ms: float) -> str:
    return f"{device}-unconstrained" if budget_ms >= 1000 else f"{device}-{budget_ms:g}ms"


def mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), statistics.pstdev(values) if len(values) > 1 else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0-9")
    parser.add_argument("--searchers", default="rea")
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()
    seeds = parse_int_list(args.seeds, "--seeds")
    searchers = [s.strip() for s in args.searchers.split(",") if s.strip()]
    catalog = Catalog(args.data_dir)
    space = NB201Space()
    low, full = fidelity_sources(catalog, space)
    mean_full_s = statistics.fmean(full.cost_s(a) for a in full.values)
    results: dict = {
        "full_training_mean_s": mean_full_s,
        "low_epochs": LOW_EPOCHS,
        "seeds": seeds,
        "full_epochs": FULL_EPOCHS,
        "settings": {},
    }
    for device_name, budget_ms in SETTINGS:
        device = DeviceRegistry().get(device_name)
        sid = setting_id(device_name, budget_ms)
        problems = {
            "full": build_problem(device, "cifar10", budget_ms, catalog, accuracy=full),
            "low": build_problem(device, "cifar10", budget_ms, catalog, accuracy=low),
        }
        truth = problems["full"].ground_truth()
        entry = {"optimum": truth.optimum()["accuracy"] if truth else None, "searchers": {}}
        for searcher in searchers:
            curves: dict[str, list] = {"full": [], **{f"low_top{k}": [] for k in TOP_K}}
            for seed in seeds:
                runs = HERE / "runs" / sid / searcher
                full_run = run_search(problems["full"], searcher, seed, FULL_QUERIES, runs / f"full-s{seed}")
                low_run = run_search(problems["low"], searcher, seed, LOW_QUERIES, runs / f"low-s{seed}")
                curves["full"].append(full_fidelity_points(full_run.trials, FULL_CHECKPOINTS))
                for k in TOP_K:
                    curves[f"low_top{k}"].append(low_fidelity_points(low_run.trials, full, k, LOW_CHECKPOINTS))
            entry["searchers"][searcher] = summarize(curves, mean_full_s)
        results["settings"][sid] = entry
        print(f"{sid}: done", flush=True)
    atomic_write_json(HERE / "results.json", results)
    atomic_write_text(HERE / "results.md", report(results))


def summarize(curves: dict[str, list], mean_full_s: float) -> dict:
    """Per method and training budget: mean/std over seeds of the accuracy reached and queries used,
    and the cost at which the method first matches full fidelity's 200-query mean."""
    out: dict = {"budgets": {}, "cost_to_match_full200": {}}
    for budget in BUDGETS_FULL_TRAININGS:
        row = {}
        for method, runs in curves.items():
            points = [affordable(p, budget * mean_full_s) for p in runs]
            accs = [p.accuracy for p in points if p is not None and p.accuracy is not None]
            if len(accs) == len(runs):
                acc_mean, acc_std = mean_std(accs)
                row[method] = {
                    "accuracy_mean": acc_mean,
                    "accuracy_std": acc_std,
                    "queries_mean": statistics.fmean(p.queries for p in points),
                }
        out["budgets"][str(budget)] = row
    target = statistics.fmean(runs[-1].accuracy for runs in curves["full"])
    full_cost = statistics.fmean(runs[-1].cost_s for runs in curves["full"])
    out["full200_mean_accuracy"] = target
    out["full200_mean_cost_s"] = full_cost
    for method, runs in curves.items():
        # smallest training budget (on a fine grid) at which the mean over seeds reaches the target
        grid = [mean_full_s * step / 4 for step in range(1, 4 * 400 + 1)]
        reached = None
        for cost in grid:
            points = [affordable(p, cost) for p in runs]
            complete = all(p is not None and p.accuracy is not None for p in points)
            if complete and statistics.fmean(p.accuracy for p in points) >= target - 1e-9:
                reached = cost
                break
        out["cost_to_match_full200"][method] = reached
    return out


def report(results: dict) -> str:
    unit = results["full_training_mean_s"]
    lines = [
        "# Low-fidelity search: accuracy reached vs total training cost",
        "",
        f"Written by `python benchmarks/low_fidelity/run.py`. cifar10 (NAS-Bench-201 `c10valid`), "
        f"{len(results['seeds'])} seeds. "
        f"Cost = training seconds from NAS-Bench-201 (`c10valid_train_seconds_12`; a {results['full_epochs']}-epoch "
        f"run costs {results['full_epochs']}/{results['low_epochs']} of the {results['low_epochs']}-epoch one). "
        f"Budgets are in units of one average {results['full_epochs']}-epoch training ({unit:,.0f} s).",
        "",
        f"- **full**: search on {results['full_epochs']}-epoch validation accuracy, every query a full training.",
        f"- **low_topK**: search on {results['low_epochs']}-epoch validation accuracy (up to {LOW_QUERIES} queries), "
        f"then train the K best feasible candidates for {results['full_epochs']} epochs and keep the best; "
        "a budget buys the longest search whose search + retraining cost fits.",
        "",
        "Accuracy = 200-epoch validation accuracy of the returned architecture (mean ± std over seeds); "
        "q = queries used (mean).",
        "",
    ]
    for sid, entry in results["settings"].items():
        for searcher, summary in entry["searchers"].items():
            lines += [f"## {sid} — {searcher} (optimum {entry['optimum']:.2f})", ""]
            methods = list(summary["cost_to_match_full200"])
            lines.append("| budget (full trainings) | " + " | ".join(methods) + " |")
            lines.append("|---|" + "---|" * len(methods))
            for budget, row in summary["budgets"].items():
                cells = []
                for m in methods:
                    r = row.get(m)
                    cells.append(
                        f"{r['accuracy_mean']:.2f} ± {r['accuracy_std']:.2f} (q {r['queries_mean']:.0f})" if r else "-"
                    )
                lines.append(f"| {budget} | " + " | ".join(cells) + " |")
            target = summary["full200_mean_accuracy"]
            full_cost = summary["full200_mean_cost_s"]
            lines += [
                "",
                f"Training cost to reach full fidelity's 200-query mean ({target:.2f}, which costs "
                f"{full_cost / unit:.0f} full trainings = {full_cost / 3600:.0f} h):",
                "",
            ]
            for m, cost in summary["cost_to_match_full200"].items():
                text = f"{cost / unit:.1f} full trainings ({cost / 3600:.0f} h)" if cost else "not reached"
                lines.append(f"- {m}: {text}")
            lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
