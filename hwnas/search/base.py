"""The ask/tell contract every searcher speaks (OptiProxy, baselines, ProxyBO).

A run's trial log is the single source of truth: the runner asks a searcher for proposals,
evaluates them on the problem, appends trials to the log and tells the searcher. Resuming
replays the log through a fresh searcher with the same seed, so searchers must be
deterministic given (seed, hyperparameters, the trials told so far).

Continuing from history (Optuna's `add_trial`): `tell` also takes trials the searcher never
proposed, any number of them, before the first ask or between asks (a warm start from other
runs, the rest of a log a resume could not replay). A searcher continues from them: it never
proposes an architecture it was told, it uses them as it uses its own trials (the proxy or
surrogate is fitted on them, the population is built from them, local search moves from the
best of them), and a proposal it made but was never told may be forgotten. Every registered
searcher is tested against this contract.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Hashable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from hwnas.space.base import SearchSpace


@dataclass(frozen=True)
class Proposal:
    """An architecture a searcher wants evaluated, and the searcher step that produced it."""

    arch: Hashable
    step: int


@dataclass(frozen=True)
class Trial:
    """One evaluated proposal, as logged.

    `counted` is False for a latency-only check (the candidate was over budget, so no accuracy
    query was spent on it); such trials have `accuracy=None` and do not use the query budget.
    """

    number: int  # position in the log, 0-based
    arch_str: str
    accuracy: float | None
    latency_ms: float
    feasible: bool
    step: int
    counted: bool = True
    wall_time_s: float = 0.0  # time spent evaluating (table lookup, measurement, training)
    searcher_time_s: float = 0.0  # searcher compute spent on the ask that produced it
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Trial:
        return cls(**data)


@dataclass(frozen=True)
class SearchContext:
    """What a searcher may know about the problem besides the trials it is told."""

    space: SearchSpace
    budget_ms: float
    dataset: str
    # Optional cheap per-architecture scorers (zero-cost proxies, latency predictors) keyed by
    # name; searchers that use them say so in their config.
    scorers: dict[str, Any] = field(default_factory=dict)


class Searcher(ABC):
    """Base class: holds the context, the seed's generator, and everything told so far."""

    name: str = "searcher"

    def __init__(self, context: SearchContext, seed: int) -> None:
        self.context = context
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.trials: list[Trial] = []
        self.queried: set[str] = set()  # every arch string proposed so far, counted or not

    @property
    def space(self) -> SearchSpace:
        return self.context.space

    @abstractmethod
    def ask(self, n: int) -> list[Proposal]:
        """Up to `n` new proposals (never an arch string already proposed)."""

    def tell(self, trials: list[Trial]) -> None:
        """Record evaluated trials: its own proposals or any others (see the module docstring)."""
        self.trials.extend(trials)
        self.queried.update(t.arch_str for t in trials)

    @abstractmethod
    def config(self) -> dict[str, Any]:
        """Every hyperparameter, so a run records exactly what it used."""
