"""Constrained comparison of trials: feasible beats infeasible, then accuracy, then violation.

Shared by every searcher and by run summaries so "best" means the same thing everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable

from hwnas.search.base import Trial


def constrained_key(trial: Trial, budget_ms: float) -> tuple[int, float, float]:
    """Sort key, larger is better.

    Feasible trials rank by accuracy. Infeasible ones rank below every feasible one, by how far
    they are over budget (less is better), then by accuracy; a latency-only check (accuracy
    None) ranks below an evaluated trial with the same violation.
    """
    accuracy = trial.accuracy if trial.accuracy is not None else float("-inf")
    if trial.feasible:
        return (1, accuracy, 0.0)
    return (0, -(trial.latency_ms - budget_ms), accuracy)


def best_trial(trials: Iterable[Trial], budget_ms: float) -> Trial | None:
    """The best trial by `constrained_key` (the earliest among equals), or None when empty."""
    best: Trial | None = None
    best_key: tuple[int, float, float] | None = None
    for trial in trials:
        key = constrained_key(trial, budget_ms)
        if best_key is None or key > best_key:
            best, best_key = trial, key
    return best


def best_feasible(trials: Iterable[Trial]) -> Trial | None:
    """The most accurate feasible evaluated trial (the earliest among equals)."""
    best: Trial | None = None
    for trial in trials:
        if trial.feasible and trial.accuracy is not None and (best is None or trial.accuracy > best.accuracy):
            best = trial
    return best
