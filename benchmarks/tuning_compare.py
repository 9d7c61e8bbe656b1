"""OptiProxy variants tried while tuning, next to regularized evolution on the same seeds.

Reads a tuning suite's runs.csv (`hwnas bench --suite tuning --seeds 0-2 --searchers optiproxy
--param optiproxy.local_top_k=5 ...`) and the REA rows of the main suite, keeps the seeds the
tuning suite ran, and writes ROOT/SUITE/compare.{md,csv}: per variant and query budget, the mean
best feasible accuracy, the optimum hit rate, the median rank of the best feasible arch among all
feasible table archs, and in how many settings the variant's mean is at or above REA's.

    python benchmarks/tuning_compare.py [--suite tuning] [--reference main]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from hwnas.atomic import atomic_write_text

RESULTS = Path(__file__).resolve().parent / "results"


def compare(tuning: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    """`reference`'s REA rows on `tuning`'s seeds join the table, unless `tuning` ran its own REA."""
    seeds = sorted(tuning.seed.unique())
    if (tuning.searcher == "rea").any():
        runs, rea_label = tuning, "rea"
    else:
        rea_label = "rea (main suite, same seeds)"
        rea = reference[(reference.searcher == "rea") & reference.seed.isin(seeds)]
        runs = pd.concat([tuning, rea.assign(label=rea_label)])
    rows = []
    for queries, group in runs.groupby("queries"):
        per_setting = group.pivot_table(index="setting", columns="label", values="best_accuracy", aggfunc="mean")
        rea_mean = per_setting.get(rea_label)
        for label, runs_of in group.groupby("label"):
            at_or_above = None if rea_mean is None else int((per_setting[label] >= rea_mean - 1e-9).sum())
            rows.append(
                {
                    "label": label,
                    "queries": int(queries),
                    "seeds": len(seeds),
                    "settings": int(per_setting[label].notna().sum()),
                    "mean_best_accuracy": round(per_setting[label].mean(), 3),
                    "hit_rate": round(runs_of.groupby("setting").hit_optimum.mean().mean(), 3),
                    "median_best_rank": round(runs_of.groupby("setting").best_rank.median().mean(), 1),
                    "settings_at_or_above_rea": at_or_above,
                }
            )
    return pd.DataFrame(rows).sort_values(["queries", "label"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", default="tuning")
    parser.add_argument("--reference", default="main")
    args = parser.parse_args()
    tuning = pd.read_csv(RESULTS / args.suite / "runs.csv")
    reference = pd.read_csv(RESULTS / args.reference / "runs.csv")
    table = compare(tuning, reference)
    out = RESULTS / args.suite
    atomic_write_text(out / "compare.csv", table.to_csv(index=False))
    header = (
        f"# `{args.suite}`: variants against regularized evolution\n\n"
        f"Written by `benchmarks/tuning_compare.py` from `{args.suite}/runs.csv`"
        f" (REA: the suite's own runs, else the REA rows of `{args.reference}/runs.csv` on the same"
        " seeds). Accuracy: mean over seeds,"
        " then over the 18 settings. Hit rate: share of seeds ending on the constrained optimum,"
        " mean over settings. Rank: of the best feasible arch among all feasible table archs"
        " (1 = optimum), median over seeds, mean over settings.\n\n"
    )
    atomic_write_text(out / "compare.md", header + table.to_markdown(index=False) + "\n")
    print(table.to_string(index=False))


if __name__ == "__main__":
    main()
