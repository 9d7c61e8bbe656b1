"""The bidirectional GCN of the OptiProxy paper (appendix A.4) with an accuracy and a latency head.

The network works on (soft) ops-on-nodes encodings, so the same module scores discrete
architectures and the relaxed samples of the gradient search.
"""

from __future__ import annotations

import itertools

import torch
from torch import nn
from torch.nn import functional as F


class BidirectionalGCNLayer(nn.Module):
    """`V' = LayerNorm(Linear(concat(GeLU(A V W1), GeLU(A^T V W2))))`.

    A self-loop is added in both directions so a node keeps its own features (the input node has
    no predecessors, the output node no successors).
    """

    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.forward_weight = nn.Linear(in_dim, out_dim, bias=False)
        self.backward_weight = nn.Linear(in_dim, out_dim, bias=False)
        self.mix = nn.Linear(2 * out_dim, out_dim)
        self.norm = nn.LayerNorm(out_dim)

    def forward(self, features: torch.Tensor, adjacency: torch.Tensor) -> torch.Tensor:
        eye = torch.eye(adjacency.shape[-1], dtype=adjacency.dtype, device=adjacency.device)
        successors = adjacency + eye
        predecessors = adjacency.transpose(-1, -2) + eye
        down = F.gelu(successors @ self.forward_weight(features))
        up = F.gelu(predecessors @ self.backward_weight(features))
        return self.norm(self.mix(torch.cat([down, up], dim=-1)))


class ProxyNet(nn.Module):
    """Shared trunk (GCN layers, mean over nodes, one hidden layer) and two scalar heads.

    Outputs are in the standardized target units the proxy was trained on.
    """

    def __init__(self, feature_dim: int, gcn_hidden: int, gcn_layers: int, linear_size: int) -> None:
        super().__init__()
        dims = [feature_dim] + [gcn_hidden] * gcn_layers
        self.layers = nn.ModuleList(BidirectionalGCNLayer(a, b) for a, b in itertools.pairwise(dims))
        self.hidden = nn.Linear(gcn_hidden, linear_size)
        self.accuracy_head = nn.Linear(linear_size, 1)
        self.latency_head = nn.Linear(linear_size, 1)

    def forward(self, features: torch.Tensor, adjacency: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """features [batch, nodes, feature_dim], adjacency [batch, nodes, nodes] -> two [batch] tensors."""
        v = features
        for layer in self.layers:
            v = layer(v, adjacency)
        h = F.gelu(self.hidden(v.mean(dim=-2)))
        return self.accuracy_head(h).squeeze(-1), self.latency_head(h).squeeze(-1)
