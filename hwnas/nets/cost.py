"""Parameter and FLOP counts of NB201 networks.

Counting by building every network costs ~10 ms each; instead the cost of the fixed skeleton
(all-`none` cell) and of each op at each stage is measured once on real modules and summed over
the edges a network keeps, which equals counting the built network (pinned by a test).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import torch
from torch.utils.flop_counter import FlopCounterMode

from hwnas.nets.datasets import DatasetSpec, get_dataset
from hwnas.nets.nb201 import _kept_edges, build_network, make_op
from hwnas.space.nb201 import EDGES, OPS, NB201Arch

_STAGE_CHANNELS = (16, 32, 64)
_CELLS_PER_STAGE = 5


@dataclass(frozen=True)
class NetworkCost:
    params: int
    flops: int  # multiply-adds counted as 2 FLOPs, batch size 1

    @property
    def params_m(self) -> float:
        return self.params / 1e6

    @property
    def macs(self) -> int:
        return self.flops // 2


def _flops(module: torch.nn.Module, x: torch.Tensor) -> int:
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        module(x)
    return int(counter.get_total_flops())


@cache
def _skeleton_cost(spec: DatasetSpec) -> NetworkCost:
    empty = NB201Arch(("none",) * len(EDGES))
    net = build_network(empty, spec).eval()
    x = torch.zeros(1, *spec.input_shape)
    return NetworkCost(sum(p.numel() for p in net.parameters()), _flops(net, x))


@cache
def _op_cost(op: str, stage: int, spec: DatasetSpec) -> NetworkCost:
    module = make_op(op, _STAGE_CHANNELS[stage])
    if module is None:
        return NetworkCost(0, 0)
    side = spec.input_shape[1] // (2**stage), spec.input_shape[2] // (2**stage)
    x = torch.zeros(1, _STAGE_CHANNELS[stage], *side)
    return NetworkCost(sum(p.numel() for p in module.parameters()), _flops(module.eval(), x))


def network_cost(arch: NB201Arch, dataset: str | DatasetSpec = "cifar10", prune: bool = False) -> NetworkCost:
    """Cost of `build_network(arch, dataset, prune)` without building it."""
    spec = dataset if isinstance(dataset, DatasetSpec) else get_dataset(dataset)
    base = _skeleton_cost(spec)
    params, flops = base.params, base.flops
    for k in _kept_edges(arch, prune):
        for stage in range(len(_STAGE_CHANNELS)):
            cost = _op_cost(arch.ops[k], stage, spec)
            params += _CELLS_PER_STAGE * cost.params
            flops += _CELLS_PER_STAGE * cost.flops
    return NetworkCost(params, flops)


def measured_cost(net: torch.nn.Module, spec: DatasetSpec) -> NetworkCost:
    """Count a built network directly (the reference `network_cost` is checked against)."""
    x = torch.zeros(1, *spec.input_shape)
    return NetworkCost(sum(p.numel() for p in net.parameters()), _flops(net.eval(), x))


__all__ = ["OPS", "NetworkCost", "measured_cost", "network_cost"]
