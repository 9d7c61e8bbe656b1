"""Baseline searchers on the ask/tell interface: random search, regularized evolution, local search.

All three propose one architecture per ask, never one already proposed (dedupe by arch string),
compare trials with `constrained_key` (feasible first, then accuracy; infeasible by how far over
budget), and draw every random choice from the searcher's seeded generator, so replaying a log
reproduces them exactly. Their first k proposals do not depend on the query budget.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable
from typing import Any

from hwnas.search.base import Proposal, SearchContext, Searcher, Trial
from hwnas.search.ranking import best_trial, constrained_key


class _OneAtATime(Searcher):
    """Shared bookkeeping: step counter, fresh-architecture sampling, exhaustion."""

    # The first k proposals do not depend on the query budget (`n` is never looked at beyond
    # n >= 1), so a long run's prefix is the shorter run; the benchmark harness relies on it.
    prefix_consistent = True

    def __init__(self, context: SearchContext, seed: int) -> None:
        super().__init__(context, seed)
        self.steps = 0

    def _exhausted(self) -> bool:
        size = self.space.size()
        return size is not None and len(self.queried) >= size

    def _fresh(self, arch: Hashable) -> bool:
        return self.space.format(arch) not in self.queried

    def _random_fresh(self) -> Hashable:
        while True:
            arch = self.space.sample(self.rng)
            if self._fresh(arch):
                return arch

    def _propose(self, arch: Hashable) -> list[Proposal]:
        self.steps += 1
        return [Proposal(arch, self.steps)]

    def _mutate(self, parent: Hashable) -> Hashable:
        """A uniformly chosen unqueried one-edge mutation of `parent` (random fresh arch if none)."""
        neighbours = self.space.neighbours(parent)
        for i in self.rng.permutation(len(neighbours)):
            if self._fresh(neighbours[i]):
                return neighbours[i]
        return self._random_fresh()


class RandomSearch(_OneAtATime):
    """Uniform sampling without repetition."""

    name = "random"

    def ask(self, n: int) -> list[Proposal]:
        if n < 1 or self._exhausted():
            return []
        return self._propose(self._random_fresh())

    def config(self) -> dict[str, Any]:
        return {}


class RegularizedEvolution(_OneAtATime):
    """Real et al. (2019) aging evolution: tournament selection, one-edge mutation, oldest dies.

    The population holds evaluated trials only; a latency-only check (latency-first mode) is
    remembered for dedupe but never joins it.
    """

    name = "rea"

    def __init__(self, context: SearchContext, seed: int, population_size: int = 20, tournament_size: int = 5) -> None:
        super().__init__(context, seed)
        if population_size < 1 or not 1 <= tournament_size <= population_size:
            raise ValueError("need population_size >= 1 and 1 <= tournament_size <= population_size")
        self.population_size = population_size
        self.tournament_size = tournament_size
        self.population: deque[Trial] = deque()

    def ask(self, n: int) -> list[Proposal]:
        if n < 1 or self._exhausted():
            return []
        if len(self.population) < self.population_size:
            return self._propose(self._random_fresh())
        picks = self.rng.choice(len(self.population), size=self.tournament_size, replace=False)
        contenders = [self.population[i] for i in sorted(picks)]
        parent = max(contenders, key=lambda t: constrained_key(t, self.context.budget_ms))
        return self._propose(self._mutate(self.space.parse(parent.arch_str)))

    def tell(self, trials: list[Trial]) -> None:
        super().tell(trials)
        for trial in trials:
            if trial.accuracy is not None:
                self.population.append(trial)
                if len(self.population) > self.population_size:
                    self.population.popleft()

    def config(self) -> dict[str, Any]:
        return {"population_size": self.population_size, "tournament_size": self.tournament_size}


class LocalSearch(_OneAtATime):
    """Best-improvement local search with random restarts (White et al. 2021; NASLib's variant).

    `initial` random architectures (fewer, or none, after a told history), then from the best
    one: query its whole one-edge
    neighbourhood (in random order), move to the best neighbour when it beats the current
    architecture, otherwise restart from a fresh random architecture.
    """

    name = "local"

    def __init__(self, context: SearchContext, seed: int, initial: int = 10) -> None:
        super().__init__(context, seed)
        if initial < 1:
            raise ValueError("initial must be >= 1")
        self.initial = initial
        self.by_arch: dict[str, Trial] = {}
        self.current: Trial | None = None
        self.queue: list[Hashable] = []  # current's neighbours not yet looked at
        self.restart_arch: str | None = None

    def _move_to(self, trial: Trial) -> None:
        self.current = trial
        neighbours = self.space.neighbours(self.space.parse(trial.arch_str))
        self.queue = [neighbours[i] for i in self.rng.permutation(len(neighbours))]

    def ask(self, n: int) -> list[Proposal]:
        if n < 1 or self._exhausted():
            return []
        if max(self.steps, len(self.trials)) < self.initial:  # a told history counts as initial trials
            return self._propose(self._random_fresh())
        if self.restart_arch is not None:
            # The restart proposal was never told (a resume that continued from history instead):
            # start again from the best trial known.
            self.restart_arch, self.current = None, None
        if self.current is None:
            best = best_trial(self.trials, self.context.budget_ms)
            if best is None:  # every initial proposal is still untold: cannot happen under the runner
                raise RuntimeError("local search asked before any initial architecture was told")
            self._move_to(best)
        budget = self.context.budget_ms
        while True:
            while self.queue:
                arch = self.queue.pop(0)
                if self._fresh(arch):
                    return self._propose(arch)
            current = self.current
            neighbours = self.space.neighbours(self.space.parse(current.arch_str))
            best = best_trial([self.by_arch[self.space.format(a)] for a in neighbours], budget)
            if best is not None and constrained_key(best, budget) > constrained_key(current, budget):
                self._move_to(best)
                continue
            arch = self._random_fresh()
            self.current = None
            self.restart_arch = self.space.format(arch)
            return self._propose(arch)

    def tell(self, trials: list[Trial]) -> None:
        super().tell(trials)
        for trial in trials:
            self.by_arch[trial.arch_str] = trial
            if trial.arch_str == self.restart_arch:
                self.restart_arch = None
                self._move_to(trial)

    def config(self) -> dict[str, Any]:
        return {"initial": self.initial}
