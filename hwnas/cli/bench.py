"""`hwnas bench`: run the benchmark suite (resumable) and write its tables and plots."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click

from hwnas.bench.report import RUNS_CSV, aggregate, read_rows, row_key, write_report, write_rows
from hwnas.bench.suite import (
    DEFAULT_QUERIES,
    DEFAULT_SEARCHERS,
    Job,
    JobError,
    job_is_done,
    parse_int_list,
    plan_jobs,
    run_jobs,
    select_settings,
)
from hwnas.cli.common import console, data_dir_option, err_console, json_option, print_json
from hwnas.cli.search import progress_bar
from hwnas.errors import BadInputError
from hwnas.search.registry import parse_params, searcher_class

SAVE_EVERY_S = 10.0


def _overrides(params: tuple[str, ...], searchers: list[str]) -> dict[str, dict[str, Any]]:
    """`searcher.key=value` -> per-searcher typed hyperparameters."""
    out: dict[str, dict[str, Any]] = {}
    for item in params:
        name, dot, rest = item.partition(".")
        if not dot or name not in searchers:
            raise BadInputError(f"--param {item!r} must be searcher.key=value for one of: {', '.join(searchers)}")
        out.setdefault(name, {}).update(parse_params(name, [rest]))
    return out


@click.command()
@click.option("--suite", default="main", show_default=True, help="Results go to ROOT/SUITE.")
@click.option("--root", default="benchmarks/results", show_default=True, type=click.Path(file_okay=False))
@click.option("--settings", default=None, help="Setting ids (raspi4-16ms) or device names, comma-separated.")
@click.option("--searchers", default=",".join(DEFAULT_SEARCHERS), show_default=True)
@click.option("--seeds", default="0-9", show_default=True)
@click.option("--queries", default=",".join(map(str, DEFAULT_QUERIES)), show_default=True, help="Query budgets.")
@click.option("--workers", type=int, default=2, show_default=True, help="Worker processes.")
@click.option("--param", "params", multiple=True, metavar="SEARCHER.KEY=VALUE", help="Hyperparameter override.")
@click.option("--latency-first", is_flag=True, help="Check latency before each accuracy query.")
@click.option("--report-only", is_flag=True, help="Only rewrite summary.md and plots from runs.csv.")
@data_dir_option
@json_option
def bench(
    suite: str,
    root: str,
    settings: str | None,
    searchers: str,
    seeds: str,
    queries: str,
    workers: int,
    params: tuple[str, ...],
    latency_first: bool,
    report_only: bool,
    data_dir: str | None,
    as_json: bool,
) -> None:
    """Searchers x settings (METHOD.md §8) x seeds x query budgets; finished runs are skipped.

    Writes ROOT/SUITE/runs.csv (one row per run, merged with rows already there), summary.md
    and plots/<setting>.png. Interrupt at any time and rerun to continue.
    """
    out = Path(root) / suite
    rows = read_rows(out / RUNS_CSV)
    started = time.monotonic()
    errors: list[JobError] = []
    ran = skipped = 0
    if not report_only:
        names = [s.strip() for s in searchers.split(",") if s.strip()]
        for name in names:
            searcher_class(name)
        jobs = plan_jobs(
            select_settings(settings),
            names,
            parse_int_list(seeds, "--seeds"),
            parse_int_list(queries, "--queries"),
            _overrides(params, names),
            latency_first,
        )
        todo = [j for j in jobs if not job_is_done(j, out, rows)]
        skipped = len(jobs) - len(todo)
        ran = _run(todo, out, data_dir, workers, rows, errors, quiet=as_json)
    if not rows:
        raise BadInputError(f"no runs in {out / RUNS_CSV} to report on")
    paths = write_report(out, suite, rows)
    if as_json:
        print_json(
            {"root": str(out), "ran": ran, "skipped": skipped, "errors": len(errors), "stats": aggregate(rows.values())}
        )
    else:
        elapsed = time.monotonic() - started
        console.print(f"{ran} runs done, {skipped} already finished, {len(errors)} failed in {elapsed:.0f} s")
        console.print(f"wrote {', '.join(str(p) for p in paths[:2])} and {len(paths) - 2} plots")
    for error in errors:
        err_console.print(f"error: {error.job.setting.id} {error.job.label} seed {error.job.seed}: {error.message}")
    if errors:
        raise SystemExit(1)


def _run(
    jobs: list[Job],
    out: Path,
    data_dir: str | None,
    workers: int,
    rows: dict[tuple, dict[str, Any]],
    errors: list[JobError],
    quiet: bool,
) -> int:
    progress = progress_bar(quiet)
    task = progress.add_task("runs", total=len(jobs))
    last_save = time.monotonic()
    done = 0

    def on_rows(job: Job, new_rows: list[dict[str, Any]]) -> None:
        nonlocal last_save, done
        done += 1
        for row in new_rows:
            rows[row_key(row)] = row
        progress.update(task, advance=1, description=f"{job.setting.id} {job.label} seed {job.seed}")
        if time.monotonic() - last_save > SAVE_EVERY_S:
            write_rows(out / RUNS_CSV, rows)
            last_save = time.monotonic()

    def on_error(error: JobError) -> None:
        errors.append(error)
        progress.update(task, advance=1)

    out.mkdir(parents=True, exist_ok=True)
    with progress:
        try:
            run_jobs(jobs, out, data_dir, workers, on_rows, on_error)
        finally:
            write_rows(out / RUNS_CSV, rows)
    return done
