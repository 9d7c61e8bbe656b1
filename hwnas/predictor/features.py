"""Architecture features for latency models: what the deployed and the benchmark networks run.

Two views of the cell: every non-`none` edge (the benchmark network, what HW-NAS-Bench
measured) and the edges left after pruning dead paths (the deployable network, what hwnas
profiles). FLOPs and parameters are not separate features: all 15 cells share one cell, so they
are linear in the op counts per view, which the features hold already.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import numpy as np

from hwnas.nets.nb201 import _kept_edges
from hwnas.space.nb201 import EDGES, N_CELL_NODES, OPS, NB201Arch

OP_INDEX = {op: i for i, op in enumerate(OPS)}


def _edge_names() -> list[str]:
    return [f"e{src}{dst}" for src, dst in EDGES]


@cache
def kept_edges(arch: NB201Arch) -> frozenset[int]:
    """Edges of the pruned (deployable) cell, as `build_network(prune=True)` builds it."""
    return frozenset(_kept_edges(arch, prune=True))


def feature_names() -> list[str]:
    names = []
    for view in ("all", "kept"):
        names += [f"{view}:{name}:{op}" for name in _edge_names() for op in OPS]
    names += [f"kept_count:{op}" for op in OPS]
    names += ["kept_adds", "cell_is_zero"]
    return names


@cache
def _features(arch: NB201Arch) -> np.ndarray:
    n_ops = len(OPS)
    raw = np.zeros((len(EDGES), n_ops))
    kept = np.zeros((len(EDGES), n_ops))
    kept_set = kept_edges(arch)
    for k, op in enumerate(arch.ops):
        raw[k, OP_INDEX[op]] = 1
        kept[k, OP_INDEX[op] if k in kept_set else OP_INDEX["none"]] = 1
    inputs = [sum(1 for k in kept_set if EDGES[k][1] == node) for node in range(1, N_CELL_NODES)]
    adds = sum(max(0, n - 1) for n in inputs)
    zero = float(inputs[-1] == 0)
    return np.concatenate([raw.ravel(), kept.ravel(), kept.sum(axis=0), [adds, zero]])


def arch_features(archs: Sequence[NB201Arch]) -> np.ndarray:
    """[n, len(feature_names())] feature matrix."""
    return np.stack([_features(a) for a in archs]) if len(archs) else np.zeros((0, len(feature_names())))
