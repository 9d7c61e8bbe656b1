"""MetaSchedule tuning of a Relax module for the host CPU, with a reusable tuning database.

Tuning works on the legalized, fused module (`prepare`): its fused TIR functions are the tasks,
and `compile_tuned` applies the database to the same functions, so a database written by one
run is reused by the next (tasks already tuned keep their records; new trials add to them).
Trials are measured with MetaSchedule's local builder and runner, so only targets this machine
can run are tuned here; a board's target would need an RPC runner. One trial costs ~27 s on a
2-core machine, so budgets are small.
"""

from __future__ import annotations

import math
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from hwnas.errors import BadInputError
from hwnas.tvm.targets import is_cross, make_target, target_spec

# MetaSchedule's default of 30 s per candidate build is too short on a loaded 2-core machine
# (every candidate then fails to build and tuning silently keeps the untuned schedules).
BUILD_TIMEOUT_S = 300
EVOLUTION_MIN_TRIALS = 64
FAILED_RUN_S = 1e9  # MetaSchedule records a failed build or run as 1e10 s


def tuning_target(target: str | dict[str, Any], threads: int = 1) -> dict[str, Any]:
    """The target dict for tuning: MetaSchedule needs `num-cores`; cross targets are refused."""
    spec = target_spec(target, threads)
    if is_cross(spec):
        raise BadInputError(
            f"tuning runs trials on this machine, which cannot run {spec.get('mtriple')} code; "
            "build that target untuned (--trials 0) or tune on the board"
        )
    spec.setdefault("num-cores", int(threads))
    return spec


def prepare(mod: Any, target: dict[str, Any]) -> Any:
    """Legalize and fuse (Relax's `zero` pipeline): the form tasks are extracted from."""
    from tvm import relax

    with make_target(target):
        return relax.get_pipeline("zero")(mod)


def task_names(mod: Any, target: dict[str, Any]) -> list[str]:
    from tvm.s_tir import meta_schedule as ms

    return [task.task_name for task in ms.relax_integration.extract_tasks(mod, make_target(target))]


def tune(mod: Any, target: dict[str, Any], database_dir: str | Path, trials: int, seed: int = 0) -> Any:
    """Spend `trials` MetaSchedule trials on the prepared module; records go to `database_dir`."""
    from tvm.s_tir import meta_schedule as ms

    if trials < 1:
        raise BadInputError(f"tuning needs at least 1 trial, got {trials}")
    Path(database_dir).mkdir(parents=True, exist_ok=True)
    # Spread a small budget over every task: left to itself the scheduler spends all of it on the
    # first task (its first round hands each task a full batch of trials).
    per_task = max(1, math.ceil(trials / max(1, len(task_names(mod, target)))))
    return ms.relax_integration.tune_relax(
        mod,
        {},
        make_target(target),
        str(database_dir),
        max_trials_global=trials,
        max_trials_per_task=per_task,
        num_trials_per_iter=min(per_task, 64),
        builder=ms.builder.LocalBuilder(timeout_sec=BUILD_TIMEOUT_S),
        **search_settings(per_task),
        seed=seed,
    )


def search_settings(per_task: int) -> dict[str, str]:
    """Search strategy and cost model for a per-task budget.

    Below one batch per task the evolutionary search has nothing to evolve (its first batch is
    drawn from random traces ranked by an untrained cost model) and costs ~25 s per task: random
    traces are sampled directly, with no cost model. Larger budgets evolve, guided by MetaSchedule's
    XGBoost cost model when xgboost is installed (else unguided: `pip install xgboost`).
    """
    if per_task < EVOLUTION_MIN_TRIALS:
        return {"strategy": "replay-trace", "cost_model": "random"}
    return {"strategy": "evolutionary", "cost_model": "xgb" if find_spec("xgboost") else "random"}


def compile_tuned(mod: Any, target: dict[str, Any], database_dir: str | Path) -> Any:
    """Compile the prepared module with the database's best schedules (untuned functions as is)."""
    from tvm.s_tir import meta_schedule as ms

    Path(database_dir).mkdir(parents=True, exist_ok=True)
    database = ms.database.JSONDatabase(work_dir=str(database_dir))
    return ms.relax_integration.compile_relax(database, mod, make_target(target), None)


def measured_records(database_dir: str | Path) -> tuple[int, int]:
    """(records whose candidate built and ran, all records): failed candidates are stored too,
    with a huge run time, so a tuning that silently failed shows here."""
    from tvm.s_tir import meta_schedule as ms

    records = ms.database.JSONDatabase(work_dir=str(database_dir)).get_all_tuning_records()
    valid = sum(1 for r in records if r.run_secs and max(float(s) for s in r.run_secs) < FAILED_RUN_S)
    return valid, len(records)
