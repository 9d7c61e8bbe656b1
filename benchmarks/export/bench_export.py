"""Export benchmarks: export + verify time, runtimes compared, fp32 vs int8.

    python benchmarks/export/bench_export.py export-time            # 50 random archs
    python benchmarks/export/bench_export.py runtimes --arch 0      # one of the 5 archs (0..4)
    python benchmarks/export/bench_export.py int8-digits            # the trained digits model
    python benchmarks/export/bench_export.py report                 # results.csv + results.md

Each stage writes its raw JSON under --work (default runs/bench-export, not committed) so stages
can run in separate quiet windows (nothing else CPU-bound on the machine); `report`
merges them. Latencies are batch 1, one thread, median of the adaptive protocol
(hwnas.profiling.protocol) for every runtime alike.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from hwnas.atomic import atomic_write_json, atomic_write_text
from hwnas.export.arch_export import export_arch
from hwnas.export.tvm_build import compile_model
from hwnas.export.weights import random_network
from hwnas.nets import get_dataset
from hwnas.profiling.machine import cpu_model
from hwnas.profiling.protocol import MeasureProtocol, measure_adaptive, timed_block
from hwnas.space.nb201 import NB201Space
from hwnas.tables.catalog import Catalog
from hwnas.tables.table import load_table

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
DATASET = "cifar10"
QUANTILES = (0.05, 0.25, 0.5, 0.75, 1.0)  # of the local-ort table: 5 archs spanning the latency range
PROTOCOL = MeasureProtocol(time_cap_s=3.0)
DIGITS_ARCH = "|nor_conv_1x1~0|+|none~0|none~1|+|skip_connect~0|none~1|avg_pool_3x3~2|"
EXPORT_TIME = "## Export + verify time per architecture"
RUNTIMES = "## Runtimes on this machine (batch 1, 1 thread, median ms)"
INT8_DIGITS = "## fp32 vs int8 on a trained model (digits)"
MEASURED_SECTIONS = (EXPORT_TIME, RUNTIMES, INT8_DIGITS)


def load_snapshot() -> dict[str, Any]:
    return {"load_1m": os.getloadavg()[0], "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def spanning_archs() -> list[tuple[str, float]]:
    """Representatives at latency quantiles of this machine's committed ONNX Runtime table."""
    series = load_table(REPO / "latency_tables" / "local-ort.parquet").series("latency_ms").sort_values()
    picks = []
    for q in QUANTILES:
        i = min(len(series) - 1, round(q * (len(series) - 1)))
        picks.append((str(series.index[i]), float(series.iloc[i])))
    return picks


def export_time(work: Path, n: int, seed: int) -> dict[str, Any]:
    """Wall time of `export_arch` (build, BN calibration, export, check, ORT vs PyTorch) per arch."""
    space = NB201Space()
    rng = np.random.default_rng(seed)
    catalog = Catalog(work / "no-data")
    rows = []
    for i in range(n):
        arch = space.sample(rng)
        start = time.perf_counter()
        result = export_arch(arch, DATASET, work / "export-time" / f"{i}", catalog=catalog, measure_latency=False)
        rows.append(
            {
                "arch_str": space.format(arch),
                "seconds": time.perf_counter() - start,
                "max_abs_diff": result.verification.max_abs_diff,
            }
        )
    seconds = [r["seconds"] for r in rows]
    return {
        "n": n,
        "median_s": statistics.median(seconds),
        "p90_s": float(np.percentile(seconds, 90)),
        "max_abs_diff": max(r["max_abs_diff"] for r in rows),
        "rows": rows,
        "load": load_snapshot(),
    }


def _tvm_latency(library: str) -> dict[str, Any]:
    from hwnas.tvm.run import LoadedModel, set_threads

    set_threads(1)
    inputs = np.random.default_rng(0).standard_normal((1, *get_dataset(DATASET).input_shape)).astype(np.float32)
    return measure_adaptive(LoadedModel(library).sample_block(inputs), PROTOCOL).to_dict()


def runtimes(work: Path, index: int, trials: int) -> dict[str, Any]:
    """ORT, PyTorch eager, TVM untuned and TVM tuned (`trials`) on one arch; fp32 vs int8 (ORT)."""
    arch_str, table_ms = spanning_archs()[index]
    space = NB201Space()
    arch = space.parse(arch_str)
    out = work / f"arch{index}"
    exported = export_arch(arch, DATASET, out, catalog=Catalog(work / "no-data"), int8=True)
    torch.set_num_threads(1)
    model = random_network(arch, get_dataset(DATASET))
    x = torch.randn(1, *get_dataset(DATASET).input_shape)

    def eager() -> None:
        with torch.no_grad():
            model(x)

    torch_stats = measure_adaptive(timed_block(eager), PROTOCOL).to_dict()
    untuned = compile_model(exported.onnx_path, "host", out / "tvm-untuned")
    tuned = compile_model(exported.onnx_path, "host", out / "tvm-tuned", trials=trials)
    return {
        "index": index,
        "arch_str": arch_str,
        "table_ort_ms": table_ms,
        "ort": exported.manifest["latency"],
        "torch": torch_stats,
        "tvm_untuned": {**_tvm_latency(untuned["library"]), "build_seconds": untuned["build_seconds"]},
        "tvm_tuned": {**_tvm_latency(tuned["library"]), **tuned["tuning"], "build_seconds": tuned["build_seconds"]},
        "int8": exported.manifest["int8"],
        "parity": {"tvm_untuned": untuned["parity"], "tvm_tuned": tuned["parity"]},
        "load": load_snapshot(),
    }


def int8_digits(work: Path) -> dict[str, Any]:
    """fp32 vs int8 on a network trained on digits (accuracy is meaningful there)."""
    from hwnas.train.trainer import TrainConfig, train

    torch.set_num_threads(1)
    arch = NB201Space().parse(DIGITS_ARCH)
    checkpoint_path = work / "digits.pt"
    start = time.perf_counter()
    checkpoint = train(arch, "digits", checkpoint_path, DATASET, TrainConfig(epochs=3, seed=0))
    train_s = time.perf_counter() - start
    exported = export_arch(arch, DATASET, work / "digits", weights=checkpoint_path, int8=True)
    return {
        "arch_str": DIGITS_ARCH,
        "train_seconds": train_s,
        "val_accuracy": checkpoint.val_accuracy,
        "fp32_latency": exported.manifest["latency"],
        "int8": exported.manifest["int8"],
        "verification": exported.verification.to_dict(),
        "load": load_snapshot(),
    }


def markdown_table(table: pd.DataFrame) -> str:
    return table.to_markdown(index=False, floatfmt=".4g")


def runtime_plot(table: pd.DataFrame) -> str:
    """Grouped bars, log scale: every runtime on every architecture."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = {"ort_ms": "ONNX Runtime", "int8_ms": "ORT int8", "torch_ms": "PyTorch eager",
               "tvm_untuned_ms": "TVM untuned", "tvm_tuned_ms": "TVM tuned"}  # fmt: skip
    fig, ax = plt.subplots(figsize=(8, 4))
    width = 0.8 / len(columns)
    for k, (column, label) in enumerate(columns.items()):
        ax.bar(np.arange(len(table)) + k * width, table[column], width, label=label)
    ax.set(yscale="log", ylabel="batch-1 latency (ms, 1 thread)", xticks=np.arange(len(table)) + 0.4 - width / 2,
           xticklabels=[f"arch {i}\n{ms:.2f} ms" for i, ms in enumerate(table["table_ort_ms"])])  # fmt: skip
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(HERE / "runtimes.png", dpi=110)
    plt.close(fig)
    return "runtimes.png"


def report(work: Path) -> None:
    rows = []
    for path in sorted(work.glob("runtimes-*.json")):
        r = json.loads(path.read_text())
        rows.append(
            {
                "arch_str": r["arch_str"],
                "table_ort_ms": r["table_ort_ms"],
                "ort_ms": r["ort"]["median_ms"],
                "torch_ms": r["torch"]["median_ms"],
                "tvm_untuned_ms": r["tvm_untuned"]["median_ms"],
                "tvm_tuned_ms": r["tvm_tuned"]["median_ms"],
                "tvm_trials": r["tvm_tuned"]["trials"],
                "tvm_trials_measured": r["tvm_tuned"]["records_measured"],
                "tvm_tasks": r["tvm_tuned"]["tasks"],
                "tuning_s": r["tvm_tuned"]["tuning_seconds"],
                "tvm_max_abs_diff": max(p["max_abs_diff"] for p in r["parity"].values()),
                "fp32_kb": r["int8"]["fp32_bytes"] / 1e3,
                "int8_kb": r["int8"]["int8_bytes"] / 1e3,
                "int8_ms": r["int8"]["latency"]["median_ms"],
                "load_1m": r["load"]["load_1m"],
            }
        )
    table = pd.DataFrame(rows)
    if rows:
        table.to_csv(HERE / "results.csv", index=False, float_format="%.4g")
    # A stage run alone updates its own section; sections whose raw JSON is not in --work (another
    # session's work folder) are kept as committed rather than dropped.
    kept = committed_sections(HERE / "results.md")
    lines = [
        "# Export benchmarks",
        "",
        f"Machine: {cpu_model()}, 2 cores (shared VM). Generated by `bench_export.py`.",
        "",
    ]
    export_path = work / "export-time.json"
    if export_path.is_file():
        e = json.loads(export_path.read_text())
        pd.DataFrame(e["rows"]).to_csv(HERE / "export_time.csv", index=False, float_format="%.4g")
        lines += [
            EXPORT_TIME,
            "",
            f"{e['n']} random cifar10 architectures (seed 0), `export_arch` without latency measurement "
            f"(build, BatchNorm calibration, legacy ONNX export, `onnx.checker`, ONNX Runtime vs PyTorch at "
            f"batch 1 and 8): median **{e['median_s']:.3f} s**, p90 {e['p90_s']:.3f} s; worst max abs diff "
            f"{e['max_abs_diff']:.2g}. Load average during the run: {e['load']['load_1m']:.2f}. "
            "Per architecture: `export_time.csv`.",
            "",
        ]
    else:
        lines += kept.get(EXPORT_TIME, [])
    if rows:
        lines += [RUNTIMES, "", markdown_table(table), "", f"![runtimes]({runtime_plot(table)})", ""]
    else:
        lines += kept.get(RUNTIMES, [])
    digits_path = work / "int8-digits.json"
    if digits_path.is_file():
        d = json.loads(digits_path.read_text())
        q = d["int8"]
        lines += [
            INT8_DIGITS,
            "",
            f"`{d['arch_str']}` trained 3 epochs on scikit-learn digits ({d['train_seconds']:.1f} s): "
            f"fp32 {q['fp32_bytes'] / 1e3:.0f} kB, {d['fp32_latency']['median_ms']:.3f} ms, "
            f"{q['fp32_accuracy']:.2f}%; int8 {q['int8_bytes'] / 1e3:.0f} kB, {q['latency']['median_ms']:.3f} ms, "
            f"{q['int8_accuracy']:.2f}% ({q['accuracy_change']:+.2f} points) on {q['accuracy_on']}. "
            f"Quantization: {q['method']}.",
            "",
        ]
    else:
        lines += kept.get(INT8_DIGITS, [])
    notes = HERE / "notes.md"
    if notes.is_file():
        lines += [notes.read_text().strip(), ""]
    atomic_write_text(HERE / "results.md", "\n".join(lines))


def committed_sections(path: Path) -> dict[str, list[str]]:
    """The measured sections of an existing results.md, by heading, each with its trailing blank line."""
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in path.read_text().splitlines() if path.is_file() else []:
        if line.startswith("## "):
            current = sections.setdefault(line, []) if line in MEASURED_SECTIONS else None
        if current is not None:
            current.append(line)
    return sections


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stage", choices=["export-time", "runtimes", "int8-digits", "report"])
    parser.add_argument("--work", type=Path, default=REPO / "runs" / "bench-export")
    parser.add_argument("--arch", type=int, default=0, help="runtimes: which of the 5 spanning archs (0..4)")
    parser.add_argument("--trials", type=int, default=8, help="runtimes: MetaSchedule trials for the tuned build")
    parser.add_argument("--n", type=int, default=50, help="export-time: architectures")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    if args.stage == "export-time":
        atomic_write_json(args.work / "export-time.json", export_time(args.work, args.n, seed=0))
    elif args.stage == "runtimes":
        atomic_write_json(args.work / f"runtimes-{args.arch}.json", runtimes(args.work, args.arch, args.trials))
    elif args.stage == "int8-digits":
        atomic_write_json(args.work / "int8-digits.json", int8_digits(args.work))
    report(args.work)


if __name__ == "__main__":
    main()
