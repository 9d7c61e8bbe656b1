"""The OptiProxy proxy as an estimator: fit on evaluated architectures, predict any architecture.

Targets are standardized per head (latency after a log transform: it is positive and skewed,
and a budget is a ratio constraint). The loss per head is MSE plus `ranking_coe` times a
pairwise ranking hinge (appendix A.4, eq. 4-5), averaged over ordered pairs so its weight does
not grow with the number of training architectures.
"""

from __future__ import annotations

import io
import pickle
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy import stats
from torch.nn import functional as F

from hwnas.atomic import atomic_write_bytes
from hwnas.errors import BadInputError, DataError
from hwnas.proxy.gcn import ProxyNet
from hwnas.space.base import SearchSpace

# 2: NB201 encodings gained the `live` feature, so version-1 weights expect fewer inputs.
STATE_VERSION = 2


@dataclass(frozen=True)
class ProxyConfig:
    """Model-fitting hyperparameters (paper Table 5) and the latency transform.

    The paper fits batches of 7 for 100 epochs at lr 1e-3. Batches of 32 for 50 epochs at lr
    3e-3 reach the same held-out rank correlation at about a fifth of the cost, which is most
    of OptiProxy's overhead per query (`benchmarks/proxy_fit.py` has the measurement);
    `batch_size` 0 trains full-batch.
    """

    gcn_hidden: int = 144
    gcn_layers: int = 2
    linear_size: int = 144
    batch_size: int = 32
    lr: float = 3e-3
    weight_decay: float = 0.01
    model_epochs: int = 50
    ranking_coe: float = 0.2
    margin: float = 0.1
    lr_gamma: float = 0.9
    lr_step: int = 5
    # "standardize" (paper) or "rank": normal scores of the accuracy ranks, so the few
    # degenerate cells at chance accuracy do not dominate the MSE (benchmarks/proxy_fit.py measures it).
    accuracy_transform: str = "rank"
    log_latency: bool = True
    # log(latency + offset), offset = this fraction of the median training latency: keeps the
    # near-zero latencies of degenerate cells (all paths `none`) from becoming huge outliers.
    latency_offset_frac: float = 0.05

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ProxyConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise BadInputError(
                f"unknown proxy hyperparameter(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        return cls(**values)

    def __post_init__(self) -> None:
        if self.accuracy_transform not in ACCURACY_TRANSFORMS:
            raise BadInputError(
                f"accuracy_transform {self.accuracy_transform!r} unknown; use one of {', '.join(ACCURACY_TRANSFORMS)}"
            )


@dataclass(frozen=True)
class Standardizer:
    """Affine map between a target (after its transform) and the unit the network predicts."""

    mean: float = 0.0
    std: float = 1.0

    @classmethod
    def fit(cls, values: np.ndarray) -> Standardizer:
        if len(values) == 0:
            return cls()
        std = float(np.std(values))
        return cls(float(np.mean(values)), std if std > 1e-12 else 1.0)

    def forward(self, values: np.ndarray) -> np.ndarray:
        return (values - self.mean) / self.std

    def inverse(self, values: np.ndarray) -> np.ndarray:
        return values * self.std + self.mean


@dataclass(frozen=True)
class RankGauss:
    """Monotone map of values to the normal scores of their ranks; interpolates between them."""

    values: tuple[float, ...] = ()
    scores: tuple[float, ...] = ()

    @classmethod
    def fit(cls, values: np.ndarray) -> RankGauss:
        if len(values) == 0:
            return cls()
        scores = stats.norm.ppf((stats.rankdata(values) - 0.5) / len(values))
        unique, inverse = np.unique(values, return_inverse=True)
        mean_scores = np.bincount(inverse, weights=scores) / np.bincount(inverse)
        return cls(tuple(map(float, unique)), tuple(map(float, mean_scores)))

    def forward(self, values: np.ndarray) -> np.ndarray:
        if len(self.values) < 2:
            return np.zeros_like(np.asarray(values, dtype=np.float64))
        return np.interp(values, self.values, self.scores)

    def inverse(self, values: np.ndarray) -> np.ndarray:
        if len(self.values) < 2:
            return np.full_like(np.asarray(values, dtype=np.float64), self.values[0] if self.values else 0.0)
        return np.interp(values, self.scores, self.values)


ACCURACY_TRANSFORMS = {"standardize": Standardizer, "rank": RankGauss}


@dataclass(frozen=True)
class ProxyPrediction:
    accuracy: np.ndarray
    latency_ms: np.ndarray


def encode_batch(space: SearchSpace, archs: Sequence) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack `space.encode` of every arch into float32 tensors [n, nodes, dim] and [n, nodes, nodes]."""
    encodings = [space.encode(a) for a in archs]
    features = torch.from_numpy(np.stack([e.features for e in encodings]).astype(np.float32))
    adjacency = torch.from_numpy(np.stack([e.adjacency for e in encodings]).astype(np.float32))
    return features, adjacency


def pairwise_hinge(pred: torch.Tensor, target: torch.Tensor, margin: float) -> torch.Tensor:
    """Mean over pairs with target_i > target_j of max(0, margin - (pred_i - pred_j))."""
    better = (target[:, None] - target[None, :]) > 0
    if not bool(better.any()):
        return pred.new_zeros(())
    gaps = pred[:, None] - pred[None, :]
    return F.relu(margin - gaps)[better].mean()


class Proxy:
    """GCN proxy with accuracy and latency heads; sklearn-style `fit` returning self."""

    def __init__(self, space: SearchSpace, config: ProxyConfig | None = None, seed: int = 0) -> None:
        self.space = space
        self.config = config or ProxyConfig()
        self.seed = seed
        self.net: ProxyNet | None = None
        self.accuracy_scale: Standardizer | RankGauss = ACCURACY_TRANSFORMS[self.config.accuracy_transform]()
        self.latency_scale = Standardizer()
        self.latency_offset_ms = 0.0

    # -- targets --------------------------------------------------------------------------

    def _latency_transform(self, latency_ms: np.ndarray) -> np.ndarray:
        if not self.config.log_latency:
            return latency_ms
        return np.log(np.maximum(latency_ms, 0.0) + self.latency_offset_ms)

    def _latency_inverse(self, values: np.ndarray) -> np.ndarray:
        if not self.config.log_latency:
            return values
        return np.exp(values) - self.latency_offset_ms

    def standardized_latency(self, latency_ms: float | np.ndarray) -> np.ndarray:
        """A latency (e.g. a budget) in the units the latency head predicts."""
        return self.latency_scale.forward(self._latency_transform(np.asarray(latency_ms, dtype=np.float64)))

    def standardized_accuracy(self, accuracy: float | np.ndarray) -> np.ndarray:
        return self.accuracy_scale.forward(np.asarray(accuracy, dtype=np.float64))

    # -- fitting --------------------------------------------------------------------------

    def _new_net(self, feature_dim: int) -> ProxyNet:
        c = self.config
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            return ProxyNet(feature_dim, c.gcn_hidden, c.gcn_layers, c.linear_size)

    def fit(
        self,
        archs: Sequence,
        accuracies: Sequence[float | None] | np.ndarray,
        latencies_ms: Sequence[float | None] | np.ndarray,
        init_weights: dict[str, torch.Tensor] | None = None,
    ) -> Proxy:
        """Train from scratch, or from `init_weights` (a `ProxyNet` state, e.g. pretrained on
        zero-cost scores). `None`/NaN targets are skipped by their head only.

        Latency-only rows (no accuracy query spent) still teach the latency head and the trunk.
        """
        acc = np.array([np.nan if a is None else a for a in accuracies], dtype=np.float64)
        lat = np.array([np.nan if v is None else v for v in latencies_ms], dtype=np.float64)
        if not (len(archs) == len(acc) == len(lat)):
            raise BadInputError(
                f"fit needs one accuracy and one latency per arch; got {len(archs)}, {len(acc)}, {len(lat)}"
            )
        has_acc, has_lat = np.isfinite(acc), np.isfinite(lat)
        if not has_acc.any() and not has_lat.any():
            raise BadInputError("fit needs at least one architecture with an accuracy or a latency")
        c = self.config
        self.accuracy_scale = ACCURACY_TRANSFORMS[c.accuracy_transform].fit(acc[has_acc])
        median = float(np.median(lat[has_lat])) if has_lat.any() else 1.0
        self.latency_offset_ms = c.latency_offset_frac * max(median, 1e-9) if c.log_latency else 0.0
        lat_t = self._latency_transform(np.where(has_lat, lat, 1.0))
        self.latency_scale = Standardizer.fit(lat_t[has_lat])

        features, adjacency = encode_batch(self.space, archs)
        y_acc = torch.from_numpy(np.where(has_acc, self.accuracy_scale.forward(np.nan_to_num(acc)), 0.0)).float()
        y_lat = torch.from_numpy(np.where(has_lat, self.latency_scale.forward(lat_t), 0.0)).float()
        m_acc, m_lat = torch.from_numpy(has_acc), torch.from_numpy(has_lat)

        self.net = self._new_net(features.shape[-1])
        if init_weights is not None:
            self.net.load_state_dict(init_weights)
        optimizer = torch.optim.AdamW(self.net.parameters(), lr=c.lr, weight_decay=c.weight_decay)
        # Paper: lr x lr_gamma every lr_step epochs; applied smoothly per epoch.
        scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=c.lr_gamma ** (1.0 / max(c.lr_step, 1)))
        rng = np.random.default_rng(self.seed)
        n = len(archs)
        batch = n if c.batch_size <= 0 else c.batch_size
        self.net.train()
        for _ in range(c.model_epochs):
            order = rng.permutation(n) if batch < n else np.arange(n)
            for start in range(0, n, batch):
                idx = torch.from_numpy(order[start : start + batch])
                pred_acc, pred_lat = self.net(features[idx], adjacency[idx])
                loss = self._head_loss(pred_acc, y_acc[idx], m_acc[idx]) + self._head_loss(
                    pred_lat, y_lat[idx], m_lat[idx]
                )
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
            scheduler.step()
        self.net.eval()
        for p in self.net.parameters():
            p.requires_grad_(False)
        return self

    def _head_loss(self, pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if not bool(mask.any()):
            return pred.new_zeros(())
        p, t = pred[mask], target[mask]
        return F.mse_loss(p, t) + self.config.ranking_coe * pairwise_hinge(p, t, self.config.margin)

    # -- prediction -----------------------------------------------------------------------

    def _require_net(self) -> ProxyNet:
        if self.net is None:
            raise DataError("the proxy has not been fitted or loaded yet")
        return self.net

    def forward_standardized(
        self, features: torch.Tensor, adjacency: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Differentiable scores in standardized units, for (soft) encodings."""
        return self._require_net()(features, adjacency)

    def predict_standardized(self, archs: Sequence) -> tuple[np.ndarray, np.ndarray]:
        """Raw head outputs (standardized accuracy, standardized transformed latency).

        Use these to rank: with the rank transform, accuracies above the best training value all
        map back to that value, while the standardized output keeps their order.
        """
        net = self._require_net()
        if len(archs) == 0:
            return np.zeros(0), np.zeros(0)
        features, adjacency = encode_batch(self.space, archs)
        with torch.no_grad():
            pred_acc, pred_lat = net(features, adjacency)
        return pred_acc.double().numpy(), pred_lat.double().numpy()

    def predict(self, archs: Sequence) -> ProxyPrediction:
        """Predicted accuracy (target units) and latency (ms) of any architectures."""
        pred_acc, pred_lat = self.predict_standardized(archs)
        accuracy = self.accuracy_scale.inverse(pred_acc)
        latency = self._latency_inverse(self.latency_scale.inverse(pred_lat))
        return ProxyPrediction(accuracy=accuracy, latency_ms=latency)

    def rank_correlation(
        self, archs: Sequence, accuracies: Sequence[float], latencies_ms: Sequence[float]
    ) -> dict[str, dict[str, float]]:
        """Spearman and Kendall correlation of predictions with true values, per head."""
        pred = self.predict(archs)
        out = {}
        for head, truth, guess in (
            ("accuracy", np.asarray(accuracies, dtype=float), pred.accuracy),
            ("latency_ms", np.asarray(latencies_ms, dtype=float), pred.latency_ms),
        ):
            ok = np.isfinite(truth)
            out[head] = {
                "spearman": float(stats.spearmanr(truth[ok], guess[ok]).statistic),
                "kendall": float(stats.kendalltau(truth[ok], guess[ok]).statistic),
            }
        return out

    # -- persistence ----------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        net = self._require_net()
        return {
            "version": STATE_VERSION,
            "space": self.space.name,
            "config": asdict(self.config),
            "seed": self.seed,
            "feature_dim": net.layers[0].forward_weight.in_features,
            "accuracy_scale": asdict(self.accuracy_scale),
            "latency_scale": asdict(self.latency_scale),
            "latency_offset_ms": self.latency_offset_ms,
            "weights": net.state_dict(),
        }

    def save(self, path: str | Path) -> Path:
        buffer = io.BytesIO()
        torch.save(self.state(), buffer)
        return atomic_write_bytes(path, buffer.getvalue())

    @classmethod
    def from_state(cls, space: SearchSpace, state: dict[str, Any]) -> Proxy:
        if state.get("version") != STATE_VERSION or state.get("space") != space.name:
            raise DataError(
                f"proxy state is version {state.get('version')} for space {state.get('space')!r}; "
                f"expected version {STATE_VERSION} for {space.name!r}; refit it with this hwnas"
            )
        proxy = cls(space, ProxyConfig.from_dict(state["config"]), seed=int(state["seed"]))
        proxy.accuracy_scale = ACCURACY_TRANSFORMS[proxy.config.accuracy_transform](
            **{k: tuple(v) if isinstance(v, list) else v for k, v in state["accuracy_scale"].items()}
        )
        proxy.latency_scale = Standardizer(**state["latency_scale"])
        proxy.latency_offset_ms = float(state["latency_offset_ms"])
        proxy.net = proxy._new_net(int(state["feature_dim"]))
        proxy.net.load_state_dict(state["weights"])
        proxy.net.eval()
        for p in proxy.net.parameters():
            p.requires_grad_(False)
        return proxy

    @classmethod
    def load(cls, space: SearchSpace, path: str | Path) -> Proxy:
        try:
            state = torch.load(Path(path), map_location="cpu", weights_only=True)
        except (OSError, RuntimeError, EOFError, pickle.UnpicklingError) as exc:
            raise DataError(f"cannot read proxy state {path}: {exc}") from None
        return cls.from_state(space, state)
