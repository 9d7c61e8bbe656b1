"""Gradient search over relaxed architectures through any differentiable scorer (Algorithm 1).

Op choices are Gumbel-softmax samples of logits `alpha` [groups, op_nodes, n_ops]; searchable
edges (spaces whose `Relaxation.edge_mask` is set) are binary-concrete samples of log-odds
`beta` [groups, n_edges], the edges taken in `np.flatnonzero(edge_mask)` order. The scorer maps
relaxed samples to one score per sample to maximize; it knows which group each sample belongs
to, so groups can pursue different objectives (e.g. different latency budgets).

Straight-through by default: the scorer is evaluated on the hard one-hot sample (a real
architecture, the only kind of input the proxy was trained on) and the gradient flows through
the soft sample. Feeding the soft sample instead (`straight_through=False`) scores mixtures the
proxy never saw; either way the forward and backward passes use the same sample, unlike the
public code, which builds the one-hot sample and then feeds the soft one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from scipy.stats import qmc
from torch.nn import functional as F

from hwnas.space.base import Relaxation

# scorer(op_samples [groups, samples, op_nodes, n_ops], edge_samples [groups, samples, n_edges] | None)
#   -> scores [groups, samples], higher is better.
Scorer = Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor]


@dataclass(frozen=True)
class RelaxationConfig:
    """Search and sampling hyperparameters (paper Table 6)."""

    groups: int = 5  # parallel_batch, K
    search_epochs: int = 300
    base_temp: float = 0.7
    min_temp: float = 0.2
    lr_alpha: float = 0.02
    lr_beta: float = 0.001
    o_epochs: int = 15
    t_epochs: int = 15
    lhs_lower: float = 0.9
    lhs_range: float = 0.1
    samples_per_epoch: int = 1  # Gumbel draws per group and epoch (averaged in the objective)
    straight_through: bool = True


@dataclass(frozen=True)
class DiscreteSamples:
    """Discrete draws per group: op indices [groups, n, op_nodes], edges [groups, n, n_edges] or None."""

    ops: np.ndarray
    edges: np.ndarray | None


def temperature(epoch: int, config: RelaxationConfig) -> float:
    """Geometric annealing from `base_temp` at the first epoch to `min_temp` at the last."""
    if config.search_epochs <= 1:
        return config.min_temp
    frac = epoch / (config.search_epochs - 1)
    return float(config.base_temp * (config.min_temp / config.base_temp) ** frac)


def gumbel_softmax(
    logits: torch.Tensor, tau: float, generator: torch.Generator, straight_through: bool
) -> torch.Tensor:
    """Gumbel-softmax over the last axis (eq. 9); straight-through returns the one-hot in the forward pass."""
    uniform = torch.rand(logits.shape, generator=generator, dtype=logits.dtype).clamp_(1e-10, 1.0 - 1e-10)
    soft = F.softmax((logits - torch.log(-torch.log(uniform))) / tau, dim=-1)
    if not straight_through:
        return soft
    hard = F.one_hot(soft.argmax(dim=-1), logits.shape[-1]).to(soft.dtype)
    return hard - soft.detach() + soft


def binary_concrete(
    log_odds: torch.Tensor, tau: float, generator: torch.Generator, straight_through: bool
) -> torch.Tensor:
    """Binary concrete sample (eq. 10) with logistic noise, the difference of two Gumbels.

    With logistic noise P(sample > 0.5) equals sigmoid(log_odds) at every temperature, the
    Bernoulli of eq. 6 in the limit.
    """
    uniform = torch.rand(log_odds.shape, generator=generator, dtype=log_odds.dtype).clamp_(1e-10, 1.0 - 1e-10)
    soft = torch.sigmoid((log_odds + torch.log(uniform) - torch.log1p(-uniform)) / tau)
    if not straight_through:
        return soft
    hard = (soft > 0.5).to(soft.dtype)
    return hard - soft.detach() + soft


def latin_hypercube_logits(shape: tuple[int, ...], lower: float, width: float, seed: int) -> np.ndarray:
    """`shape[0]` groups spread by Latin hypercube over [lower, lower + width] per coordinate."""
    dims = int(np.prod(shape[1:]))
    unit = qmc.LatinHypercube(d=dims, seed=np.random.default_rng(seed)).random(shape[0])
    return (lower + width * unit).reshape(shape)


class RelaxedSearch:
    """K groups of logits optimized by AdamW to maximize a scorer, then sampled discretely."""

    def __init__(self, relaxation: Relaxation, config: RelaxationConfig | None = None, seed: int = 0) -> None:
        self.relaxation = relaxation
        self.config = config or RelaxationConfig()
        self.seed = seed
        c = self.config
        shape = (c.groups, relaxation.op_nodes, relaxation.n_ops)
        self.alpha = torch.tensor(
            latin_hypercube_logits(shape, c.lhs_lower, c.lhs_range, seed), dtype=torch.float32, requires_grad=True
        )
        self.n_edges = 0 if relaxation.edge_mask is None else int(np.count_nonzero(relaxation.edge_mask))
        self.beta: torch.Tensor | None = None
        if self.n_edges:
            self.beta = torch.tensor(
                latin_hypercube_logits((c.groups, self.n_edges), c.lhs_lower, c.lhs_range, seed + 1),
                dtype=torch.float32,
                requires_grad=True,
            )
        self.generator = torch.Generator().manual_seed(seed)
        self.history: list[float] = []  # mean score per epoch, for diagnostics and tests

    def _draw(self, tau: float) -> tuple[torch.Tensor, torch.Tensor | None]:
        c = self.config
        s = c.samples_per_epoch
        alpha = self.alpha.unsqueeze(1).expand(-1, s, -1, -1)
        ops = gumbel_softmax(alpha, tau, self.generator, c.straight_through)
        edges = None
        if self.beta is not None:
            edges = binary_concrete(self.beta.unsqueeze(1).expand(-1, s, -1), tau, self.generator, c.straight_through)
        return ops, edges

    def optimize(self, scorer: Scorer) -> RelaxedSearch:
        """Gradient ascent on the expected score; alpha and beta alternate every o/t epochs."""
        c = self.config
        opt_alpha = torch.optim.AdamW([self.alpha], lr=c.lr_alpha)
        opt_beta = torch.optim.AdamW([self.beta], lr=c.lr_beta) if self.beta is not None else None
        cycle = c.o_epochs + c.t_epochs
        for epoch in range(c.search_epochs):
            update_alpha = opt_beta is None or (epoch % cycle) < c.o_epochs
            ops, edges = self._draw(temperature(epoch, c))
            scores = scorer(ops, edges)
            loss = -scores.mean(dim=1).sum()  # groups are independent: sum keeps each group's gradient scale
            opt_alpha.zero_grad(set_to_none=True)
            if opt_beta is not None:
                opt_beta.zero_grad(set_to_none=True)
            loss.backward()
            (opt_alpha if update_alpha else opt_beta).step()
            self.history.append(float(scores.detach().mean()))
        return self

    def probabilities(self) -> tuple[np.ndarray, np.ndarray | None]:
        """Per-group op probabilities softmax(alpha) and edge probabilities sigmoid(beta)."""
        with torch.no_grad():
            ops = F.softmax(self.alpha, dim=-1).double().numpy()
            edges = None if self.beta is None else torch.sigmoid(self.beta).double().numpy()
        return ops, edges

    def sample(self, n_per_group: int, rng: np.random.Generator) -> DiscreteSamples:
        """Discrete draws from Cat(softmax(alpha)) and Bernoulli(sigmoid(beta)) (eq. 5-6)."""
        op_probs, edge_probs = self.probabilities()
        cumulative = np.cumsum(op_probs, axis=-1)
        draws = rng.random((op_probs.shape[0], n_per_group, op_probs.shape[1], 1))
        ops = np.minimum((draws > cumulative[:, None]).sum(axis=-1), op_probs.shape[-1] - 1)
        edges = None
        if edge_probs is not None:
            edges = rng.random((edge_probs.shape[0], n_per_group, edge_probs.shape[1])) < edge_probs[:, None]
        return DiscreteSamples(ops=ops.astype(np.int64), edges=edges)
