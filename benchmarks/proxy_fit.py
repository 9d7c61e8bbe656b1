"""Proxy fitting: held-out rank correlation and fit time of the paper's settings vs hwnas's defaults.

Fitting the proxy is most of OptiProxy's per-query overhead, so the defaults trade the paper's
batches of 7 for larger batches and fewer epochs where this measurement shows no loss. Also
compares the accuracy transforms (normal scores of ranks vs plain standardization).

    python benchmarks/proxy_fit.py                      # writes benchmarks/results/proxy_fit.{md,csv}
"""

from __future__ import annotations

import argparse
import csv
import platform
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch

from hwnas.atomic import atomic_write_text
from hwnas.devices.registry import DeviceRegistry
from hwnas.proxy import Proxy, ProxyConfig
from hwnas.search.problem import build_problem
from hwnas.tables.catalog import Catalog

HERE = Path(__file__).resolve().parent
PAPER = ProxyConfig(batch_size=7, lr=1e-3, model_epochs=100, lr_step=10)
CONFIGS = {
    "paper (batch 7, 100 epochs, lr 1e-3)": PAPER,
    "hwnas default (batch 32, 50 epochs, lr 3e-3)": ProxyConfig(),
    "hwnas default, standardized accuracy": replace(ProxyConfig(), accuracy_transform="standardize"),
    "full batch, 300 epochs, lr 1e-2": ProxyConfig(batch_size=0, lr=1e-2, model_epochs=300, lr_step=30),
}
SETTINGS = (("raspi4", "cifar10"), ("fpga", "cifar10"), ("pi5-onnx", "cifar100"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", default="100,200", help="Training set sizes.")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--test", type=int, default=1000, help="Held-out architectures.")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args()
    torch.set_num_threads(1)
    sizes = [int(x) for x in args.train.split(",")]
    registry, catalog = DeviceRegistry(), Catalog()
    rows = []
    for device, dataset in SETTINGS:
        problem = build_problem(registry.get(device), dataset, 1e9, catalog)
        space = problem.space
        for seed in range(args.seeds):
            archs = space.sample_distinct(np.random.default_rng(seed), max(sizes) + args.test)
            acc = np.array([problem.accuracy.accuracy(a) for a in archs])
            lat = np.array([problem.latency.latency_ms(a) for a in archs])
            test = slice(max(sizes), None)
            for n in sizes:
                for label, config in CONFIGS.items():
                    start = time.perf_counter()
                    proxy = Proxy(space, config, seed=seed).fit(archs[:n], acc[:n], lat[:n])
                    fit_s = time.perf_counter() - start
                    corr = proxy.rank_correlation(archs[test], acc[test], lat[test])
                    rows.append(
                        {
                            "device": device,
                            "dataset": dataset,
                            "seed": seed,
                            "train": n,
                            "config": label,
                            "fit_s": fit_s,
                            "accuracy_spearman": corr["accuracy"]["spearman"],
                            "latency_spearman": corr["latency_ms"]["spearman"],
                        }
                    )
                    print(rows[-1], flush=True)
    write(args.out, rows, sizes)


def write(out: Path, rows: list[dict], sizes: list[int]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "proxy_fit.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    lines = [
        "# Proxy fitting: paper settings vs hwnas defaults",
        "",
        f"`python benchmarks/proxy_fit.py` on {platform.machine()}, torch 1 thread, {len(rows)} fits. "
        "Random training architectures, 1,000 other random architectures held out; Spearman of the "
        "proxy's predictions against the table values. Settings: "
        + ", ".join(f"{d}/{ds}" for d, ds in SETTINGS)
        + ". The machine was shared with a benchmark run, so fit times are relative.",
        "",
        "| config | train archs | accuracy Spearman | latency Spearman | fit seconds |",
        "|---|---|---|---|---|",
    ]
    for label in CONFIGS:
        for n in sizes:
            sel = [r for r in rows if r["config"] == label and r["train"] == n]
            lines.append(
                f"| {label} | {n} | {np.mean([r['accuracy_spearman'] for r in sel]):.3f} | "
                f"{np.mean([r['latency_spearman'] for r in sel]):.3f} | {np.mean([r['fit_s'] for r in sel]):.2f} |"
            )
    lines += ["", "Configs (every other value is the ProxyConfig default):", ""]
    defaults = asdict(ProxyConfig())
    for label, config in CONFIGS.items():
        changed = {k: v for k, v in asdict(config).items() if v != defaults[k]}
        lines.append(f"- {label}: {changed or 'defaults'}")
    atomic_write_text(out / "proxy_fit.md", "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
