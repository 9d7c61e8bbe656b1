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


def _seed_text(seeds: list[int]) -> str:
    if len(seeds) > 1 and seeds == list(range(seeds[0], seeds[-1] + 1)):
        return f"{seeds[0]}-{seeds[-1]}"
    return ",".join(map(str, seeds))


def _row(label: str, queries: int, runs: pd.DataFrame, rea: pd.DataFrame) -> dict:
    """One variant on its own seeds; `rea` holds REA's runs on exactly those seeds (may be none)."""
    per_setting = runs.groupby("setting").best_accuracy.mean()
    rea_mean = rea.groupby("setting").best_accuracy.mean().reindex(per_setting.index)
    at_or_above = None if rea.empty else int((per_setting >= rea_mean - 1e-9).sum())
    return {
        "label": label,
        "queries": int(queries),
        "seeds": _seed_text(sorted(int(x) for x in runs.seed.unique())),
        "settings": int(per_setting.notna().sum()),
        "mean_best_accuracy": round(per_setting.mean(), 3),
        "hit_rate": round(runs.groupby("setting").hit_optimum.mean().mean(), 3),
        "median_best_rank": round(runs.groupby("setting").best_rank.median().mean(), 1),
        "settings_at_or_above_rea": at_or_above,
    }


def compare(tuning: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    """Each variant on its seeds next to REA on the same seeds (the suite's own REA, else `reference`'s)."""
    own_rea = (tuning.searcher == "rea").any()
    rea_pool = tuning[tuning.searcher == "rea"] if own_rea else reference[reference.searcher == "rea"]
    rows, baselines = [], {}
    for (label, queries), runs in tuning.groupby(["label", "queries"]):
        seeds = sorted(int(x) for x in runs.seed.unique())
        rea = rea_pool[(rea_pool.queries == queries) & rea_pool.seed.isin(seeds)]
        if label != "rea":
            rows.append(_row(label, queries, runs, rea))
        name = "rea" if own_rea else f"rea (main suite, seeds {_seed_text(seeds)})"
        baselines[(name, queries)] = _row(name, queries, rea, rea)
    rows += baselines.values()
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
        " seeds as the variant). Accuracy: mean over seeds,"
        " then over the 18 settings. Hit rate: share of seeds ending on the constrained optimum,"
        " mean over settings. Rank: of the best feasible arch among all feasible table archs"
        " (1 = optimum), median over seeds, mean over settings.\n\n"
    )
    atomic_write_text(out / "compare.md", header + table.to_markdown(index=False) + "\n")
    print(table.to_string(index=False))


if __name__ == "__main__":
    main()
