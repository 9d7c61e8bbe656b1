"""The one run loop every searcher goes through: ask, evaluate, log, tell; resume by replay.

A run directory holds `config.json` (problem, searcher, every hyperparameter, seed, queries),
the append-only `trials.jsonl` and `summary.json`. Rerunning with the same config replays the
log through a fresh searcher with the same seed: while each proposal equals the logged
architecture, the logged result is told instead of evaluated, so on the same machine and
library versions an interrupted and resumed run ends with the trials of an uninterrupted one.
Where the searcher proposes something else (another CPU's floating point, a library upgrade, a
fixed searcher), the rest of the log is kept as it is and told to the searcher as history, and
the run continues from there: nothing logged is evaluated again or dropped.

A finished run continues to a larger `queries` (extend), and a new run can start from the
trials of earlier runs on the same problem (warm start) without re-querying any of them.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.metadata
import json
import os
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hwnas import __version__
from hwnas.atomic import atomic_write_json
from hwnas.errors import HwnasError, RunError
from hwnas.profiling.machine import cpu_model
from hwnas.search.base import Proposal, SearchContext, Searcher, Trial
from hwnas.search.problem import SearchProblem
from hwnas.search.registry import make_searcher
from hwnas.search.summary import DONE_STATUSES, SUMMARY_NAME, summarize
from hwnas.search.trial_log import LOG_NAME, TrialLog, read_trials

CONFIG_NAME = "config.json"
LOCK_NAME = ".lock"
RUN_FORMAT = "hwnas-run"
# Keys of config.json that may differ between the original run and a resume.
UNCOMPARED_KEYS = ("versions", "queries_before", "warm_start_trials")


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
    # Set when replay diverged: {"trial": first trial told as history, "reason": ..., "cause": ...}.
    continued: dict[str, Any] | None = None


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
        "versions": run_versions(),
    }
    return json.loads(json.dumps(config, sort_keys=True, default=str))


def run_versions() -> dict[str, str]:
    """What a searcher's floating point depends on besides its inputs: libraries and the machine."""
    versions = {"hwnas": __version__, "python": platform.python_version(), "numpy": np.__version__}
    for package in ("torch", "scikit-learn"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions[package] = importlib.metadata.version(package)
    versions["cpu"] = cpu_model()
    versions["platform"] = f"{platform.system()}-{platform.machine()}"
    return versions


def divergence_cause(stored: dict[str, Any] | None, current: dict[str, Any]) -> str:
    """Why a replay may have diverged: what differs between the versions a run recorded and now."""
    stored = stored or {}
    changed = [
        f"{key} {stored.get(key, 'unrecorded')} -> {current[key]}"
        for key in sorted(current)
        if stored.get(key) != current[key]
    ]
    if changed:
        return "changed since the run started: " + "; ".join(changed)
    return (
        "same library versions and machine as when the run started: the searcher's code or the data changed, "
        "or its floating point is not reproducible here"
    )


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
    missing = [k for k in ("problem", "searcher", "seed", "queries") if k not in config]
    problem = config.get("problem")
    if isinstance(problem, dict):
        missing += [f"problem.{k}" for k in ("space", "device", "dataset", "budget_ms") if k not in problem]
    elif "problem" not in missing:
        missing.append("problem")
    if missing:
        raise RunError(f"{path} lacks {', '.join(missing)}; restore it from the run's original or start a new run")
    return config


def read_summary(out_dir: Path) -> dict[str, Any] | None:
    path = Path(out_dir) / SUMMARY_NAME
    return _read_json(path) if path.is_file() else None


def _prepare_dir(out_dir: Path, config: dict[str, Any]) -> dict[str, Any] | None:
    """Create or check the run directory; the stored config when it already held this run.

    A larger `queries` than the stored run's extends it (the config is rewritten with the new
    budget and the old one kept in `queries_before`); a smaller one is refused.
    """
    config_path = out_dir / CONFIG_NAME
    if config_path.is_file():
        stored = read_config(out_dir)
        diff = first_difference({**stored, "queries": config["queries"]}, config)
        if diff is not None:
            key, old, new = diff
            raise RunError(
                f"{out_dir} holds a run with a different config: {key} is {old!r} there and {new!r} now; "
                "rerun with the original settings to resume, or choose another --out"
            )
        old_queries = int(stored["queries"])
        if config["queries"] < old_queries:
            raise RunError(
                f"{out_dir} holds a run of {old_queries} queries; rerun with --queries {old_queries} to resume or "
                f"re-print it, a larger --queries to extend it, or choose another --out for {config['queries']}"
            )
        if config["queries"] > old_queries:
            extended = {**stored, "queries": config["queries"]}
            extended["queries_before"] = [*stored.get("queries_before", []), old_queries]
            atomic_write_json(config_path, extended)
            return extended
        return stored
    if out_dir.exists() and any(p.name != LOCK_NAME for p in out_dir.iterdir()):
        raise RunError(f"{out_dir} exists and is not a run directory (no {CONFIG_NAME}); choose another --out")
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_json(config_path, config)
    return None


def warm_start_history(
    sources: Sequence[Path], problem_spec: dict[str, Any], counts: Sequence[int] | None = None
) -> tuple[list[Trial], list[int]]:
    """The trials of earlier runs on the same problem, each architecture once (first run wins).

    `counts` (recorded when the run started) reads only that many trials of each source, so a
    source that grew since does not change what a resumed run was told.
    """
    history: list[Trial] = []
    seen: set[str] = set()
    used: list[int] = []
    for i, source in enumerate(sources):
        source = Path(source)
        stored = read_config(source)
        diff = first_difference(stored.get("problem"), problem_spec, "problem")
        if diff is not None:
            key, old, new = diff
            raise RunError(
                f"--warm-start {source} is a run on another problem: {key} is {old!r} there and {new!r} here; "
                "warm-start only from runs on the same space, device, dataset, budget and sources"
            )
        trials = read_trials(source / LOG_NAME)
        if counts is not None:
            if len(trials) < counts[i]:
                raise RunError(
                    f"--warm-start {source} now holds {len(trials)} trials but this run started from {counts[i]}; "
                    "restore that run's log or start a new run directory"
                )
            trials = trials[: counts[i]]
        used.append(len(trials))
        for trial in trials:
            if trial.arch_str not in seen:
                seen.add(trial.arch_str)
                history.append(trial)
    return history, used


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
    warm_start: Sequence[str | Path] = (),
) -> RunResult:
    """Run (or resume, extend, or just re-read) a search in `out_dir`.

    `latency_first` checks each candidate's latency before its accuracy query: an over-budget
    candidate becomes a trial with `counted=False` and accuracy None, told to the searcher like
    any other, and the query budget counts only accuracy queries. `warm_start` run directories
    (same problem) are told to the searcher as history before its first ask; only new queries
    count, and none of their architectures is queried again.
    """
    if queries < 1:
        raise RunError(f"queries must be >= 1, got {queries}")
    out_dir = Path(out_dir)
    context = SearchContext(problem.space, problem.budget_ms, problem.dataset, dict(problem.scorers))
    searcher = make_searcher(searcher_name, context, seed, **(hyperparameters or {}))
    config = run_config(problem, searcher, searcher_name, queries, latency_first)
    sources = [Path(p) for p in warm_start]
    if sources:
        config["warm_start"] = [str(p) for p in sources]
    with _RunLock(out_dir):
        stored_config = (
            read_config(out_dir) if (out_dir / CONFIG_NAME).is_file() and sources else None
        )
        counts = stored_config.get("warm_start_trials") if stored_config else None
        history, used = warm_start_history(sources, config["problem"], counts) if sources else ([], [])
        if sources:
            config["warm_start_trials"] = used
        stored = _prepare_dir(out_dir, config)
        existed = stored is not None
        config_now = stored if existed else config
        logged = read_trials(out_dir / LOG_NAME, repair=repair) if existed else []
        summary = read_summary(out_dir) if existed else None
        if (
            summary is not None
            and summary.get("status") in DONE_STATUSES
            and summary.get("trials") == len(logged)
            and summary.get("queries") == queries
        ):
            return RunResult(out_dir, config_now, logged, summary, len(logged), list(problem.warnings))
        recorded = stored.get("versions") if existed else None
        return _Loop(
            problem, searcher, config_now, out_dir, logged, latency_first, on_trial, fsync, history, recorded
        ).run()


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
        history: list[Trial],
        recorded_versions: dict[str, Any] | None,
    ) -> None:
        self.problem = problem
        self.searcher = searcher
        self.config = config
        self.out_dir = out_dir
        self.logged = logged
        self.latency_first = latency_first
        self.on_trial = on_trial
        self.fsync = fsync
        self.history = history
        self.recorded_versions = recorded_versions
        self.queries = int(config["queries"])
        self.trials: list[Trial] = []
        self.seen: set[str] = {t.arch_str for t in history}
        self.progress = RunProgress(queries=self.queries)
        self.continued: dict[str, Any] | None = None

    def run(self) -> RunResult:
        status = "interrupted"
        try:
            with TrialLog(self.out_dir / LOG_NAME, fsync=self.fsync) as log:
                status = self._loop(log)
            save_state = getattr(self.searcher, "save_state", None)
            if callable(save_state):
                save_state(self.out_dir)  # a cache for inspection: resuming never reads it
        finally:
            # A failed replay leaves the directory as it was; anything else is summarized.
            if len(self.trials) >= len(self.logged):
                summary = summarize(self.config, self.trials, status, self.problem)
                summary["continued_from_history"] = self.continued
                provenance = getattr(self.problem.latency, "provenance", None)
                if callable(provenance):
                    summary["latency_provenance"] = provenance()
                if self.history:
                    summary["warm_start"] = {"runs": self.config.get("warm_start", []), "trials": len(self.history)}
                atomic_write_json(self.out_dir / SUMMARY_NAME, summary)
        return RunResult(
            self.out_dir,
            self.config,
            self.trials,
            summary,
            min(len(self.logged), len(self.trials)),
            self.problem.warnings,
            self.continued,
        )

    def _replaying(self) -> bool:
        return len(self.trials) < len(self.logged)

    def _loop(self, log: TrialLog) -> str:
        if self.history:
            self.searcher.tell(list(self.history))
        counted = 0
        carried_s = 0.0  # searcher time of the previous tell, charged to the next ask's trials
        while counted < self.queries:
            wanted = self.queries - counted
            start = time.perf_counter()
            proposals = self.searcher.ask(wanted)
            ask_s = time.perf_counter() - start + carried_s
            if not proposals:
                if self._replaying():
                    counted += self._continue_from_history("the searcher proposed nothing more")
                    continue
                return "exhausted"
            self._validate(proposals, wanted)
            batch: list[Trial] = []
            diverged: str | None = None
            for proposal in proposals:
                diverged = self._divergence(proposal) if self._replaying() else None
                if diverged:
                    break
                trial = self._trial(proposal, ask_s / len(proposals), log)
                batch.append(trial)
                counted += trial.counted
            start = time.perf_counter()
            self.searcher.tell(batch)
            carried_s = time.perf_counter() - start
            if diverged:
                counted += self._continue_from_history(diverged)
        self._check_log_consumed()
        return "finished"

    def _divergence(self, proposal: Proposal) -> str | None:
        """Why `proposal` is not the next logged trial (None when it is)."""
        number = len(self.trials)
        logged = self.logged[number]
        arch_str = self.problem.space.format(proposal.arch)
        if logged.arch_str == arch_str and logged.step == proposal.step:
            return None
        return (
            f"trial {number} is {logged.arch_str} (step {logged.step}) in the log but the searcher now proposes "
            f"{arch_str} (step {proposal.step})"
        )

    def _continue_from_history(self, reason: str) -> int:
        """Keep the rest of the log as it is, tell it to the searcher; the counted queries it holds."""
        number = len(self.trials)
        rest = self.logged[number:]
        self.progress.replaying = True
        for trial in rest:
            self._record(trial)
        self.searcher.tell(rest)
        self.continued = {
            "trial": number,
            "reason": reason,
            "cause": divergence_cause(self.recorded_versions, run_versions()),
        }
        return sum(t.counted for t in rest)

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
        if number < len(self.logged):
            trial = self.logged[number]
            self.progress.replaying = True
        else:
            arch_str = self.problem.space.format(proposal.arch)
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
    fresh = summarize(config, trials, "incomplete", problem)
    # A summary missing fields (edited, or written by an older version) is recomputed from the log.
    if stored is not None and stored.get("trials") == len(trials) and set(fresh) <= set(stored):
        return config, trials, stored
    return config, trials, fresh
