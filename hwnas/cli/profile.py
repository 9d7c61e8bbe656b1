"""`hwnas profile`: measure latencies on a live device into a resumable table."""

from __future__ import annotations

import re
import time
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from hwnas.cli.common import console, data_dir_option, err_console, fmt, json_option, print_json
from hwnas.devices.registry import DeviceRegistry
from hwnas.errors import BadInputError, DataError
from hwnas.paths import latency_tables_dirs
from hwnas.profiling.kit import RUNNER, import_results, write_kit
from hwnas.profiling.machine import pin_cpus
from hwnas.profiling.profile import device_backend, profile_device
from hwnas.profiling.protocol import MeasureProtocol
from hwnas.profiling.runner import ProgressEvent
from hwnas.profiling.selection import select_archs
from hwnas.space.nb201 import NB201Space
from hwnas.tables.catalog import Catalog


@click.group()
def profile() -> None:
    """Measure latencies on this machine or on boards, build latency tables."""


def parse_options(items: tuple[str, ...]) -> dict[str, Any]:
    """`key=value` pairs; values read as TOML scalars (1, 0.5, true, "x") or else as text."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise BadInputError(f"--option {item!r} must be KEY=VALUE, e.g. threads=1")
        try:
            out[key.strip()] = tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError:
            out[key.strip()] = value
    return out


def _arch_index(data_dir: str | None) -> dict[str, int]:
    """NB201 benchmark index of each arch string, when a benchmark table is present."""
    try:
        return {s: i for i, s in Catalog(data_dir).index_to_arch().items()}
    except DataError:
        return {}


class ProgressReporter:
    """A rich bar with ETA on a terminal; a plain line every `every` archs otherwise (nohup logs)."""

    def __init__(self, quiet: bool, every: int) -> None:
        self.every = every
        self.quiet = quiet
        self.live = not quiet and err_console.is_terminal
        self.bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[last]}"),
            console=err_console,
            auto_refresh=False,
            disable=not self.live,
        )
        self.task: Any = None
        self.start = time.monotonic()

    def __enter__(self) -> ProgressReporter:
        self.bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.__exit__(*exc)

    def __call__(self, event: ProgressEvent) -> None:
        if self.task is None:
            self.task = self.bar.add_task("profiling", total=event.total, last="")
        last = f"{event.stats.median_ms:.3f} ms" if event.stats else f"[red]failed[/red] {event.arch_str}"
        self.bar.update(self.task, completed=event.done, last=last)
        self.bar.refresh()
        if self.live or self.quiet:
            return
        if event.done % self.every == 0 or event.done == event.total or event.error:
            elapsed = time.monotonic() - self.start
            eta = elapsed / event.done * (event.total - event.done)
            note = f" FAILED {event.arch_str}: {event.error}" if event.error else ""
            err_console.print(
                f"{event.done}/{event.total} measured, {elapsed / 60:.1f} min elapsed, "
                f"{3600 * event.done / elapsed:.0f} archs/h, ETA {eta / 60:.1f} min{note}",
                highlight=False,
            )


def selection_options(func: Callable) -> Callable:
    """Which architectures: all, --representatives, --sample N, --archs (combinable)."""
    for option in reversed((
        click.option("--dataset", default="cifar10", show_default=True, help="Network family: cifar10, cifar100, ..."),
        click.option("--representatives", is_flag=True, help="Only isomorphism representatives (6,466 cover all)."),
        click.option("--sample", type=int, default=None, help="A random sample of this many architectures."),
        click.option("--seed", type=int, default=0, show_default=True, help="Seed of the sample and the order."),
        click.option("--archs", multiple=True, metavar="ARCH|@FILE", help="Only these architectures (or @file)."),
    )):  # fmt: skip
        func = option(func)
    return func


@profile.command("run")
@click.option("--device", required=True, help="A live device (see `hwnas devices list`), e.g. local-ort.")
@selection_options
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="Table file (.parquet).")
@click.option("--limit", type=int, default=None, help="Measure at most this many new architectures now.")
@click.option("--option", "options", multiple=True, metavar="KEY=VALUE", help="Override a backend option.")
@click.option("--max-workers", type=int, default=None, help="Boards to use at most (RPC farms).")
@click.option("--time-cap-s", type=float, default=MeasureProtocol.time_cap_s, show_default=True)
@click.option("--target-rse", type=float, default=MeasureProtocol.target_median_rse, show_default=True)
@click.option("--remeasure-noisy", is_flag=True, help="Measure noisy rows again; keep the lower-CV measurement.")
@click.option("--notes", default=None, help="Free text stored in the sidecar (e.g. what else ran).")
@click.option("--cpus", default=None, metavar="LIST", help="Pin the measurement to these CPUs, e.g. 1 (steadier).")
@click.option("--log-every", type=int, default=50, show_default=True, help="Progress line interval without a tty.")
@data_dir_option
@json_option
def run(
    device: str,
    dataset: str,
    representatives: bool,
    sample: int | None,
    seed: int,
    archs: tuple[str, ...],
    out: str | None,
    limit: int | None,
    options: tuple[str, ...],
    max_workers: int | None,
    time_cap_s: float,
    target_rse: float,
    remeasure_noisy: bool,
    notes: str | None,
    cpus: str | None,
    log_every: int,
    data_dir: str | None,
    as_json: bool,
) -> None:
    """Measure architectures on --device; rerun the same command to continue an interrupted run."""
    if limit is not None and limit < 1:
        raise BadInputError(f"--limit must be >= 1 (architectures to measure now), got {limit}")
    dev = DeviceRegistry().get(device)
    if cpus is not None:
        pin_cpus(cpus)
    arch_strs = select_archs(NB201Space(), representatives, sample, seed, list(archs) or None)
    try:
        protocol = MeasureProtocol(time_cap_s=time_cap_s, target_median_rse=target_rse)
    except ValueError as exc:
        raise BadInputError(str(exc)) from None
    with ProgressReporter(as_json, max(1, log_every)) as reporter:
        result, path = profile_device(
            dev,
            dataset,
            arch_strs,
            out=out,
            protocol=protocol,
            options=parse_options(options),
            limit=limit,
            max_workers=max_workers,
            arch_index=_arch_index(data_dir),
            notes=notes,
            on_progress=reporter,
            remeasure_noisy=remeasure_noisy,
        )
    summary = {"table": str(path), **result.to_dict()}
    if as_json:
        print_json(summary)
        return
    console.print(
        f"{path}: {result.measured} measured now, {result.already_measured} already there, "
        f"{result.remaining} left, {len(result.failed)} failed, {result.noisy} noisy, "
        f"{result.replaced} of {result.remeasured} re-measured rows replaced, {fmt(result.seconds, 1)} s"
    )
    for arch, error in result.failed.items():
        console.print(f"  failed {arch}: {error}", highlight=False)


@profile.command("check")
@click.option("--device", required=True)
@click.option("--option", "options", multiple=True, metavar="KEY=VALUE", help="Override a backend option.")
@json_option
def check(device: str, options: tuple[str, ...], as_json: bool) -> None:
    """Connect step: is the device's backend usable (runtime installed, tracker and boards reachable)?"""
    backend = device_backend(DeviceRegistry().get(device), parse_options(options))
    message = backend.check()
    if as_json:
        print_json({"device": device, "backend": backend.name, "ok": True, "message": message})
    else:
        console.print(f"{device}: {message}")


@profile.command("kit")
@selection_options
@click.option("--out", "out_dir", type=click.Path(file_okay=False), required=True, help="Folder to copy to the board.")
@json_option
def kit(
    dataset: str,
    representatives: bool,
    sample: int | None,
    seed: int,
    archs: tuple[str, ...],
    out_dir: str,
    as_json: bool,
) -> None:
    """Export networks (ONNX) with the board-side runner, for boards that have onnxruntime but no TVM."""
    arch_strs = select_archs(NB201Space(), representatives, sample, seed, list(archs) or None)
    summary = write_kit(arch_strs, dataset, out_dir)
    if as_json:
        print_json(summary)
        return
    console.print(
        f"{out_dir}: {summary['onnx_files']} ONNX files ({summary['written_now']} new). On the board:\n"
        f"  python3 {RUNNER} onnx --out results.csv --threads 1\n"
        f"then here: hwnas profile import results.csv --device <board-name> --dataset {dataset}",
        highlight=False,
    )


@profile.command("import")
@click.argument("results", type=click.Path(dir_okay=False))
@click.option("--device", required=True, help="Name of the board (becomes the table name unless --out).")
@click.option("--dataset", default="cifar10", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="Table file (.parquet).")
@data_dir_option
@json_option
def import_command(
    results: str, device: str, dataset: str, out: str | None, data_dir: str | None, as_json: bool
) -> None:
    """Add a board runner's results.csv (+ results.json) to a latency table."""
    if not out and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", device):
        raise BadInputError(
            f"--device {device!r} must be a plain name (letters, digits, . _ -): it names the table in "
            f"{latency_tables_dirs()[0]}; use --out for a table elsewhere"
        )
    path = Path(out) if out else latency_tables_dirs()[0] / f"{device}.parquet"
    summary = import_results(results, device, dataset, path, _arch_index(data_dir))
    if as_json:
        print_json(summary)
        return
    console.print(
        f"{summary['table']}: {summary['added']} rows added, {summary['already_there']} already there. "
        f"To search with it, describe the board in devices/{device}.toml with source = 'table' and "
        f"[[latency.tables]] table = '{path.stem}', metric = 'latency_ms', dataset = '{dataset}'.",
        highlight=False,
        markup=False,
    )
