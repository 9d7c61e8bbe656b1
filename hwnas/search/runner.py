"""The one run loop every searcher goes through: ask, evaluate, log, tell; resume by replay.

A run directory holds `config.json` (problem, searcher, every hyperparameter, seed, queries),
the append-only `trials.jsonl` and `summary.json`. Rerunning with the same config replays the
log through a fresh searcher with the same seed: each replayed proposal must equal the logged
architecture, the logged results are told instead of evaluated, and the run continues where it
stopped, so an interrupted and resumed run ends with the trials of an uninterrupted one.
"""

from __future__ import annotations

import fcntl
import json
import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hwnas import __version__
from hwnas.atomic import atomic_write_json
from hwnas.errors import HwnasError, RunError
from hwnas.search.base import Proposal, SearchContext, Searcher, Trial
from hwnas.search.problem import SearchProblem
from hwnas.search.registry import make_searcher
from hwnas.search.summary import DONE_STATUSES, SUMMARY_NAME, summarize
from hwnas.search.trial_log import LOG_NAME, TrialLog, read_trials

CONFIG_NAME = "config.json"
LOCK_NAME = ".lock"
RUN_FORMAT = "hwnas-run"
# Keys of config.json that may differ between the original run and a resume.
UNCOMPARED_KEYS = ("versions",)


@dataclass
class RunProgress:
    """What the progress display shows; updated after every trial."""

    queries: int
    queries_used: int = 0
    trials: int = 0
    step: int = 0
    best: Trial | None = None
    replaying: bool = False


@dataclass
class RunResult:
    out_dir: Path
    config: dict[str, Any]
    trials: list[Trial]
    summary: dict[str, Any]
    replayed: int = 0  # trials taken from the log rather than evaluated by this call
    warnings: list[str] = field(default_factory=list)


def run_config(
    problem: SearchProblem,
    searcher: Searcher,
    searcher_name: str,
    queries: int,
    latency_first: bool,
) -> dict[str, Any]:
    """The config a run records; JSON-normalized so it compares equal to the stored one."""
    config = {
        "format": RUN_FORMAT,
        "version": 1,
        "problem": problem.describe(),
        "searcher": searcher_name,
        "hyperparameters": searcher.config(),
        "seed": int(searcher.seed),
        "queries": int(queries),
        "latency_first": bool(latency_first),
        "versions": {"hwnas": __version__, "python": platform.python_version(), "numpy": np.__version__},
    }
    return json.loads(json.dumps(config, sort_keys=True, default=str))


def first_difference(stored: Any, current: Any, prefix: str = "") -> tuple[str, Any, Any] | None:
    """The first key path (dotted) where two JSON values differ, with both values."""
    if isinstance(stored, dict) and isinstance(current, dict):
        for key in sorted(set(stored) | set(current)):
            if not prefix and key in UNCOMPARED_KEYS:
                continue
            path = f"{prefix}.{key}" if prefix else key
            if key not in stored or key not in current:
                return path, stored.get(key), current.get(key)
            found = first_difference(stored[key], current[key], path)
            if found is not None:
                return found
        return None
    return None if stored == current else (prefix or "(root)", stored, current)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RunError(f"{path} is not readable JSON ({exc}); restore it or start a new run directory") from None
    if not isinstance(data, dict):
        raise RunError(f"{path} is not a JSON object; restore it or start a new run directory")
    return data


def read_config(out_dir: Path) -> dict[str, Any]:
    path = Path(out_dir) / CONFIG_NAME
    if not path.is_file():
        raise RunError(f"{out_dir} is not a run directory: {CONFIG_NAME} not found")
    config = _read_json(path)
    if config.get("format") != RUN_FORMAT:
        raise RunError(f"{path} is not an hwnas run config (format {config.get('format')!r})")
    return config


def read_summary(out_dir: Path) -> dict[str, Any] | None:
    path = Path(out_dir) / SUMMARY_NAME
    return _read_json(path) if path.is_file() else None


def _prepare_dir(out_dir: Path, config: dict[str, Any]) -> bool:
    """Create or check the run directory; True when it already held this run."""
    config_path = out_dir / CONFIG_NAME
    if config_path.is_file():
        stored = read_config(out_dir)
        diff = first_difference(stored, config)
        if diff is not None:
            key, old, new = diff
            raise RunError(
                f"{out_dir} holds a run with a different config: {key} is {old!r} there and {new!r} now; "
                "rerun with the original settings to resume, or choose another --out"
            )
        return True
    if out_dir.exists() and any(p.name != LOCK_NAME for p in out_dir.iterdir()):
        raise RunError(f"{out_dir} exists and is not a run directory (no {CONFIG_NAME}); choose another --out")
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_json(config_path, config)
    return False


class _RunLock:
    """One process per run directory: two writers would interleave their trials."""

    def __init__(self, out_dir: Path) -> None:
        self.path = out_dir / LOCK_NAME
        self._fd = -1

    def __enter__(self) -> _RunLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._fd)
            raise RunError(f"{self.path.parent} is in use by another hwnas process; wait for it to finish") from None
        return self

    def __exit__(self, *exc: Any) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)


def run_search(
    problem: SearchProblem,
    searcher_name: str,
    seed: int,
    queries: int,
    out_dir: str | Path,
    hyperparameters: dict[str, Any] | None = None,
    *,
    latency_first: bool = False,
    repair: bool = False,
    on_trial: Callable[[Trial, RunProgress], None] | None = None,
    fsync: bool = True,
) -> RunResult:
    """Run (or resume, or just re-read) a search in `out_dir`.

    `latency_first` checks each candidate's latency before its accuracy query: an over-budget
    candidate becomes a trial with `counted=False` and accuracy None, told to the searcher like
    any other, and the query budget counts only accuracy queries.
    """
    if queries < 1:
        raise RunError(f"queries must be >= 1, got {queries}")
    out_dir = Path(out_dir)
    context = SearchContext(problem.space, problem.budget_ms, problem.dataset, dict(problem.scorers))
    searcher = make_searcher(searcher_name, context, seed, **(hyperparameters or {}))
    config = run_config(problem, searcher, searcher_name, queries, latency_first)
    with _RunLock(out_dir):
        existed = _prepare_dir(out_dir, config)
        logged = read_trials(out_dir / LOG_NAME, repair=repair) if existed else []
        stored = read_summary(out_dir) if existed else None
        if stored is not None and stored.get("status") in DONE_STATUSES and stored.get("trials") == len(logged):
            return RunResult(out_dir, config, logged, stored, replayed=len(logged), warnings=list(problem.warnings))
        return _Loop(problem, searcher, config, out_dir, logged, latency_first, on_trial, fsync).run()


class _Loop:
    def __init__(
        self,
        problem: SearchProblem,
        searcher: Searcher,
        config: dict[str, Any],
        out_dir: Path,
        logged: list[Trial],
        latency_first: bool,
        on_trial: Callable[[Trial, RunProgress], None] | None,
        fsync: bool,
    ) -> None:
        self.problem = problem
        self.searcher = searcher
        self.config = config
        self.out_dir = out_dir
        self.logged = logged
        self.latency_first = latency_first
        self.on_trial = on_trial
        self.fsync = fsync
        self.queries = int(config["queries"])
        self.trials: list[Trial] = []
        self.seen: set[str] = set()
        self.progress = RunProgress(queries=self.queries)

    def run(self) -> RunResult:
        status = "interrupted"
        try:
            with TrialLog(self.out_dir / LOG_NAME, fsync=self.fsync) as log:
                status = self._loop(log)
            save_state = getattr(self.searcher, "save_state", None)
            if callable(save_state):
                save_state(self.out_dir)
        finally:
            # A failed replay leaves the directory as it was; anything else is summarized.
            if len(self.trials) >= len(self.logged):
                summary = summarize(self.config, self.trials, status, self.problem)
                atomic_write_json(self.out_dir / SUMMARY_NAME, summary)
        return RunResult(
            self.out_dir,
            self.config,
            self.trials,
            summary,
            min(len(self.logged), len(self.trials)),
            self.problem.warnings,
        )

    def _loop(self, log: TrialLog) -> str:
        counted = 0
        carried_s = 0.0  # searcher time of the previous tell, charged to the next ask's trials
        while counted < self.queries:
            wanted = self.queries - counted
            start = time.perf_counter()
            proposals = self.searcher.ask(wanted)
            ask_s = time.perf_counter() - start + carried_s
            if not proposals:
                self._check_log_consumed()
                return "exhausted"
            self._validate(proposals, wanted)
            batch: list[Trial] = []
            for proposal in proposals:
                trial = self._trial(proposal, ask_s / len(proposals), log)
                batch.append(trial)
                counted += trial.counted
            start = time.perf_counter()
            self.searcher.tell(batch)
            carried_s = time.perf_counter() - start
        self._check_log_consumed()
        return "finished"

    def _validate(self, proposals: list[Proposal], wanted: int) -> None:
        name = self.config["searcher"]
        if len(proposals) > wanted:
            raise HwnasError(f"searcher {name} proposed {len(proposals)} architectures when asked for {wanted}")
        batch: set[str] = set()
        for proposal in proposals:
            arch_str = self.problem.space.format(proposal.arch)
            if arch_str in self.seen or arch_str in batch:
                raise HwnasError(f"searcher {name} proposed {arch_str} again; searchers must not repeat a proposal")
            batch.add(arch_str)

    def _trial(self, proposal: Proposal, searcher_time_s: float, log: TrialLog) -> Trial:
        number = len(self.trials)
        arch_str = self.problem.space.format(proposal.arch)
        if number < len(self.logged):
            trial = self.logged[number]
            if trial.arch_str != arch_str or trial.step != proposal.step:
                raise RunError(
                    f"replaying {self.out_dir / LOG_NAME}: trial {number} is {trial.arch_str} (step {trial.step}) "
                    f"in the log but the searcher now proposes {arch_str} (step {proposal.step}); the code or the "
                    "data changed since the run started: start a new run directory"
                )
            self.progress.replaying = True
        else:
            trial = self._evaluate(number, proposal, arch_str, searcher_time_s)
            log.append(trial)
            self.progress.replaying = False
        self._record(trial)
        return trial

    def _evaluate(self, number: int, proposal: Proposal, arch_str: str, searcher_time_s: float) -> Trial:
        start = time.perf_counter()
        latency_ms = self.problem.latency_ms(proposal.arch)
        query = not self.latency_first or self.problem.is_feasible(latency_ms)
        result = self.problem.evaluate(proposal.arch, latency_ms=latency_ms, with_accuracy=query)
        extra = {"cost_s": result.cost_s} if result.cost_s is not None else {}
        return Trial(
            number=number,
            arch_str=arch_str,
            accuracy=result.accuracy,
            latency_ms=result.latency_ms,
            feasible=result.feasible,
            step=proposal.step,
            counted=query,
            wall_time_s=time.perf_counter() - start,
            searcher_time_s=searcher_time_s,
            extra=extra,
        )

    def _record(self, trial: Trial) -> None:
        self.trials.append(trial)
        self.seen.add(trial.arch_str)
        p = self.progress
        p.trials = len(self.trials)
        p.queries_used += trial.counted
        p.step = trial.step
        if trial.feasible and trial.accuracy is not None and (p.best is None or trial.accuracy > p.best.accuracy):
            p.best = trial
        if self.on_trial is not None:
            self.on_trial(trial, p)

    def _check_log_consumed(self) -> None:
        if len(self.trials) < len(self.logged):
            raise RunError(
                f"{self.out_dir / LOG_NAME} holds {len(self.logged)} trials but the run ended after "
                f"{len(self.trials)} on replay; the log does not belong to this config: start a new run directory"
            )


def load_run(out_dir: str | Path, problem: SearchProblem | None = None) -> tuple[dict[str, Any], list[Trial], dict]:
    """Config, trials and summary of a finished or interrupted run, without running anything.

    The stored summary is used when it covers every logged trial; otherwise (a killed run) the
    summary is recomputed from the log, with ground truth when `problem` is given.
    """
    out_dir = Path(out_dir)
    config = read_config(out_dir)
    trials = read_trials(out_dir / LOG_NAME)
    stored = read_summary(out_dir)
    if stored is not None and stored.get("trials") == len(trials):
        return config, trials, stored
    return config, trials, summarize(config, trials, "incomplete", problem)
