"""What every search space offers, so searchers never depend on one space.

A space with searchable topology (NB101-like) sets `Relaxation.edge_mask`; NB201 and FBNet-like
spaces have a fixed graph and leave it `None`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Hashable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class Relaxation:
    """Shape of the relaxed variables a gradient searcher optimizes.

    `op_nodes` choice nodes each pick one of `op_names`; `edge_mask[i, j]` marks graph edges
    whose presence is itself a variable (binary concrete), `None` for fixed-topology spaces.
    """

    op_nodes: int
    op_names: tuple[str, ...]
    edge_mask: np.ndarray | None = None

    @property
    def n_ops(self) -> int:
        return len(self.op_names)


@dataclass(frozen=True)
class GraphEncoding:
    """Ops-on-nodes graph: one-hot (or soft) node features and a directed adjacency matrix."""

    features: np.ndarray  # [nodes, feature_dim]
    adjacency: np.ndarray  # [nodes, nodes], adjacency[i, j] = 1 for an edge i -> j


class SearchSpace(ABC):
    """A discrete architecture space: identity, sampling, neighbourhood and encodings."""

    name: str
    relaxation: Relaxation

    @abstractmethod
    def parse(self, text: str) -> Hashable:
        """Architecture from its string; raises `ArchParseError` saying what is wrong."""

    @abstractmethod
    def format(self, arch: Hashable) -> str:
        """The architecture's string, the identity used in tables and logs."""

    @abstractmethod
    def size(self) -> int | None:
        """Number of architectures, `None` when too large to enumerate."""

    @abstractmethod
    def enumerate(self) -> Iterator[Hashable]:
        """Every architecture in a fixed order."""

    @abstractmethod
    def sample(self, rng: np.random.Generator) -> Hashable:
        """One architecture drawn uniformly."""

    @abstractmethod
    def neighbours(self, arch: Hashable) -> list[Hashable]:
        """All architectures one mutation away."""

    @abstractmethod
    def canonical(self, arch: Hashable) -> Hashable:
        """One representative per class of architectures that compute the same function."""

    @abstractmethod
    def encode(self, arch: Hashable) -> GraphEncoding:
        """Ops-on-nodes graph encoding for the proxy."""

    @abstractmethod
    def choices(self, arch: Hashable) -> tuple[np.ndarray, np.ndarray | None]:
        """Op index per choice node (and edge presence for topology spaces)."""

    @abstractmethod
    def from_choices(self, op_indices: Sequence[int], edges: np.ndarray | None = None) -> Hashable:
        """Inverse of `choices`: the architecture a discrete sample stands for."""

    @abstractmethod
    def soft_encode(
        self, op_probs: torch.Tensor, edge_probs: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Differentiable encoding of relaxed samples.

        `op_probs` is [batch, op_nodes, n_ops]; returns features [batch, nodes, feature_dim]
        and adjacency [batch, nodes, nodes], equal to `encode` for one-hot inputs.
        """

    def sample_distinct(self, rng: np.random.Generator, n: int, exclude: set | None = None) -> list:
        """`n` distinct architectures not in `exclude`, uniformly (fewer if the space runs out)."""
        seen = set(exclude or ())
        out: list = []
        total = self.size()
        budget = n if total is None else min(n, total - len(seen))
        while len(out) < budget:
            arch = self.sample(rng)
            if arch not in seen:
                seen.add(arch)
                out.append(arch)
        return out
