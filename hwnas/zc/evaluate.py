"""How well a proxy ranks architectures: Spearman rho, Kendall tau, top-10% retrieval."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

from hwnas.errors import BadInputError


@dataclass(frozen=True)
class RankAgreement:
    n: int
    spearman: float
    kendall: float
    top10_retrieval: float  # share of the truly best 10% that the proxy also puts in its best 10%
    spearman_top10: float  # Spearman among the truly best 10% (ProxyBO Table 1, in brackets)

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)


def top_fraction_retrieval(scores: np.ndarray, truth: np.ndarray, fraction: float = 0.1) -> float:
    """Eproxy's top-k% retrieve rate: |proxy's top k% ∩ true top k%| / (k% of n)."""
    k = max(1, math.ceil(fraction * len(truth)))
    top_true = set(np.argsort(-truth, kind="stable")[:k].tolist())
    top_proxy = set(np.argsort(-scores, kind="stable")[:k].tolist())
    return len(top_true & top_proxy) / k


def rank_agreement(scores: Mapping[str, float], truth: Mapping[str, float]) -> RankAgreement:
    """Agreement over the architectures both sides know (non-finite scores are left out)."""
    keys = [k for k in scores if k in truth and math.isfinite(scores[k]) and math.isfinite(truth[k])]
    if len(keys) < 3:
        raise BadInputError(f"only {len(keys)} architectures have both a score and an accuracy; need at least 3")
    s = np.asarray([scores[k] for k in keys], dtype=float)
    t = np.asarray([truth[k] for k in keys], dtype=float)
    return RankAgreement(
        n=len(keys),
        spearman=float(stats.spearmanr(s, t).statistic),
        kendall=float(stats.kendalltau(s, t).statistic),
        top10_retrieval=top_fraction_retrieval(s, t),
        spearman_top10=_spearman_top(s, t, 0.1),
    )


def _spearman_top(scores: np.ndarray, truth: np.ndarray, fraction: float) -> float:
    k = max(3, math.ceil(fraction * len(truth)))
    top = np.argsort(-truth, kind="stable")[:k]
    return float(stats.spearmanr(scores[top], truth[top]).statistic)
