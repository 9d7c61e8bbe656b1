"""`hwnas search` and `hwnas runs show`: search under a device latency budget, re-print a run."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from hwnas.cli.common import console, data_dir_option, err_console, fmt, json_option, print_json
from hwnas.cli.export import report_export
from hwnas.devices.registry import DeviceRegistry
from hwnas.errors import HwnasError
from hwnas.export.arch_export import ExportResult, KnownFigures, export_arch
from hwnas.search.base import Trial
from hwnas.search.problem import SearchProblem, build_problem
from hwnas.search.registry import SEARCHERS, parse_params
from hwnas.search.runner import RunProgress, load_run, run_search
from hwnas.tables.catalog import Catalog

DEFAULT_SEARCHER = "optiproxy"


def default_out_dir(
    device: str, dataset: str, budget_ms: float, searcher: str, queries: int, seed: int, variant: dict[str, Any]
) -> Path:
    """`runs/<device>-<dataset>-<budget>ms-<searcher>-q<queries>-s<seed>`, plus a short hash of any
    non-default settings: rerunning the same command resumes (or re-prints) the same run."""
    name = f"{device}-{dataset}-{budget_ms:g}ms-{searcher}-q{queries}-s{seed}"
    if any(variant.values()):
        digest = hashlib.sha1(json.dumps(variant, sort_keys=True).encode()).hexdigest()[:8]
        name += f"-{digest}"
    return Path("runs") / name


def progress_bar(quiet: bool, transient: bool = False) -> Progress:
    """A progress bar on stderr, off for --json and when stderr is not a terminal."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=transient,
        disable=quiet or not err_console.is_terminal,
    )


@click.command()
@click.option("--device", required=True, help="Device name (see `hwnas devices list`).")
@click.option("--dataset", default="cifar10", show_default=True, help="cifar10, cifar100 or ImageNet16-120.")
@click.option("--budget-ms", type=float, required=True, help="Latency budget on the device, milliseconds.")
@click.option("--queries", type=int, default=100, show_default=True, help="Accuracy queries to spend.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--searcher", default=DEFAULT_SEARCHER, show_default=True, help=f"One of: {', '.join(SEARCHERS)}.")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE", help="Override a searcher hyperparameter.")
@click.option("--accuracy", default=None, metavar="TABLE:METRIC", help="Accuracy source (default: per dataset).")
@click.option("--latency-first", is_flag=True, help="Check latency before spending an accuracy query.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None, help="Run directory.")
@click.option("--repair", is_flag=True, help="Move a torn last line of the trial log aside and continue.")
@click.option(
    "--warm-start",
    "warm_start",
    multiple=True,
    type=click.Path(file_okay=False),
    metavar="DIR",
    help="Start from the trials of an earlier run on the same problem (repeatable); none is queried again.",
)
@click.option(
    "--export",
    "export_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Export the best feasible architecture here (verified ONNX + manifest).",
)
@data_dir_option
@json_option
def search(
    device: str,
    dataset: str,
    budget_ms: float,
    queries: int,
    seed: int,
    searcher: str,
    params: tuple[str, ...],
    accuracy: str | None,
    latency_first: bool,
    out_dir: str | None,
    repair: bool,
    warm_start: tuple[str, ...],
    export_dir: str | None,
    data_dir: str | None,
    as_json: bool,
) -> None:
    """Search the most accurate architecture within --budget-ms on --device.

    Interrupt at any time and rerun the same command to continue from the run's trial log; rerun
    with a larger --queries and the same --out to extend a finished run.
    """
    hyperparameters = parse_params(searcher, params)
    problem = build_problem(DeviceRegistry().get(device), dataset, budget_ms, Catalog(data_dir), accuracy=accuracy)
    for warning in problem.warnings:
        err_console.print(f"[yellow]warning:[/yellow] {warning}")
    # A run on an estimate (no accuracy table here) is another run than one on the table: its own
    # directory, so installing the data later does not collide with it.
    searched = accuracy or (problem.accuracy.name if problem.accuracy.is_estimate else None)
    variant = {"params": hyperparameters, "accuracy": searched, "latency_first": latency_first}
    if warm_start:
        variant["warm_start"] = list(warm_start)
    out = Path(out_dir) if out_dir else default_out_dir(device, dataset, budget_ms, searcher, queries, seed, variant)
    progress = progress_bar(quiet=as_json, transient=True)
    task = progress.add_task("starting", total=queries)

    def show(trial: Trial, state: RunProgress) -> None:
        best = state.best
        if best is None:
            found = "no feasible yet"
        else:
            value = f"estimate {best.accuracy:.4g}" if problem.accuracy.is_estimate else f"{best.accuracy:.2f}%"
            found = f"best feasible {value} at {best.latency_ms:.3g} ms"
        what = "replaying log" if state.replaying else f"step {state.step}"
        progress.update(task, completed=state.queries_used, description=f"{what} · {found}")

    try:
        with progress:
            result = run_search(
                problem,
                searcher,
                seed,
                queries,
                out,
                hyperparameters,
                latency_first=latency_first,
                repair=repair,
                on_trial=show,
                warm_start=[Path(d) for d in warm_start],
            )
    except KeyboardInterrupt:
        err_console.print(f"interrupted: trials so far are in {out}; rerun the same command to continue")
        raise SystemExit(130) from None
    if result.continued is not None:
        err_console.print(f"[yellow]note:[/yellow] {continued_line(result.continued)}")
    degenerate = degenerate_result(problem, result.summary, result.trials)
    warnings = [*problem.warnings, *([degenerate] if degenerate else [])]
    exported = None
    if export_dir and not degenerate:
        exported = export_best(problem, result.summary, out, export_dir, data_dir)
    if as_json:
        export_json = {"export": exported.manifest | {"onnx": str(exported.onnx_path)}} if exported else {}
        print_json({"out_dir": str(out), "warnings": warnings, **result.summary, **export_json})
    else:
        print_summary(result.summary, out)
        if exported:
            report_export(exported, as_json=False)
    if degenerate:
        click.echo(f"error: {degenerate}", err=True)
        raise SystemExit(1)


# Accuracy of a network that ignores its input (all-`none` paths), per dataset.
CHANCE_ACCURACY = {"cifar10": 10.0, "cifar100": 1.0, "ImageNet16-120": 100.0 / 120}


def degenerate_result(problem: SearchProblem, summary: dict[str, Any], trials: list[Trial]) -> str | None:
    """Why a finished search has no result worth shipping (nothing feasible, chance level), or None."""
    budget = problem.budget_ms
    measured = [t for t in trials if t.latency_ms is not None]
    best = summary.get("best")
    if best is None:
        if not measured:
            return f"the search evaluated nothing within {budget:g} ms"
        fastest = min(measured, key=lambda t: t.latency_ms)
        return (
            f"no architecture within {budget:g} ms among {len(measured)} evaluated on {problem.device_name}; the "
            f"fastest was {fastest.latency_ms:.4g} ms ({fastest.arch_str}): raise --budget-ms or use a faster device"
        )
    chance = CHANCE_ACCURACY.get(problem.dataset)
    if problem.accuracy.is_estimate or chance is None or best["accuracy"] > chance + 1.0:
        return None
    truth = problem.ground_truth()
    hint = ""
    if truth is not None:
        useful = truth.accuracy > chance + 1.0
        if useful.any():
            hint = f"; the fastest architecture above chance needs {float(truth.latency_ms[useful].min()):.4g} ms"
    return (
        f"the best architecture within {budget:g} ms is at chance level ({best['accuracy']:.2f} %, chance "
        f"{chance:.3g} %): only networks that ignore their input meet this budget on {problem.device_name}{hint}"
    )


def continued_line(continued: dict[str, Any]) -> str:
    """One line on a resume that could not replay the log exactly."""
    return (
        f"continued from history at trial {continued['trial']}: {continued['reason']}; {continued['cause']}. "
        "Every logged trial was kept and none was evaluated again."
    )


def export_best(
    problem: SearchProblem, summary: dict[str, Any], run_dir: Path, export_dir: str, data_dir: str | None
) -> ExportResult:
    """Export the run's best feasible architecture with what the search knows about it."""
    best = summary.get("best")
    if best is None:
        raise HwnasError(f"the search found no architecture within {problem.budget_ms:g} ms; nothing to export")
    known = KnownFigures(
        accuracy=best["accuracy"],
        accuracy_source=problem.accuracy.name,
        accuracy_is_estimate=problem.accuracy.is_estimate,
        budget_ms=problem.budget_ms,
    )
    search_info = {"run_dir": str(run_dir), "searcher": summary["searcher"], "seed": summary["seed"], "best": best}
    return export_arch(
        problem.space.parse(best["arch_str"]),
        problem.dataset,
        export_dir,
        known=known,
        device=DeviceRegistry().get(problem.device_name),
        catalog=Catalog(data_dir),
        enforce_budget=False,
        extra={"search": search_info},
    )


def print_summary(summary: dict[str, Any], out_dir: Path) -> None:
    """The result table shared by `hwnas search` and `hwnas runs show`."""
    problem = summary["problem"]
    budget = problem["budget_ms"]
    title = f"{summary['searcher']} on {problem['device']} / {problem['dataset']} under {budget:g} ms"
    table = Table(title=title, show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value", overflow="fold")
    table.add_row("status", f"{summary['status']}: {summary['queries_used']} of {summary['queries']} queries")
    if summary.get("latency_checks"):
        table.add_row("latency-only checks", str(summary["latency_checks"]))
    if summary.get("warm_start"):
        warm = summary["warm_start"]
        table.add_row("warm start", f"{warm['trials']} trials from {', '.join(warm['runs'])} (not counted)")
    if summary.get("continued_from_history"):
        table.add_row("resumed", continued_line(summary["continued_from_history"]))
    best = summary.get("best")
    if best is None:
        table.add_row("best feasible", "none found within the budget")
    else:
        table.add_row("best feasible", best["arch_str"])
        if problem.get("accuracy_is_estimate"):
            # A zero-cost or low-fidelity estimate: never shown as if it were an accuracy.
            table.add_row(f"estimate ({problem['accuracy']})", f"{best['accuracy']:.6g}")
            if best.get("true_accuracy") is not None:
                table.add_row("true accuracy", f"{fmt(best['true_accuracy'], 2)} %")
        else:
            table.add_row(f"accuracy ({problem['accuracy']})", f"{fmt(best['accuracy'], 2)} %")
        if best.get("test_accuracy") is not None:
            table.add_row("test accuracy", f"{fmt(best['test_accuracy'], 2)} %")
        table.add_row("latency", f"{fmt(best['latency_ms'], 3)} ms (margin {fmt(best['margin_ms'], 3)} ms)")
        table.add_row("found at", f"query {best['query']} (step {best['step']})")
        if best.get("rank") is not None:
            n_feasible = summary.get("n_feasible_archs")
            table.add_row("rank among feasible", f"{best['rank']} of {n_feasible:,} feasible architectures")
    optimum = summary.get("optimum")
    if optimum is not None:
        test = f", test {fmt(optimum['test_accuracy'], 2)} %" if optimum.get("test_accuracy") is not None else ""
        table.add_row("constrained optimum", optimum["arch_str"])
        table.add_row("", f"{fmt(optimum['accuracy'], 2)} %{test} at {fmt(optimum['latency_ms'], 3)} ms")
        reached = summary.get("queries_to_optimum")
        table.add_row(
            "regret", f"{fmt(summary['regret'], 3)} points" + (f" (hit at query {reached})" if reached else "")
        )
    provenance = summary.get("latency_provenance")
    if provenance and provenance.get("measured_here") is not None and "from_cache" in provenance:
        table.add_row(
            "latencies",
            f"{provenance['looked_up_in_table']} looked up in {provenance['table'] or 'a table (none usable here)'}, "
            f"{provenance['from_cache']} from this machine's cache, {provenance['measured_here']} measured now "
            f"on {provenance['machine']}",
        )
    elif provenance:
        table.add_row("latencies", f"looked up in {provenance['source']} (measured on {problem['device']})")
    per_query = summary.get("searcher_time_per_query_s")
    table.add_row("searcher time", f"{fmt(summary['searcher_time_s'], 2)} s ({fmt(per_query, 4)} s per query)")
    table.add_row("run directory", str(out_dir))
    console.print(table)


def _problem_from_config(config: dict[str, Any], data_dir: str | None) -> SearchProblem | None:
    """Rebuild a table problem for ground truth; None for live or estimated-accuracy runs."""
    spec = config["problem"]
    if spec.get("accuracy_is_estimate"):
        return None
    try:
        device = DeviceRegistry().get(spec["device"])
        if device.is_live:
            return None
        return build_problem(device, spec["dataset"], spec["budget_ms"], Catalog(data_dir), accuracy=spec["accuracy"])
    except HwnasError:
        return None


@click.group()
def runs() -> None:
    """Inspect run directories written by `hwnas search` and `hwnas bench`."""


@runs.command("show")
@click.argument("run_dir", type=click.Path(file_okay=False))
@data_dir_option
@json_option
def show_run(run_dir: str, data_dir: str | None, as_json: bool) -> None:
    """Re-print a finished or interrupted run (recomputed from its trial log if it was killed)."""
    out = Path(run_dir)
    config, _, summary = load_run(out)
    if summary["status"] == "incomplete":
        _, _, summary = load_run(out, _problem_from_config(config, data_dir))
    if as_json:
        print_json({"out_dir": str(out), **summary})
        return
    print_summary(summary, out)
