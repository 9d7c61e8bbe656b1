"""ProxyBO (Shen et al., AAAI 2023): Bayesian optimization combined with zero-cost proxies,
under a latency budget, on the ask/tell contract.

Each step (after `n_init` random architectures):
1. fit a probabilistic random forest (SMAC-style: bootstrapped trees, spread across trees as
   the predictive variance) on the accuracies observed so far, and a Bayesian linear model
   (additive op costs, with predictive variance) on the latency of every trial, latency-only
   checks included: latency is close to a sum of per-op costs, which a forest cannot learn
   from the few trials of the first steps;
2. measure generalization: for each proxy, the share of order-preserving pairs between its
   scores and the observed accuracies (eq. 5); for the surrogate the same share from k-fold
   out-of-fold predictions (eq. 6);
3. turn the measures into influences by a softmax with temperature tau0 / (1 + log T) (eq. 8);
4. draw `n_candidates` unproposed architectures, half one- and two-edge mutations of the best
   observed ones (local), half uniform (random); keep those the latency forest predicts to
   be within budget with probability >= `feasibility_threshold` (the most likely ones when
   fewer than `min_candidates` pass);
5. rank the candidates by constrained expected improvement (EI x probability of feasibility,
   Gardner et al. 2014) and by each proxy, and propose the one with the lowest
   influence-weighted rank sum (eq. 7).

Proxy scores come from `SearchContext.scorers[name]` (anything with `accuracy(arch)`), else
from the committed zero-cost table of the dataset (`benchmarks/zero_cost/`). Everything is a
function of (seed, hyperparameters, trials told), so replaying a log gives the same proposals.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np
import sklearn
from scipy import stats
from sklearn.linear_model import BayesianRidge
from sklearn.tree import DecisionTreeRegressor

from hwnas.search.base import Proposal, SearchContext, Searcher, Trial
from hwnas.search.ranking import constrained_key
from hwnas.zc.source import search_scorer

DEFAULT_PROXIES = "synflow,snip,jacob_cov"
_VARIANCE_FLOOR = 1e-6


def order_preserving_share(scores: np.ndarray, truth: np.ndarray) -> float:
    """G = share of pairs (j < k) on which `scores` and `truth` order the two the same way
    (eq. 5: (s_j < s_k) XNOR (y_j < y_k)); 0.5 when there are fewer than two points."""
    n = len(truth)
    if n < 2:
        return 0.5
    s_less = scores[:, None] < scores[None, :]
    y_less = truth[:, None] < truth[None, :]
    agree = s_less == y_less
    upper = np.triu_indices(n, k=1)
    return float(agree[upper].mean())


def influences(measures: np.ndarray, tau0: float, iteration: int) -> np.ndarray:
    """Softmax of the measures with temperature tau0 / (1 + log T) (eq. 8)."""
    tau = tau0 / (1.0 + math.log(max(1, iteration)))
    logits = measures / tau
    logits = logits - logits.max()
    weights = np.exp(logits)
    return weights / weights.sum()


def expected_improvement(mean: np.ndarray, std: np.ndarray, best: float) -> np.ndarray:
    """EI of maximizing (eq. 1 mirrored): E[max(y - best, 0)] under N(mean, std^2)."""
    gap = mean - best
    z = gap / std
    return gap * stats.norm.cdf(z) + std * stats.norm.pdf(z)


class _Forest:
    """A probabilistic random forest in SMAC's style: bootstrapped regression trees with 5/6 of
    the features per split and min 3 samples per split; the spread of the trees' predictions is
    the predictive uncertainty. Trees are fitted directly (sklearn's ensemble wrapper clones
    every tree through parameter introspection, which costs more than the fits on a few hundred
    points and would dominate a 200-step search)."""

    def __init__(self, n_trees: int, min_samples_leaf: int, rng: np.random.Generator) -> None:
        self.n_trees = n_trees
        self.min_samples_leaf = min_samples_leaf
        self.rng = rng
        self.trees: list[DecisionTreeRegressor] = []

    def fit(self, x: np.ndarray, y: np.ndarray) -> _Forest:
        x = np.ascontiguousarray(x, dtype=np.float32)
        y = np.asarray(y, dtype=np.float64)
        n = len(y)
        with sklearn.config_context(skip_parameter_validation=True):  # fixed, valid parameters
            for _ in range(self.n_trees):
                self.trees.append(self._tree(x, y, self.rng.integers(0, n, size=n)))
        return self

    def _tree(self, x: np.ndarray, y: np.ndarray, rows: np.ndarray) -> DecisionTreeRegressor:
        tree = DecisionTreeRegressor(
            max_features=5 / 6,
            min_samples_split=3,
            min_samples_leaf=self.min_samples_leaf,
            random_state=int(self.rng.integers(2**31 - 1)),
        )
        return tree.fit(x[rows], y[rows], check_input=False)

    def predict(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard deviation across trees."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        per_tree = np.stack([tree.predict(x, check_input=False) for tree in self.trees])
        return per_tree.mean(axis=0), np.sqrt(np.maximum(per_tree.var(axis=0), _VARIANCE_FLOOR))


def _ranks(values: np.ndarray) -> np.ndarray:
    """1 = largest value; ties share their average rank."""
    return stats.rankdata(-values, method="average")


class ProxyBOSearcher(Searcher):
    """ProxyBO with a latency constraint (see the module docstring)."""

    name = "proxybo"
    # One proposal per ask, never looking at `n`: the first k proposals do not depend on the budget.
    prefix_consistent = True

    def __init__(
        self,
        context: SearchContext,
        seed: int,
        tau0: float = 0.05,
        proxies: str = DEFAULT_PROXIES,
        n_init: int = 5,
        n_candidates: int = 500,
        local_share: float = 0.5,
        n_parents: int = 5,
        k_folds: int = 5,
        n_trees: int = 10,
        min_samples_leaf: int = 3,
        feasibility_threshold: float = 0.5,
        min_candidates: int = 20,
    ) -> None:
        super().__init__(context, seed)
        if tau0 <= 0:
            raise ValueError("tau0 must be > 0")
        if n_init < 2 or n_candidates < 1 or k_folds < 2 or n_trees < 1 or n_parents < 1:
            raise ValueError("need n_init >= 2, n_candidates >= 1, k_folds >= 2, n_trees >= 1, n_parents >= 1")
        if not 0 <= local_share <= 1 or not 0 <= feasibility_threshold <= 1:
            raise ValueError("local_share and feasibility_threshold must be in [0, 1]")
        self.tau0 = tau0
        self.proxy_names = [p.strip() for p in proxies.split(",") if p.strip()]
        self.n_init = n_init
        self.n_candidates = n_candidates
        self.local_share = local_share
        self.n_parents = n_parents
        self.k_folds = k_folds
        self.n_trees = n_trees
        self.min_samples_leaf = min_samples_leaf
        self.feasibility_threshold = feasibility_threshold
        self.min_candidates = min_candidates
        self.scorers = {name: search_scorer(name, context.scorers, context.dataset) for name in self.proxy_names}
        self.steps = 0
        self._parsed: dict[str, Hashable] = {}
        self.last_influence: dict[str, float] = {}  # of the latest model-based step, for inspection

    def config(self) -> dict[str, Any]:
        return {
            "tau0": self.tau0,
            "proxies": ",".join(self.proxy_names),
            "n_init": self.n_init,
            "n_candidates": self.n_candidates,
            "local_share": self.local_share,
            "n_parents": self.n_parents,
            "k_folds": self.k_folds,
            "n_trees": self.n_trees,
            "min_samples_leaf": self.min_samples_leaf,
            "feasibility_threshold": self.feasibility_threshold,
            "min_candidates": self.min_candidates,
            "proxy_sources": {name: getattr(s, "name", type(s).__name__) for name, s in self.scorers.items()},
        }

    # -- encoding ------------------------------------------------------------------------------

    def _arch(self, arch_str: str) -> Hashable:
        if arch_str not in self._parsed:
            self._parsed[arch_str] = self.space.parse(arch_str)
        return self._parsed[arch_str]

    def _encode(self, archs: Sequence[Hashable]) -> np.ndarray:
        rows = []
        n_ops = self.space.relaxation.n_ops
        for arch in archs:
            ops, _ = self.space.choices(arch)
            row = np.zeros(len(ops) * n_ops)
            row[np.arange(len(ops)) * n_ops + ops] = 1.0
            rows.append(row)
        return np.asarray(rows)

    def _proxy_scores(self, name: str, arch_strs: Sequence[str]) -> np.ndarray:
        scorer = self.scorers[name]
        return np.asarray([float(scorer.accuracy(a)) for a in arch_strs])

    # -- models --------------------------------------------------------------------------------

    def _forest(self, x: np.ndarray, y: np.ndarray) -> _Forest:
        return _Forest(self.n_trees, self.min_samples_leaf, self.rng).fit(x, y)

    def _surrogate_measure(self, x: np.ndarray, y: np.ndarray) -> float:
        """Eq. 6: order-preserving share of out-of-fold predictions (fold = position mod k)."""
        k = min(self.k_folds, len(y))
        folds = self.rng.permutation(len(y)) % k
        predicted = np.empty(len(y))
        for fold in range(k):
            held = folds == fold
            predicted[held] = self._forest(x[~held], y[~held]).predict(x[held])[0]
        return order_preserving_share(predicted, y)

    # -- candidates ----------------------------------------------------------------------------

    def _mutate(self, arch: Hashable) -> Hashable:
        """One op changed on one choice node, uniformly (cheaper than listing every neighbour)."""
        ops, edges = self.space.choices(arch)
        ops = ops.copy()
        k = int(self.rng.integers(len(ops)))
        other = int(self.rng.integers(self.space.relaxation.n_ops - 1))
        ops[k] = other if other < ops[k] else other + 1
        return self.space.from_choices(ops, edges)

    def _candidates(self, parents: list[Trial]) -> list[Hashable]:
        chosen: dict[str, Hashable] = {}
        size = self.space.size()
        room = self.n_candidates if size is None else min(self.n_candidates, size - len(self.queried))
        n_local = round(room * self.local_share) if parents else 0
        parent_archs = [self._arch(t.arch_str) for t in parents]
        attempts = 0
        while len(chosen) < n_local and attempts < 20 * max(1, n_local):
            attempts += 1
            child = parent_archs[int(self.rng.integers(len(parent_archs)))]
            for _ in range(1 + int(self.rng.random() < 0.5)):  # one or two edges
                child = self._mutate(child)
            key = self.space.format(child)
            if key not in self.queried:
                chosen.setdefault(key, child)
        attempts = 0
        while len(chosen) < room and attempts < 50 * max(1, room):
            attempts += 1
            arch = self.space.sample(self.rng)
            key = self.space.format(arch)
            if key not in self.queried:
                chosen.setdefault(key, arch)
        return list(chosen.values())

    def _random_fresh(self) -> Hashable | None:
        size = self.space.size()
        if size is not None and len(self.queried) >= size:
            return None
        while True:
            arch = self.space.sample(self.rng)
            if self.space.format(arch) not in self.queried:
                return arch

    # -- ask -----------------------------------------------------------------------------------

    def ask(self, n: int) -> list[Proposal]:
        if n < 1:
            return []
        observed = [t for t in self.trials if t.accuracy is not None]
        if len(observed) < self.n_init:
            arch = self._random_fresh()
        else:
            arch = self._model_based(observed)
        if arch is None:
            return []
        self.steps += 1
        return [Proposal(arch, self.steps)]

    def _model_based(self, observed: list[Trial]) -> Hashable | None:
        budget = self.context.budget_ms
        observed_archs = [self._arch(t.arch_str) for t in observed]
        x_obs = self._encode(observed_archs)
        y_obs = np.asarray([t.accuracy for t in observed], dtype=float)
        accuracy_forest = self._forest(x_obs, y_obs)
        all_archs = [self._arch(t.arch_str) for t in self.trials]
        latency_model = BayesianRidge().fit(
            self._encode(all_archs), np.asarray([t.latency_ms for t in self.trials], dtype=float)
        )
        # Generalization measures -> influences (surrogate first, then the proxies in order).
        measures = [self._surrogate_measure(x_obs, y_obs)]
        observed_strs = [t.arch_str for t in observed]
        measures += [order_preserving_share(self._proxy_scores(p, observed_strs), y_obs) for p in self.proxy_names]
        weights = influences(np.asarray(measures), self.tau0, len(observed))
        self.last_influence = dict(zip(["surrogate", *self.proxy_names], map(float, weights), strict=True))

        parents = sorted(self.trials, key=lambda t: constrained_key(t, budget), reverse=True)[: self.n_parents]
        candidates = self._candidates(parents)
        if not candidates:
            return None
        x_cand = self._encode(candidates)
        lat_mean, lat_std = latency_model.predict(x_cand, return_std=True)
        feasible_p = stats.norm.cdf((budget - lat_mean) / np.maximum(lat_std, _VARIANCE_FLOOR))
        keep = np.flatnonzero(feasible_p >= self.feasibility_threshold)
        if len(keep) < min(self.min_candidates, len(candidates)):
            keep = np.argsort(-feasible_p, kind="stable")[: min(self.min_candidates, len(candidates))]
        keep = np.sort(keep)
        candidates = [candidates[i] for i in keep]
        candidate_strs = [self.space.format(a) for a in candidates]
        x_cand, feasible_p = x_cand[keep], feasible_p[keep]

        feasible_acc = [t.accuracy for t in observed if t.feasible]
        mean, std = accuracy_forest.predict(x_cand)
        if feasible_acc:
            acquisition = expected_improvement(mean, std, max(feasible_acc)) * feasible_p
        else:  # nothing feasible yet: look for feasibility first (Gardner et al. 2014)
            acquisition = feasible_p
        combined = weights[0] * _ranks(acquisition)
        for weight, name in zip(weights[1:], self.proxy_names, strict=True):
            combined = combined + weight * _ranks(self._proxy_scores(name, candidate_strs))
        return candidates[int(np.argmin(combined))]
