"""The benchmark suite: searchers x settings x seeds x query budgets, run in worker processes.

Every run is an ordinary run directory under `<root>/runs/`, so an interrupted suite resumes
like a single search: finished runs are skipped, a half-done one continues from its log. For
searchers that declare `prefix_consistent` (their first k proposals do not depend on the query
budget) smaller budgets are read off the longest run's first k queries instead of being rerun.
"""

from __future__ import annotations

import json
import multiprocessing
import os
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hwnas.devices.registry import DeviceRegistry
from hwnas.errors import BadInputError, HwnasError
from hwnas.search.base import Trial
from hwnas.search.problem import SearchProblem, build_problem
from hwnas.search.registry import default_hyperparameters, resolve_hyperparameters, searcher_class
from hwnas.search.runner import read_summary, run_search
from hwnas.search.summary import DONE_STATUSES, summarize
from hwnas.tables.catalog import Catalog


@dataclass(frozen=True)
class Setting:
    """One device table and latency budget."""

    device: str
    dataset: str
    budget_ms: float

    @property
    def id(self) -> str:
        return f"{self.device}-{self.budget_ms:g}ms"


# METHOD.md §8: HW-NAS-Bench cifar10 devices and HW-NAS-Bench-360 cifar100 devices.
SUITE_SETTINGS: tuple[Setting, ...] = tuple(
    Setting(device, dataset, budget)
    for device, dataset, budgets in (
        ("raspi4", "cifar10", (8, 16, 26)),
        ("pixel3", "cifar10", (3.3, 6.5, 11)),
        ("eyeriss", "cifar10", (3.4, 4.6, 5.1)),
        ("fpga", "cifar10", (2.4, 2.9, 3.7)),
        ("pi5-onnx", "cifar100", (1.7, 4.0, 5.0)),
        ("pixel-litert", "cifar100", (0.7, 1.3, 3.3)),
    )
    for budget in budgets
)
DEFAULT_SEARCHERS = ("random", "rea", "local")
DEFAULT_QUERIES = (100, 200)


def select_settings(spec: str | None) -> list[Setting]:
    """Comma-separated setting ids (`raspi4-16ms`) or device names; None = all 18."""
    if not spec:
        return list(SUITE_SETTINGS)
    chosen: list[Setting] = []
    for token in (t.strip() for t in spec.split(",") if t.strip()):
        matches = [s for s in SUITE_SETTINGS if token in (s.id, s.device)]
        if not matches:
            known = ", ".join(s.id for s in SUITE_SETTINGS)
            raise BadInputError(f"unknown setting {token!r}; give a device name or one of: {known}")
        chosen.extend(m for m in matches if m not in chosen)
    return chosen


def parse_int_list(spec: str, what: str) -> list[int]:
    """`0-9`, `0,2,5` or a mix, e.g. `0-4,9`."""
    out: list[int] = []
    try:
        for part in (p.strip() for p in spec.split(",") if p.strip()):
            lo, sep, hi = part.partition("-")
            values = range(int(lo), int(hi) + 1) if sep else [int(lo)]
            out.extend(v for v in values if v not in out)
    except ValueError:
        raise BadInputError(f"{what} {spec!r}: expected numbers like 0-9 or 0,3,5") from None
    if not out:
        raise BadInputError(f"{what} {spec!r} selects nothing")
    return out


def searcher_label(searcher: str, hyperparameters: dict[str, Any]) -> str:
    """The searcher's name, plus its non-default hyperparameters (so variants get their own rows)."""
    defaults = default_hyperparameters(searcher)
    changed = {k: v for k, v in sorted(hyperparameters.items()) if defaults.get(k) != v}
    if not changed:
        return searcher
    return searcher + "[" + ",".join(f"{k}={v}" for k, v in changed.items()) + "]"


@dataclass(frozen=True)
class Job:
    """One run; `queries` lists every budget read off it (the run itself uses the largest)."""

    setting: Setting
    searcher: str
    label: str
    hyperparameters_json: str
    seed: int
    queries: tuple[int, ...]
    latency_first: bool = False

    @property
    def run_queries(self) -> int:
        return max(self.queries)

    def run_dir(self, root: Path) -> Path:
        return root / "runs" / self.setting.id / self.label / f"q{self.run_queries}-s{self.seed}"

    def row_keys(self) -> list[tuple[str, str, int, int]]:
        return [(self.setting.id, self.label, self.seed, q) for q in self.queries]


def plan_jobs(
    settings: Iterable[Setting],
    searchers: Iterable[str],
    seeds: Iterable[int],
    queries: Iterable[int],
    overrides: dict[str, dict[str, Any]] | None = None,
    latency_first: bool = False,
) -> list[Job]:
    """One job per run: prefix-consistent searchers run only the largest budget."""
    budgets = tuple(sorted(set(queries)))
    jobs: list[Job] = []
    for name in searchers:
        hyperparameters = resolve_hyperparameters(name, (overrides or {}).get(name))
        label = searcher_label(name, hyperparameters)
        groups = [budgets] if getattr(searcher_class(name), "prefix_consistent", False) else [(q,) for q in budgets]
        hp_json = json.dumps(hyperparameters, sort_keys=True)
        for setting in settings:
            for seed in seeds:
                jobs.extend(Job(setting, name, label, hp_json, seed, group, latency_first) for group in groups)
    return jobs


def job_is_done(job: Job, root: Path, rows: dict[tuple, dict[str, Any]]) -> bool:
    """Finished run directory and every row it yields already in the table."""
    if not all(key in rows for key in job.row_keys()):
        return False
    summary = read_summary(job.run_dir(root))
    return summary is not None and summary.get("status") in DONE_STATUSES


# -- worker side ---------------------------------------------------------------------------

_PROBLEMS: dict[tuple[Setting, str | None], SearchProblem] = {}


def _problem(setting: Setting, data_dir: str | None) -> SearchProblem:
    key = (setting, data_dir)
    if key not in _PROBLEMS:
        device = DeviceRegistry().get(setting.device)
        _PROBLEMS[key] = build_problem(device, setting.dataset, setting.budget_ms, Catalog(data_dir))
    return _PROBLEMS[key]


def prefix(trials: list[Trial], queries: int) -> list[Trial]:
    """Trials up to and including the `queries`-th counted one."""
    counted = 0
    for i, trial in enumerate(trials):
        counted += trial.counted
        if counted == queries:
            return trials[: i + 1]
    return list(trials)


def curve_text(curve: list[dict[str, Any]]) -> str:
    """Best-feasible-so-far improvements as `query:accuracy` pairs (compact, lossless)."""
    return " ".join(f"{p['query']}:{p['accuracy']:.6f}" for p in curve)


def result_row(job: Job, queries: int, summary: dict[str, Any], derived: bool) -> dict[str, Any]:
    best = summary.get("best") or {}
    optimum = summary.get("optimum") or {}
    return {
        "setting": job.setting.id,
        "device": job.setting.device,
        "dataset": job.setting.dataset,
        "budget_ms": job.setting.budget_ms,
        "searcher": job.searcher,
        "label": job.label,
        "seed": job.seed,
        "queries": queries,
        "derived_from": job.run_queries if derived else "",
        "latency_first": job.latency_first,
        "status": summary["status"],
        "queries_used": summary["queries_used"],
        "feasible_queries": summary["feasible_queries"],
        "best_accuracy": best.get("accuracy"),
        "best_test_accuracy": best.get("test_accuracy"),
        "best_latency_ms": best.get("latency_ms"),
        "best_rank": best.get("rank"),
        "best_arch": best.get("arch_str"),
        "optimum_accuracy": optimum.get("accuracy"),
        "regret": summary.get("regret"),
        "hit_optimum": summary.get("hit_optimum"),
        "queries_to_optimum": summary.get("queries_to_optimum"),
        "searcher_time_s": summary["searcher_time_s"],
        "searcher_time_per_query_s": summary["searcher_time_per_query_s"],
        "hyperparameters": job.hyperparameters_json,
        "curve": curve_text(summary["curve"]),
    }


def execute_job(job: Job, root: Path, data_dir: str | None) -> list[dict[str, Any]]:
    """Run (resume, or re-read) one job's run directory and return its rows."""
    problem = _problem(job.setting, data_dir)
    result = run_search(
        problem,
        job.searcher,
        job.seed,
        job.run_queries,
        job.run_dir(root),
        json.loads(job.hyperparameters_json),
        latency_first=job.latency_first,
        fsync=False,  # trials still reach the kernel per write; a table benchmark can redo a lost tail
    )
    rows = []
    for q in job.queries:
        if q == job.run_queries:
            rows.append(result_row(job, q, result.summary, derived=False))
            continue
        trials = prefix(result.trials, q)
        status = "finished" if sum(t.counted for t in trials) == q else result.summary["status"]
        summary = summarize({**result.config, "queries": q}, trials, status, problem)
        rows.append(result_row(job, q, summary, derived=True))
    return rows


def _init_worker(threads: int) -> None:
    # Each worker gets its share of the cores (torch/BLAS read these when first imported).
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)


@dataclass
class JobError:
    job: Job
    message: str


def run_jobs(
    jobs: list[Job],
    root: Path,
    data_dir: str | None,
    workers: int,
    on_rows: Callable[[Job, list[dict[str, Any]]], None],
    on_error: Callable[[JobError], None],
) -> None:
    """Execute `jobs` in `workers` processes (in this process when workers <= 1)."""
    if workers <= 1:
        for job in jobs:
            try:
                on_rows(job, execute_job(job, root, data_dir))
            except HwnasError as exc:
                on_error(JobError(job, str(exc)))
        return
    threads = max(1, (os.cpu_count() or 1) // workers)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker, initargs=(threads,)) as pool:
        pending: dict[Future, Job] = {}
        queue = list(jobs)
        try:
            while queue or pending:
                while queue and len(pending) < 2 * workers:
                    job = queue.pop(0)
                    pending[pool.submit(execute_job, job, root, data_dir)] = job
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    job = pending.pop(future)
                    try:
                        on_rows(job, future.result())
                    except HwnasError as exc:
                        on_error(JobError(job, str(exc)))
        except BaseException:
            for future in pending:
                future.cancel()
            raise
