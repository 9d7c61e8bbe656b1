"""Did a run find the optimum's *function*? Optimum hits by isomorphism class, from a suite's runs.csv.

NAS-Bench-201 trained every one of the 15,625 strings separately, so the strings of one isomorphism
class (the same network function) carry different accuracies: training noise. The constrained
optimum is one string of its class; a run that ends on a twin of it found the best network but
"missed" the optimum by that noise. This script reports, per searcher and query budget, the exact
hit rate next to the class hit rate, and the size of the optimum's class among feasible strings.

    python benchmarks/optimum_class.py [--suite main]     # writes ROOT/SUITE/optimum_class.{md,csv}
"""

from __future__ import annotations

import argparse
import csv
from collections import defaultdict
from pathlib import Path

import numpy as np

from hwnas.atomic import atomic_write_text
from hwnas.bench.report import RUNS_CSV, read_rows
from hwnas.bench.suite import SUITE_SETTINGS
from hwnas.devices.registry import DeviceRegistry
from hwnas.search.problem import build_problem
from hwnas.space.nb201 import NB201Space
from hwnas.tables.catalog import Catalog

HERE = Path(__file__).resolve().parent


def optimum_classes() -> dict[str, dict]:
    """Setting id -> the optimum string, its class representative, and the feasible twins."""
    space = NB201Space()
    classes = space.canonical_classes()
    registry, catalog = DeviceRegistry(), Catalog()
    out = {}
    for setting in SUITE_SETTINGS:
        problem = build_problem(registry.get(setting.device), setting.dataset, setting.budget_ms, catalog)
        truth = problem.ground_truth()
        if truth is None:
            continue
        best = truth.optimum()["arch_str"]
        rep = space.canonical(space.parse(best))
        feasible = {a for a, ok in zip(truth.arch_strs, truth.feasible, strict=True) if ok}
        twins = [space.format(a) for a in classes[rep] if space.format(a) in feasible]
        i = truth.optimum_index
        accuracy = np.sort(truth.accuracy[truth.feasible])[::-1]
        # Exact twins (same pruned network, same ops on the six edges: the same computation) measured
        # separately; on noisy tables the optimum can be feasible only because its own run was fast.
        ops = sorted(space.parse(best).ops)
        index = {a: j for j, a in enumerate(truth.arch_strs)}
        exact = [index[space.format(a)] for a in classes[rep] if sorted(a.ops) == ops and space.format(a) != best]
        twin_ms = float(np.median(truth.latency_ms[exact])) if exact else None
        out[setting.id] = {
            "optimum": best,
            "representative": rep,
            "feasible_twins": len(twins),
            "accuracy": float(accuracy[0]),
            "gap_to_second": float(accuracy[0] - accuracy[1]),
            "within_0.1": int(np.sum(accuracy >= accuracy[0] - 0.1)),
            "latency_over_budget": float(truth.latency_ms[i] / truth.budget_ms),
            "exact_twins_latency_over_budget": None if twin_ms is None else twin_ms / truth.budget_ms,
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", default="main")
    parser.add_argument("--root", type=Path, default=HERE / "results")
    args = parser.parse_args()
    folder = args.root / args.suite
    rows = read_rows(folder / RUNS_CSV)
    space = NB201Space()
    classes = optimum_classes()
    per_key: dict[tuple[str, int], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    table = []
    for row in rows.values():
        info = classes.get(row["setting"])
        if info is None or not row.get("best_arch") or row["status"] not in ("finished", "exhausted"):
            continue
        queries = int(row["queries"])
        exact = row["best_arch"] == info["optimum"]
        same_class = space.canonical(space.parse(row["best_arch"])) == info["representative"]
        stats = per_key[(row["label"], queries)]
        stats["exact"].append(float(exact))
        stats["class"].append(float(same_class))
        table.append(
            {
                "setting": row["setting"],
                "label": row["label"],
                "seed": row["seed"],
                "queries": queries,
                "exact_hit": exact,
                "class_hit": same_class,
            }
        )
    with open(folder / "optimum_class.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(table[0]))
        writer.writeheader()
        writer.writerows(sorted(table, key=lambda r: (r["label"], r["queries"], r["setting"], int(r["seed"]))))
    lines = [
        f"# Optimum hits by string and by isomorphism class — suite `{args.suite}`",
        "",
        "Written by `python benchmarks/optimum_class.py`. A class hit means the run's best feasible string computes "
        "the same function as the constrained optimum (NAS-Bench-201's isomorphism: `skip_connect` is the identity, "
        "`none` is zero); the exact string among those twins differs only by its training run.",
        "",
        "| searcher | queries | exact optimum hit rate | class hit rate | runs |",
        "|---|---|---|---|---|",
    ]
    for (label, queries), stats in sorted(per_key.items()):
        lines.append(
            f"| {label} | {queries} | {np.mean(stats['exact']):.2f} | {np.mean(stats['class']):.2f} | "
            f"{len(stats['exact'])} |"
        )
    lines += [
        "",
        "How sharp each optimum is: the accuracy gap to the second-best feasible string, how many feasible strings "
        "are within 0.1 points of it, its latency as a share of the budget, and the median latency of its exact "
        "twins (the same computation measured again: isomorphic, same ops on the six edges) as a share of the "
        "budget. A twin share above 1 means the optimum is feasible only because its own measurement came out "
        "fast; no latency model can tell that in advance.",
        "",
        "| setting | optimum | accuracy | gap to 2nd | feasible within 0.1 | latency / budget "
        "| twins' latency / budget | feasible strings in its class |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for setting_id, info in classes.items():
        twins = info["exact_twins_latency_over_budget"]
        lines.append(
            f"| {setting_id} | `{info['optimum']}` | {info['accuracy']:.2f} | {info['gap_to_second']:.2f} | "
            f"{info['within_0.1']} | {info['latency_over_budget']:.3f} | {'-' if twins is None else f'{twins:.3f}'} | "
            f"{info['feasible_twins']} |"
        )
    atomic_write_text(folder / "optimum_class.md", "\n".join(lines) + "\n")
    print(f"wrote {folder / 'optimum_class.md'}")


if __name__ == "__main__":
    main()
