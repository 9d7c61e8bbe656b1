"""Latency models fitted on a few hundred measured architectures, predicting every other one.

- `additive`: ridge regression of latency on per-edge operation indicators (`features.py`):
  the cost of a network is close to the sum of the costs of what runs on each edge. Exact on
  estimator-based tables (Eyeriss, FPGA), a strong baseline on measured ones.
- `hybrid`: the additive model times a learned correction: extra trees fit the log ratio of
  measured to additive latency, which catches what is not additive (fused kernels, the
  fixed overhead of tiny networks, memory effects) without losing the additive trend where
  trees extrapolate badly.
- `gcn`: the latency head of the OptiProxy GCN (`hwnas.proxy.Proxy`, fitted latency-only).
- `auto` (default): picks `additive` or `hybrid` by k-fold cross-validation on the training
  architectures alone (share within +-10%), so each device gets the model that suits it.

`benchmarks/profiling/predictor.py` measures all of them on the seven tables.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
from sklearn.ensemble import ExtraTreesRegressor
from sklearn.linear_model import Ridge
from sklearn.model_selection import KFold

from hwnas.errors import BadInputError, DataError
from hwnas.predictor.features import arch_features
from hwnas.space.nb201 import NB201Arch, NB201Space

MODELS = ("auto", "additive", "hybrid", "gcn")
AUTO_CHOICES = ("additive", "hybrid")


def within(truth: np.ndarray, predicted: np.ndarray, tolerance: float = 0.10) -> float:
    """Share of predictions within +-tolerance of the measured value (nn-Meter's metric)."""
    truth = np.asarray(truth, dtype=float)
    return float(np.mean(np.abs(np.asarray(predicted, dtype=float) - truth) <= tolerance * np.abs(truth)))


class LatencyModel(ABC):
    """sklearn-style: explicit hyperparameters, `fit(archs, latency_ms)` returns self."""

    kind: ClassVar[str]

    def __init__(self, seed: int = 0, **hyperparameters: Any) -> None:
        self.seed = seed
        self.hyperparameters = hyperparameters
        self.fitted = False

    def fit(self, archs: Sequence[NB201Arch], latency_ms: np.ndarray) -> LatencyModel:
        y = np.asarray(latency_ms, dtype=float)
        if len(archs) != len(y) or len(y) < 5:
            raise BadInputError(f"a latency model needs at least 5 archs with one latency each, got {len(y)}")
        if not np.all(np.isfinite(y)) or np.any(y <= 0):
            raise BadInputError("latencies to fit must be finite and positive")
        self._fit(list(archs), y)
        self.fitted = True
        return self

    def predict(self, archs: Sequence[NB201Arch]) -> np.ndarray:
        if not self.fitted:
            raise DataError(f"the {self.kind} latency model has not been fitted")
        if len(archs) == 0:
            return np.zeros(0)
        return self._predict(list(archs))

    def config(self) -> dict[str, Any]:
        return {"model": self.kind, "seed": self.seed, **self.hyperparameters}

    @abstractmethod
    def _fit(self, archs: list[NB201Arch], y: np.ndarray) -> None: ...

    @abstractmethod
    def _predict(self, archs: list[NB201Arch]) -> np.ndarray: ...


class AdditiveModel(LatencyModel):
    kind = "additive"

    def __init__(self, seed: int = 0, alpha: float = 1e-3) -> None:
        super().__init__(seed, alpha=alpha)
        self.ridge = Ridge(alpha=alpha)
        self.floor_ms = 0.0

    def _fit(self, archs: list[NB201Arch], y: np.ndarray) -> None:
        self.ridge.fit(arch_features(archs), y)
        self.floor_ms = float(y.min())  # a sum of edge costs can dip below zero; no network is faster

    def _predict(self, archs: list[NB201Arch]) -> np.ndarray:
        return np.maximum(self.ridge.predict(arch_features(archs)), self.floor_ms)


class HybridModel(LatencyModel):
    kind = "hybrid"

    def __init__(self, seed: int = 0, alpha: float = 1e-3, trees: int = 300, min_samples_leaf: int = 1) -> None:
        super().__init__(seed, alpha=alpha, trees=trees, min_samples_leaf=min_samples_leaf)
        self.additive = AdditiveModel(seed, alpha)
        self.correction = ExtraTreesRegressor(
            n_estimators=trees, min_samples_leaf=min_samples_leaf, random_state=seed, n_jobs=1
        )
        self.range_ms = (0.0, np.inf)

    def _fit(self, archs: list[NB201Arch], y: np.ndarray) -> None:
        self.additive.fit(archs, y)
        base = self.additive.predict(archs)
        self.correction.fit(arch_features(archs), np.log(y / base))
        # a large correction learnt on a near-zero network must not blow up another one
        self.range_ms = (float(y.min()), 2.0 * float(y.max()))

    def _predict(self, archs: list[NB201Arch]) -> np.ndarray:
        guess = self.additive.predict(archs) * np.exp(self.correction.predict(arch_features(archs)))
        return np.clip(guess, *self.range_ms)


class GcnModel(LatencyModel):
    """The OptiProxy proxy fitted on latencies only (its accuracy head sees no targets)."""

    kind = "gcn"

    def __init__(self, seed: int = 0, **proxy_config: Any) -> None:
        super().__init__(seed, **proxy_config)
        self.proxy: Any = None

    def _fit(self, archs: list[NB201Arch], y: np.ndarray) -> None:
        from hwnas.proxy import Proxy, ProxyConfig

        self.proxy = Proxy(NB201Space(), ProxyConfig.from_dict(self.hyperparameters), seed=self.seed)
        self.proxy.fit(archs, [None] * len(archs), y)

    def _predict(self, archs: list[NB201Arch]) -> np.ndarray:
        return np.asarray(self.proxy.predict(archs).latency_ms, dtype=float)


class AutoModel(LatencyModel):
    """`additive` or `hybrid`, whichever predicts held-out training folds better."""

    kind = "auto"

    def __init__(self, seed: int = 0, folds: int = 5, trees: int = 300) -> None:
        super().__init__(seed, folds=folds, trees=trees)
        self.chosen: LatencyModel | None = None
        self.cv_within_10: dict[str, float] = {}

    def _candidate(self, kind: str) -> LatencyModel:
        return make_model(kind, self.seed, **({"trees": self.hyperparameters["trees"]} if kind == "hybrid" else {}))

    def _fit(self, archs: list[NB201Arch], y: np.ndarray) -> None:
        folds = KFold(n_splits=min(int(self.hyperparameters["folds"]), len(y)), shuffle=True, random_state=self.seed)
        for kind in AUTO_CHOICES:
            guess = np.zeros_like(y)
            for train, test in folds.split(y):
                model = self._candidate(kind).fit([archs[i] for i in train], y[train])
                guess[test] = model.predict([archs[i] for i in test])
            self.cv_within_10[kind] = within(y, guess)
        best = max(AUTO_CHOICES, key=lambda k: self.cv_within_10[k])  # ties: the simpler, listed first
        self.chosen = self._candidate(best).fit(archs, y)

    def _predict(self, archs: list[NB201Arch]) -> np.ndarray:
        assert self.chosen is not None
        return self.chosen.predict(archs)

    def config(self) -> dict[str, Any]:
        chosen = self.chosen.config() if self.chosen else None
        return {**super().config(), "chosen": chosen, "cv_within_10": self.cv_within_10}


_CLASSES: dict[str, type[LatencyModel]] = {cls.kind: cls for cls in (AutoModel, AdditiveModel, HybridModel, GcnModel)}


def make_model(kind: str, seed: int = 0, **hyperparameters: Any) -> LatencyModel:
    """A fresh latency model by name (`MODELS`), with hyperparameters as keyword arguments."""
    if kind not in _CLASSES:
        raise BadInputError(f"unknown latency model {kind!r}; use one of {', '.join(MODELS)}")
    try:
        return _CLASSES[kind](seed, **hyperparameters)
    except TypeError as exc:
        raise BadInputError(f"bad hyperparameter for the {kind} latency model: {exc}") from None
