"""The NAS-Bench-201 cell space: 4 nodes, 6 edges, 5 ops per edge, 15,625 cells."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from hwnas.errors import ArchParseError
from hwnas.space.base import GraphEncoding, Relaxation, SearchSpace

OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
# Edge k goes from EDGES[k][0] to EDGES[k][1], in the order the NB201 string lists them.
EDGES: tuple[tuple[int, int], ...] = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))
N_CELL_NODES = 4
# Ops-on-nodes graph: node 0 is the cell input, nodes 1..6 the edge ops, node 7 the output.
N_GRAPH_NODES = len(EDGES) + 2
# `live`: the op is on a path from the input to the output that no `none` cuts, so it shapes
# the cell's function (see `live_edges`); dead ops still cost latency where a board runs them.
FEATURE_NAMES: tuple[str, ...] = ("input", "output", *OPS, "live")
_OP_INDEX = {op: i for i, op in enumerate(OPS)}


@dataclass(frozen=True, order=True)
class NB201Arch:
    """One NB201 cell: the op on each of the 6 edges, in string order."""

    ops: tuple[str, ...]

    def __post_init__(self) -> None:
        if len(self.ops) != len(EDGES) or any(op not in _OP_INDEX for op in self.ops):
            raise ArchParseError(f"an NB201 cell needs 6 ops from {', '.join(OPS)}; got {self.ops!r}")

    def __str__(self) -> str:
        return format_arch(self)

    @property
    def op_indices(self) -> tuple[int, ...]:
        return tuple(_OP_INDEX[op] for op in self.ops)

    @property
    def ordinal(self) -> int:
        """Position in `enumerate_archs()` (base-5 number of the op indices); not a benchmark index."""
        value = 0
        for i in self.op_indices:
            value = value * len(OPS) + i
        return value


def format_arch(arch: NB201Arch) -> str:
    groups = []
    k = 0
    for node in range(1, N_CELL_NODES):
        tokens = []
        for src in range(node):
            tokens.append(f"{arch.ops[k]}~{src}")
            k += 1
        groups.append("|" + "|".join(tokens) + "|")
    return "+".join(groups)


_TOKEN = re.compile(r"([^|~+]*)~([^|+]*)")


def parse_arch(text: str) -> NB201Arch:
    """Parse `|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`, naming the bad token and what was expected."""
    if not isinstance(text, str):
        raise ArchParseError(f"an NB201 architecture is a string, got {type(text).__name__}")
    s = text.strip()
    if not s:
        raise ArchParseError("empty architecture string; expected |op~0|+|op~0|op~1|+|op~0|op~1|op~2|")
    groups = s.split("+")
    if len(groups) != N_CELL_NODES - 1:
        raise ArchParseError(f"{s!r} has {len(groups)} node group(s) separated by '+'; expected 3 (nodes 1, 2 and 3)")
    ops: list[str] = []
    for node, group in enumerate(groups, start=1):
        if not (group.startswith("|") and group.endswith("|") and len(group) >= 2):
            raise ArchParseError(f"node {node} group {group!r} must start and end with '|', e.g. |nor_conv_3x3~0|")
        tokens = group[1:-1].split("|")
        if len(tokens) != node:
            raise ArchParseError(
                f"node {node} has {len(tokens)} edge(s) in {group!r}; expected {node} "
                f"(one from each of nodes {', '.join(str(i) for i in range(node))})"
            )
        for src, token in enumerate(tokens):
            m = _TOKEN.fullmatch(token)
            if m is None:
                raise ArchParseError(
                    f"edge token {token!r} of node {node} is not of the form op~source, e.g. 'skip_connect~{src}'"
                )
            op, source = m.group(1), m.group(2)
            if op not in _OP_INDEX:
                raise ArchParseError(
                    f"unknown op {op!r} in token {token!r} of node {node}; expected one of {', '.join(OPS)}"
                )
            if source != str(src):
                raise ArchParseError(
                    f"token {token!r} of node {node} has source node {source!r}; expected ~{src} "
                    f"(edges of node {node} are listed from node 0 to node {node - 1})"
                )
            ops.append(op)
    return NB201Arch(tuple(ops))


def enumerate_archs() -> Iterator[NB201Arch]:
    for combo in itertools.product(OPS, repeat=len(EDGES)):
        yield NB201Arch(combo)


def _function_key(arch: NB201Arch) -> str:
    """NAS-Bench-201's `to_unique_str(consider_zero=True)`.

    `skip_connect` passes its input's key through, `none` (or any op fed by a zero node) is
    zero ('#'), a node's inputs are an unordered sum. This is the convention behind
    HW-NAS-Bench-360's 6,466 measured representatives.
    """
    keys = {0: "0"}
    k = 0
    for node in range(1, N_CELL_NODES):
        parts = []
        for src in range(node):
            op = arch.ops[k]
            k += 1
            if op == "none" or keys[src] == "#":
                parts.append("#")
            elif op == "skip_connect":
                parts.append(keys[src])
            else:
                parts.append(f"({keys[src]})@{op}")
        keys[node] = "+".join(sorted(parts))
    return keys[N_CELL_NODES - 1]


@lru_cache(maxsize=1)
def _canonical_map() -> dict[NB201Arch, NB201Arch]:
    # Representative = the class member with the smallest op indices, so dead edges read `none`.
    best: dict[str, NB201Arch] = {}
    keys: dict[NB201Arch, str] = {}
    for arch in enumerate_archs():
        key = _function_key(arch)
        keys[arch] = key
        if key not in best or arch.op_indices < best[key].op_indices:
            best[key] = arch
    return {arch: best[key] for arch, key in keys.items()}


def live_edges(active: Sequence) -> list:
    """Per edge, whether it is live, from whether each edge's op is not `none`.

    Works on 0/1 values and on probabilities (then each node's "nonzero" and "reaches the
    output" are independent-OR combinations, so the soft encoding stays differentiable and
    equals the discrete one on one-hot inputs). Edge order as in `EDGES`.
    """
    e01, e02, e12, _, e13, e23 = active  # 0->3 needs no other edge
    nonzero = {0: 1.0, 1: e01}
    nonzero[2] = 1 - (1 - e02) * (1 - e12 * nonzero[1])
    reaches = {3: 1.0, 2: e23}
    reaches[1] = 1 - (1 - e13) * (1 - e12 * reaches[2])
    return [active[k] * nonzero[src] * reaches[dst] for k, (src, dst) in enumerate(EDGES)]


def _build_adjacency() -> np.ndarray:
    adj = np.zeros((N_GRAPH_NODES, N_GRAPH_NODES), dtype=np.float32)
    out = N_GRAPH_NODES - 1
    for a, (src_a, dst_a) in enumerate(EDGES):
        if src_a == 0:
            adj[0, a + 1] = 1
        if dst_a == N_CELL_NODES - 1:
            adj[a + 1, out] = 1
        for b, (src_b, _) in enumerate(EDGES):
            if src_b == dst_a:
                adj[a + 1, b + 1] = 1
    return adj


ADJACENCY = _build_adjacency()


class NB201Space(SearchSpace):
    """NAS-Bench-201 with the ops-on-nodes graph encoding of the OptiProxy paper (A.8).

    Beyond the paper, each op node also carries its `live` flag: one-hot ops alone make a cell
    whose conv sits behind a `none` look like a conv cell, and the proxy has to learn from data
    that it is not (benchmarks/results/tuning/README.md measures what the flag changes).
    """

    name = "nb201"
    relaxation = Relaxation(op_nodes=len(EDGES), op_names=OPS)

    def parse(self, text: str) -> NB201Arch:
        return parse_arch(text)

    def format(self, arch: NB201Arch) -> str:
        return format_arch(arch)

    def size(self) -> int:
        return len(OPS) ** len(EDGES)

    def enumerate(self) -> Iterator[NB201Arch]:
        return enumerate_archs()

    def sample(self, rng: np.random.Generator) -> NB201Arch:
        return self.from_choices(rng.integers(0, len(OPS), size=len(EDGES)))

    def neighbours(self, arch: NB201Arch) -> list[NB201Arch]:
        out = []
        for k, op in enumerate(arch.ops):
            for other in OPS:
                if other != op:
                    out.append(NB201Arch((*arch.ops[:k], other, *arch.ops[k + 1 :])))
        return out

    def canonical(self, arch: NB201Arch) -> NB201Arch:
        return _canonical_map()[arch]

    def canonical_classes(self) -> dict[NB201Arch, list[NB201Arch]]:
        """Representative -> every member (each list in enumeration order)."""
        classes: dict[NB201Arch, list[NB201Arch]] = {}
        for arch, rep in _canonical_map().items():
            classes.setdefault(rep, []).append(arch)
        return classes

    def encode(self, arch: NB201Arch) -> GraphEncoding:
        features = np.zeros((N_GRAPH_NODES, len(FEATURE_NAMES)), dtype=np.float32)
        features[0, 0] = 1
        features[-1, 1] = 1
        for k, i in enumerate(arch.op_indices):
            features[k + 1, 2 + i] = 1
        features[1:-1, -1] = live_edges([float(op != "none") for op in arch.ops])
        return GraphEncoding(features=features, adjacency=ADJACENCY.copy())

    def choices(self, arch: NB201Arch) -> tuple[np.ndarray, None]:
        return np.asarray(arch.op_indices, dtype=np.int64), None

    def from_choices(self, op_indices: Sequence[int], edges: np.ndarray | None = None) -> NB201Arch:
        return NB201Arch(tuple(OPS[int(i)] for i in op_indices))

    def soft_encode(
        self, op_probs: torch.Tensor, edge_probs: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        batch = op_probs.shape[0]
        io = torch.zeros(batch, 1, len(FEATURE_NAMES), dtype=op_probs.dtype)
        first, last = io.clone(), io.clone()
        first[:, 0, 0] = 1
        last[:, 0, 1] = 1
        live = torch.stack(live_edges((1 - op_probs[..., 0]).unbind(-1)), dim=-1)
        middle = torch.cat([torch.zeros(batch, len(EDGES), 2, dtype=op_probs.dtype), op_probs, live[..., None]], dim=2)
        features = torch.cat([first, middle, last], dim=1)
        adjacency = torch.as_tensor(ADJACENCY, dtype=op_probs.dtype).expand(batch, -1, -1)
        return features, adjacency
