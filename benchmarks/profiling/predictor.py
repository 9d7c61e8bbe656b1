"""Latency predictors trained on 500 networks of each table, judged on all the others.

    nice -n 10 python benchmarks/profiling/predictor.py            # predictor.csv, predictor_curve.csv
    python benchmarks/profiling/report.py                          # results.md

For each of the seven tables (HW-NAS-Bench raspi4, pixel3, eyeriss, fpga on cifar10;
HW-NAS-Bench-360 pi5/onnx and pixel/litert on cifar100; this machine's local-ort on cifar10)
and each model (`additive`, `hybrid`, the OptiProxy `gcn` latency head, `auto`), fit on 500
seeded random networks and score the rest: share within +-10%, RMSE, Spearman. A learning
curve (more training networks) and the twin ceiling (`predictor_twins.csv`: on tables that
measured every string, how often a string's latency is within +-10% of the median of its exact
twins, i.e. of the same computation measured again) show which tables are limited by the
measurements themselves.
Needs the reference data (`../shared/data`) and `latency_tables/local-ort.parquet`.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from hwnas.devices.registry import DeviceRegistry
from hwnas.predictor.models import MODELS
from hwnas.predictor.predictor import fit_predictor, latency_data
from hwnas.space.nb201 import NB201Space
from hwnas.tables.catalog import Catalog

HERE = Path(__file__).resolve().parent
TABLES = (
    ("raspi4", "cifar10"),
    ("pixel3", "cifar10"),
    ("eyeriss", "cifar10"),
    ("fpga", "cifar10"),
    ("pi5-onnx", "cifar100"),
    ("pixel-litert", "cifar100"),
    ("local-ort", "cifar10"),
)
CURVE_SIZES = (500, 1000, 2000, 4000)


def run(seeds: list[int], models: list[str], curve_model: str, gcn_seeds: list[int]) -> None:
    catalog, registry = Catalog(), DeviceRegistry()
    rows, curve = [], []
    for device, dataset in TABLES:
        data = latency_data(registry.get(device), dataset, catalog)
        for model in models:
            for seed in gcn_seeds if model == "gcn" else seeds:
                start = time.perf_counter()
                fitted = fit_predictor(data, model, 500, seed)
                config = fitted.model.config()
                rows.append({
                    "device": device, "dataset": dataset, "table": data.table, "metric": data.metric,
                    "networks": len(data.arch_strs), "model": model,
                    "chosen": config["chosen"]["model"] if config.get("chosen") else model, "seed": seed,
                    **fitted.metrics["held_out"], "fit_seconds": round(time.perf_counter() - start, 2),
                })  # fmt: skip
                print(rows[-1], flush=True)
        for size in CURVE_SIZES:
            if size < len(data.arch_strs) - 500:
                held = fit_predictor(data, curve_model, size, seeds[0]).metrics["held_out"]
                curve.append({"device": device, "train_size": size, "model": curve_model, **held})
    pd.DataFrame(rows).to_csv(HERE / "predictor.csv", index=False, float_format="%.5g")
    pd.DataFrame(curve).to_csv(HERE / "predictor_curve.csv", index=False, float_format="%.5g")


def twin_ceiling() -> pd.DataFrame:
    """Per full table: share of strings within +-10% of the median latency of their exact twins.

    Exact twins are isomorphic (the same pruned network) *and* have the same multiset of ops on
    their six edges (the same unpruned network: NB201 computes ops whose result is multiplied by
    a `none` edge, and every op of a cell runs at the same shape). They run the same computation,
    so their latency differences are measurement noise: about the best share any predictor reaches.
    """
    catalog, registry, space = Catalog(), DeviceRegistry(), NB201Space()
    rows = []
    for device, dataset in TABLES:
        data = latency_data(registry.get(device), dataset, catalog)
        if data.collapsed:
            continue  # one value per network: no twins measured
        series = pd.Series(data.latency_ms, index=data.arch_strs)
        archs = [space.parse(a) for a in series.index]
        keys = [space.format(space.canonical(a)) + "/" + ",".join(sorted(a.ops)) for a in archs]
        within, strings = 0, 0
        for _, group in series.groupby(keys):
            values = group.to_numpy()
            for i in range(len(values) if len(values) > 1 else 0):
                others = np.median(np.delete(values, i))
                within += abs(values[i] / others - 1) <= 0.10
                strings += 1
        rows.append({"device": device, "dataset": dataset, "strings_with_twins": strings,
                     "within_10_of_twins": round(within / strings, 4)})  # fmt: skip
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--models", nargs="+", choices=MODELS, default=["additive", "hybrid", "gcn", "auto"])
    parser.add_argument("--gcn-seeds", type=int, nargs="+", default=[0], help="the GCN takes minutes per fit")
    parser.add_argument("--curve-model", choices=MODELS, default="hybrid")
    parser.add_argument("--twins-only", action="store_true", help="only write predictor_twins.csv")
    args = parser.parse_args()
    twins = twin_ceiling()
    twins.to_csv(HERE / "predictor_twins.csv", index=False)
    print(twins.to_string(index=False))
    if not args.twins_only:
        run(args.seeds, args.models, args.curve_model, args.gcn_seeds)


if __name__ == "__main__":
    main()
