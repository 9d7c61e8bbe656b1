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

    # -- saving as data (hwnas.predictor.storage): JSON-able settings plus numeric arrays -------

    def state(self, prefix: str = "") -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """What a fitted model is: `(meta, arrays)`; arrays are keyed under `prefix`."""
        meta, arrays = self._state(prefix)
        return {"kind": self.kind, "seed": self.seed, "hyperparameters": self.hyperparameters, **meta}, arrays

    @abstractmethod
    def _state(self, prefix: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]: ...

    @abstractmethod
    def _restore(self, meta: dict[str, Any], arrays: dict[str, np.ndarray], prefix: str) -> None: ...


class AdditiveModel(LatencyModel):
    kind = "additive"

    def __init__(self, seed: int = 0, alpha: float = 1e-3) -> None:
        super().__init__(seed, alpha=alpha)
        self.coef = np.zeros(0)
        self.intercept = 0.0
        self.floor_ms = 0.0

    def _fit(self, archs: list[NB201Arch], y: np.ndarray) -> None:
        ridge = Ridge(alpha=self.hyperparameters["alpha"]).fit(arch_features(archs), y)
        self.coef, self.intercept = np.asarray(ridge.coef_, dtype=float), float(ridge.intercept_)
        self.floor_ms = float(y.min())  # a sum of edge costs can dip below zero; no network is faster

    def _predict(self, archs: list[NB201Arch]) -> np.ndarray:
        return np.maximum(arch_features(archs) @ self.coef + self.intercept, self.floor_ms)

    def _state(self, prefix: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return {"intercept": self.intercept, "floor_ms": self.floor_ms}, {f"{prefix}coef": self.coef}

    def _restore(self, meta: dict[str, Any], arrays: dict[str, np.ndarray], prefix: str) -> None:
        self.coef = np.asarray(arrays[f"{prefix}coef"], dtype=float)
        self.intercept, self.floor_ms = float(meta["intercept"]), float(meta["floor_ms"])


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

    def _state(self, prefix: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        from hwnas.predictor.storage import TreeEnsemble

        additive, arrays = self.additive.state(f"{prefix}additive.")
        trees = self.correction if isinstance(self.correction, TreeEnsemble) else TreeEnsemble.from_sklearn(
            self.correction
        )
        arrays.update(trees.arrays(f"{prefix}tree"))
        return {"additive": additive, "range_ms": list(self.range_ms), "trees": len(trees.trees)}, arrays

    def _restore(self, meta: dict[str, Any], arrays: dict[str, np.ndarray], prefix: str) -> None:
        from hwnas.predictor.storage import TreeEnsemble

        self.additive = model_from_state(meta["additive"], arrays, f"{prefix}additive.")
        self.correction = TreeEnsemble.from_arrays(arrays, f"{prefix}tree", int(meta["trees"]))
        self.range_ms = (float(meta["range_ms"][0]), float(meta["range_ms"][1]))


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

    def _state(self, prefix: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        state = dict(self.proxy.state())
        weights = state.pop("weights")
        arrays = {f"{prefix}proxy.{k}": v.detach().cpu().numpy() for k, v in weights.items()}
        return {"proxy": state, "weights": list(weights)}, arrays

    def _restore(self, meta: dict[str, Any], arrays: dict[str, np.ndarray], prefix: str) -> None:
        import torch

        from hwnas.proxy import Proxy

        weights = {k: torch.from_numpy(np.array(arrays[f"{prefix}proxy.{k}"])) for k in meta["weights"]}
        self.proxy = Proxy.from_state(NB201Space(), {**meta["proxy"], "weights": weights})


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

    def _state(self, prefix: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        assert self.chosen is not None
        chosen, arrays = self.chosen.state(f"{prefix}chosen.")
        return {"chosen_state": chosen, "cv_within_10": self.cv_within_10}, arrays

    def _restore(self, meta: dict[str, Any], arrays: dict[str, np.ndarray], prefix: str) -> None:
        self.chosen = model_from_state(meta["chosen_state"], arrays, f"{prefix}chosen.")
        self.cv_within_10 = {k: float(v) for k, v in meta["cv_within_10"].items()}

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


def model_from_state(meta: dict[str, Any], arrays: dict[str, np.ndarray], prefix: str = "") -> LatencyModel:
    """The fitted model `LatencyModel.state` described, rebuilt from numbers only."""
    kind = meta.get("kind")
    if kind not in _CLASSES:
        raise DataError(f"saved latency model of unknown kind {kind!r}; known: {', '.join(MODELS)}")
    model = make_model(kind, int(meta.get("seed", 0)), **dict(meta.get("hyperparameters") or {}))
    try:
        model._restore(meta, arrays, prefix)
    except (KeyError, TypeError, ValueError, IndexError, RuntimeError) as exc:
        raise DataError(f"saved {kind} latency model is incomplete or damaged ({type(exc).__name__}: {exc})") from None
    model.fitted = True
    return model
