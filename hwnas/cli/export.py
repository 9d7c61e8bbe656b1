"""`hwnas export`, `hwnas model show` and `hwnas compile`: deployable models from architectures."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click
from rich.markup import escape
from rich.table import Table

from hwnas.archinfo import resolve_arch
from hwnas.cli.common import console, data_dir_option, err_console, fmt, json_option, print_json
from hwnas.devices.registry import DeviceRegistry
from hwnas.errors import BadInputError
from hwnas.export.arch_export import ExportResult, KnownFigures, export_arch
from hwnas.export.metadata import read_metadata
from hwnas.tables.catalog import Catalog


@click.command("export")
@click.argument("arch_text", metavar="ARCH")
@click.option("--dataset", default="cifar10", show_default=True, help="cifar10, cifar100 or ImageNet16-120.")
@click.option("--out", "-o", "out_dir", required=True, type=click.Path(file_okay=False), help="Output directory.")
@click.option("--weights", type=click.Path(dir_okay=False), default=None, help="Checkpoint from `hwnas train`.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of random-init weights and inputs.")
@click.option("--int8", is_flag=True, help="Also write a statically quantized int8 model.")
@click.option(
    "--tvm",
    "tvm_target",
    is_flag=False,
    flag_value="host",
    default=None,
    metavar="TARGET",
    help="Also build a TVM library (host, raspi4, aarch64 or target JSON; `--tvm` alone = host).",
)
@click.option("--tune-trials", type=int, default=0, show_default=True, help="MetaSchedule trials for --tvm.")
@click.option("--device", default=None, help="Target device: record (and check) its latency for ARCH.")
@click.option("--budget-ms", type=float, default=None, help="Fail when ARCH is slower than this on --device.")
@click.option("--no-latency", is_flag=True, help="Skip measuring latency on this machine.")
@data_dir_option
@json_option
def export(
    arch_text: str,
    dataset: str,
    out_dir: str,
    weights: str | None,
    seed: int,
    int8: bool,
    tvm_target: str | None,
    tune_trials: int,
    device: str | None,
    budget_ms: float | None,
    no_latency: bool,
    data_dir: str | None,
    as_json: bool,
) -> None:
    """Export ARCH (an NB201 string or benchmark index) as a verified ONNX model with a manifest."""
    if budget_ms is not None and device is None:
        raise BadInputError("--budget-ms needs --device (the device the budget is for)")
    if budget_ms is not None and not budget_ms > 0:
        raise BadInputError(f"--budget-ms must be a positive number of milliseconds, got {budget_ms:g}")
    if tune_trials and tvm_target is None:
        raise BadInputError("--tune-trials tunes the TVM build: add --tvm")
    catalog = Catalog(data_dir)
    arch = resolve_arch(arch_text, catalog)
    target_device = DeviceRegistry().get(device) if device else None
    result = export_arch(
        arch,
        dataset,
        out_dir,
        weights=weights,
        seed=seed,
        known=KnownFigures(budget_ms=budget_ms),
        device=target_device,
        catalog=catalog,
        measure_latency=not no_latency,
        int8=int8,
        finish=_tvm_build(tvm_target, tune_trials) if tvm_target is not None else None,
    )
    report_export(result, as_json)


def _tvm_build(tvm_target: str, tune_trials: int) -> Callable[[ExportResult], None]:
    """Build the TVM library inside the export, so it is committed with the model or not at all."""

    def build(result: ExportResult) -> None:
        from hwnas.export.tvm_build import compile_model

        result.manifest["tvm"] = compile_model(result.onnx_path, tvm_target, result.out_dir / "tvm", tune_trials)

    return build


def report_export(result: ExportResult, as_json: bool) -> None:
    """Print what was exported and where (shared with `hwnas search --export`)."""
    if as_json:
        print_json({"out_dir": str(result.out_dir), "onnx": str(result.onnx_path), **result.manifest})
        return
    meta, check = result.metadata, result.verification
    table = Table(title=f"exported to {result.out_dir}", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value", overflow="fold")
    table.add_row("model", f"{result.onnx_path} (opset {meta.opset}, batch axis dynamic)")
    table.add_row("architecture", meta.arch_str)
    shape = ", ".join(map(str, meta.input_shape))
    table.add_row("input", escape(f"float32 [batch, {shape}] -> {meta.num_classes} logits"))
    table.add_row("weights", meta.weights_detail)
    table.add_row(
        "verified",
        f"ONNX Runtime vs PyTorch max abs diff {check.max_abs_diff:.2g} <= {check.tolerance:g} "
        f"(random batches {', '.join(map(str, check.random_batches))}"
        + (f", {check.real_inputs} real inputs)" if check.real_inputs else ")"),
    )
    _add_figures(table, meta.to_dict())
    int8 = result.manifest.get("int8")
    if int8:
        line = f"{int8['file']}: {int8['int8_bytes'] / 1e3:.0f} kB vs {int8['fp32_bytes'] / 1e3:.0f} kB fp32"
        if "accuracy_change" in int8:
            line += f", accuracy {int8['int8_accuracy']:.2f}% ({int8['accuracy_change']:+.2f} points)"
        if "latency" in int8:
            line += f", {int8['latency']['median_ms']:.3f} ms"
        table.add_row("int8", line)
    tvm = result.manifest.get("tvm")
    if tvm:
        table.add_row("TVM library", f"{tvm['library']} ({tvm['target_json']})")
    table.add_row("manifest", str(result.manifest_path))
    console.print(table)
    for warning in result.manifest.get("warnings", []):
        err_console.print(f"[yellow]warning:[/yellow] {escape(warning)}")


def _add_figures(table: Table, meta: dict[str, Any]) -> None:
    if meta.get("accuracy") is not None:
        label = "estimate" if meta.get("accuracy_is_estimate") else "accuracy"
        unit = "" if meta.get("accuracy_is_estimate") else " %"
        table.add_row(label, f"{meta['accuracy']:.4g}{unit} ({meta['accuracy_source']})")
    if meta.get("latency_ms") is not None:
        table.add_row("latency here", f"{fmt(meta['latency_ms'])} ms batch 1 ({meta['latency_backend']})")
    if meta.get("target_device"):
        budget = f", budget {meta['budget_ms']:g} ms" if meta.get("budget_ms") is not None else ""
        table.add_row("on target", f"{meta['target_device']}: {fmt(meta['target_latency_ms'])} ms{budget}")


@click.group()
def model() -> None:
    """Inspect models written by `hwnas export`."""


@model.command("show")
@click.argument("path", type=click.Path(dir_okay=False))
@json_option
def show_model(path: str, as_json: bool) -> None:
    """Print the metadata stored in an exported ONNX file."""
    meta = read_metadata(path).to_dict()
    if as_json:
        print_json(meta)
        return
    table = Table(title=path, show_header=False)
    table.add_column("key", style="bold")
    table.add_column("value", overflow="fold")
    for key, value in meta.items():
        if value is not None:
            table.add_row(key, str(value))
    console.print(table)


@click.command("compile")
@click.argument("onnx_path", metavar="MODEL.onnx", type=click.Path(dir_okay=False))
@click.option("--target", default="host", show_default=True, help="host, raspi4, aarch64 or a TVM target as JSON.")
@click.option("--out", "-o", "out_dir", required=True, type=click.Path(file_okay=False), help="Output directory.")
@click.option("--trials", type=int, default=0, show_default=True, help="MetaSchedule tuning trials (0 = untuned).")
@click.option(
    "--database",
    type=click.Path(file_okay=False),
    default=None,
    help="Tuning database directory to reuse and extend (default: OUT/tuning).",
)
@json_option
def compile_command(
    onnx_path: str, target: str, out_dir: str, trials: int, database: str | None, as_json: bool
) -> None:
    """Build MODEL.onnx into a TVM library for a target (checked against ONNX Runtime on the host)."""
    from hwnas.export.tvm_build import compile_model

    report = compile_model(onnx_path, target, out_dir, trials, database)
    if as_json:
        print_json(report)
        return
    table = Table(title=f"TVM build in {out_dir}", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value", overflow="fold")
    table.add_row("library", report["library"])
    table.add_row("target", report["target_json"])
    tuned = report["tuning"]
    table.add_row(
        "tuning",
        "untuned" if not tuned else f"{tuned['trials']} MetaSchedule trials, database {tuned['database']}",
    )
    parity = report.get("parity")
    if parity:
        table.add_row("checked", f"TVM vs ONNX Runtime max abs diff {parity['max_abs_diff']:.2g} on this host")
    else:
        table.add_row("checked", "cross-compiled: run it on the board (hwnas profile with a tvm-rpc device)")
    table.add_row("build time", f"{report['build_seconds']:.1f} s")
    console.print(table)
