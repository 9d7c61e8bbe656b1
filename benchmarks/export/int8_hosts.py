"""Does an int8 model's accuracy depend on the x86 host that runs it? Full-range vs 7-bit weights.

    python benchmarks/export/int8_hosts.py [--work runs/int8-hosts]

Trains the digits network (as `bench_export.py int8-digits`), quantizes its fp32 ONNX model with
full-range (8-bit) and reduced-range (7-bit) weights, and measures both on the validation split
here and, when Debian's `qemu-user` is installed (`apt-get install qemu-user`), under
`qemu-x86_64 -cpu Haswell`: an AVX2 CPU without VNNI, where ONNX Runtime's u8s8 kernels
accumulate through the saturating 16-bit VPMADDUBSW. Writes int8_hosts.csv and int8_hosts.md.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import torch

from hwnas.atomic import atomic_write_text
from hwnas.export.arch_export import TRAINED_CALIBRATION_SAMPLES, calibration_inputs, export_arch, ort_accuracy
from hwnas.export.quantize import quantize_int8
from hwnas.nets import get_dataset
from hwnas.profiling.machine import cpu_model
from hwnas.space.nb201 import NB201Space
from hwnas.train.checkpoint import load_checkpoint
from hwnas.train.data import Split, validation_inputs
from hwnas.train.trainer import TrainConfig, train

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
DATASET = "cifar10"
DIGITS_ARCH = "|nor_conv_1x1~0|+|none~0|none~1|+|skip_connect~0|none~1|avg_pool_3x3~2|"
EMULATED_CPU = "Haswell"


def _validation(checkpoint_path: Path) -> Split:
    return validation_inputs(load_checkpoint(checkpoint_path).preprocess, get_dataset(DATASET))


def evaluate(checkpoint_path: Path, models: list[Path]) -> None:
    """Child mode: print one accuracy per model (run natively or under the emulator)."""
    val = _validation(checkpoint_path)
    for model in models:
        print(f"{model.name} {ort_accuracy(model, val)!r}", flush=True)


def _vnni() -> str:
    flags = Path("/proc/cpuinfo").read_text().split() if Path("/proc/cpuinfo").is_file() else []
    return "VNNI" if {"avx512_vnni", "avx_vnni"} & set(flags) else "no VNNI"


def _accuracies(command: list[str]) -> dict[str, float]:
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return {name: float(value) for name, value in (line.split() for line in done.stdout.splitlines())}


def build(work: Path) -> list[Path]:
    torch.set_num_threads(1)
    arch = NB201Space().parse(DIGITS_ARCH)
    checkpoint_path = work / "digits.pt"
    train(arch, "digits", checkpoint_path, DATASET, TrainConfig(epochs=3, seed=0))
    fp32 = export_arch(arch, DATASET, work / "digits", weights=checkpoint_path, measure_latency=False).onnx_path
    calibration, _ = calibration_inputs(load_checkpoint(checkpoint_path), get_dataset(DATASET), seed=0)
    models = [fp32]
    for bits, reduce_range in ((8, False), (7, True)):
        models.append(quantize_int8(fp32, work / f"int8-{bits}bit.onnx", calibration, reduce_range=reduce_range))
    return models


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=REPO / "runs" / "int8-hosts")
    parser.add_argument("--evaluate", nargs="+", type=Path, help=argparse.SUPPRESS)  # child mode
    args = parser.parse_args()
    if args.evaluate:
        evaluate(args.evaluate[0], args.evaluate[1:])
        return
    args.work.mkdir(parents=True, exist_ok=True)
    models = build(args.work)
    child = [sys.executable, __file__, "--evaluate", str(args.work / "digits.pt"), *map(str, models)]
    hosts = {f"this host ({cpu_model()}, {_vnni()})": _accuracies(child)}
    if shutil.which("qemu-x86_64"):
        hosts[f"qemu-x86_64 -cpu {EMULATED_CPU} (AVX2, no VNNI)"] = _accuracies(
            ["qemu-x86_64", "-cpu", EMULATED_CPU, *child]
        )
    names = {models[0].name: "fp32", models[1].name: "int8, 8-bit weights", models[2].name: "int8, 7-bit weights"}
    table = pd.DataFrame(
        [{"host": host, "model": names[m], "accuracy": acc} for host, accs in hosts.items() for m, acc in accs.items()]
    )
    table.to_csv(HERE / "int8_hosts.csv", index=False, float_format="%.4f")
    validation_images = len(_validation(args.work / "digits.pt").y)
    wide = table.pivot(index="model", columns="host", values="accuracy").loc[list(names.values())]
    lines = [
        "# int8 accuracy by x86 host",
        "",
        f"Written by `int8_hosts.py`. `{DIGITS_ARCH}` trained 3 epochs on scikit-learn digits (seed 0), "
        "quantized by ONNX Runtime static QDQ (per-channel int8 weights, uint8 activations, "
        f"{TRAINED_CALIBRATION_SAMPLES} training images for calibration); accuracy (%) on {validation_images} "
        "validation images. The emulated host has no VNNI, so ONNX Runtime's u8s8 kernels accumulate "
        "pairs of products in a saturating 16-bit register.",
        "",
        wide.to_markdown(floatfmt=".2f"),
        "",
    ]
    if len(hosts) == 1:
        lines += ["qemu-x86_64 was not installed: the emulated host was not measured.", ""]
    atomic_write_text(HERE / "int8_hosts.md", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
