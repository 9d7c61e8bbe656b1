"""PyTorch networks for NB201 cells, laid out as NAS-Bench-201's `infer.tiny` (C=16, N=5)."""

from __future__ import annotations

import torch
from torch import nn

from hwnas.nets.datasets import DatasetSpec, get_dataset
from hwnas.space.nb201 import EDGES, N_CELL_NODES, NB201Arch


class ReLUConvBN(nn.Sequential):
    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int) -> None:
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2, bias=False),
            nn.BatchNorm2d(c_out),
        )


def make_op(op: str, channels: int) -> nn.Module | None:
    """The module for one edge; `None` for `none`, whose output is zero."""
    if op == "none":
        return None
    if op == "skip_connect":
        return nn.Identity()
    if op == "nor_conv_1x1":
        return ReLUConvBN(channels, channels, 1, 1)
    if op == "nor_conv_3x3":
        return ReLUConvBN(channels, channels, 3, 1)
    if op == "avg_pool_3x3":
        return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
    raise ValueError(f"unknown NB201 op {op!r}")


class Cell(nn.Module):
    """Node j is the sum of its incoming edges; `none` edges are left out of the graph.

    `prune=False` keeps every non-`none` edge, as NAS-Bench-201 builds the cell (its parameter
    counts). `prune=True` also drops edges fed by a zero node and edges whose result never reaches
    the output: the minimal network, the one that is profiled and deployed. Both follow the
    benchmark's convention that an op fed by zero yields zero. The cell outputs zeros when node 3
    has no live input; the network still runs (the head then sees only the BN shift).
    """

    def __init__(self, arch: NB201Arch, channels: int, prune: bool = False) -> None:
        super().__init__()
        self.edges = nn.ModuleDict()
        kept = _kept_edges(arch, prune)
        self._plan: list[tuple[int, list[tuple[str, int]]]] = []
        for node in range(1, N_CELL_NODES):
            inputs = []
            for k, (src, dst) in enumerate(EDGES):
                if dst == node and k in kept:
                    name = f"e{src}{dst}"
                    self.edges[name] = make_op(arch.ops[k], channels)
                    inputs.append((name, src))
            self._plan.append((node, inputs))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes: dict[int, torch.Tensor] = {0: x}
        for node, inputs in self._plan:
            if not inputs:
                continue
            total = self.edges[inputs[0][0]](nodes.get(inputs[0][1], _zeros(x)))
            for name, src in inputs[1:]:
                total = total + self.edges[name](nodes.get(src, _zeros(x)))
            nodes[node] = total
        return nodes.get(N_CELL_NODES - 1, _zeros(x))


def _zeros(x: torch.Tensor) -> torch.Tensor:
    return torch.zeros_like(x)


def _kept_edges(arch: NB201Arch, prune: bool) -> set[int]:
    """Indices of the edges that become modules."""
    kept = {k for k, op in enumerate(arch.ops) if op != "none"}
    if not prune:
        return kept
    live = {0}
    for node in range(1, N_CELL_NODES):
        if any(dst == node and src in live and k in kept for k, (src, dst) in enumerate(EDGES)):
            live.add(node)
    useful = {N_CELL_NODES - 1}
    for node in range(N_CELL_NODES - 2, -1, -1):
        if any(src == node and dst in useful and k in kept for k, (src, dst) in enumerate(EDGES)):
            useful.add(node)
    return {k for k in kept if EDGES[k][0] in live and EDGES[k][1] in useful}


class ResNetBasicBlock(nn.Module):
    """The stride-2 reduction block between stages."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, 2)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1)
        self.downsample = nn.Sequential(
            nn.AvgPool2d(kernel_size=2, stride=2, padding=0),
            nn.Conv2d(c_in, c_out, kernel_size=1, stride=1, padding=0, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.downsample(x) + self.conv_b(self.conv_a(x))


class NB201Network(nn.Module):
    def __init__(
        self,
        arch: NB201Arch,
        num_classes: int,
        channels: int = 16,
        cells_per_stage: int = 5,
        prune: bool = False,
    ) -> None:
        super().__init__()
        self.arch = arch
        self.pruned = prune
        self.stem = nn.Sequential(
            nn.Conv2d(3, channels, kernel_size=3, padding=1, bias=False), nn.BatchNorm2d(channels)
        )
        layers: list[nn.Module] = []
        c = channels
        for stage in range(3):
            if stage > 0:
                layers.append(ResNetBasicBlock(c, c * 2))
                c *= 2
            layers.extend(Cell(arch, c, prune) for _ in range(cells_per_stage))
        self.cells = nn.Sequential(*layers)
        self.lastact = nn.Sequential(nn.BatchNorm2d(c), nn.ReLU(inplace=False))
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled features before the classifier (used by zero-cost proxies)."""
        x = self.lastact(self.cells(self.stem(x)))
        return self.global_pooling(x).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def build_network(arch: NB201Arch, dataset: str | DatasetSpec = "cifar10", prune: bool = False) -> NB201Network:
    """The benchmark network (`prune=False`) or its minimal deployable form (`prune=True`)."""
    spec = dataset if isinstance(dataset, DatasetSpec) else get_dataset(dataset)
    return NB201Network(arch, spec.num_classes, prune=prune)


def example_input(dataset: str | DatasetSpec = "cifar10", batch: int = 1, seed: int = 0) -> torch.Tensor:
    spec = dataset if isinstance(dataset, DatasetSpec) else get_dataset(dataset)
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(batch, *spec.input_shape, generator=generator)
