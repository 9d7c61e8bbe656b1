"""Eproxy (Li et al., ICCV 2023): few-shot regression onto synthetic targets through a frozen
random "barrier" convolution; the loss after a few large-step SGD iterations ranks networks
(lower = better).

Layout follows the public GenNAS-Zero code: the network's cells are tapped after each stage
(deepest first), each tap resized to the deepest stage's resolution, passed through a
trainable transform (conv + ReLU + BN) to `mid_channels`, then through the frozen barrier conv
to `out_channels`, and regressed with MSE onto the branch's target; the branch losses are
weighted 1, 1/2, 1/4 (deepest first). The score is the loss of the last iteration. Every
setting DPS may change is a field of `EproxyConfig`.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields, replace
from functools import cache
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from hwnas.errors import BadInputError
from hwnas.nets import build_network, network_cost
from hwnas.nets.datasets import DatasetSpec
from hwnas.nets.nb201 import NB201Network, ResNetBasicBlock
from hwnas.space.nb201 import NB201Arch

FEATURES: tuple[str, ...] = ("cnn", "dot", "wave_low", "wave_mid", "wave_high")
# Frequency ranges (cycles per pixel) of the sine-wave targets (paper §2.2).
WAVE_BANDS: dict[str, tuple[float, float]] = {
    "wave_low": (0.0, 0.125),
    "wave_mid": (0.125, 0.375),
    "wave_high": (0.375, 0.5),
}
INITS: tuple[str, ...] = ("default", "kaiming_normal", "kaiming_uniform", "xavier_normal", "xavier_uniform")
KERNELS: tuple[int, ...] = (1, 3, 7)
# The paper searches 16..512 channels; 512 is left out to keep one evaluation near a second on CPU.
CHANNELS: tuple[int, ...] = (16, 32, 64, 128, 256)
DIVERGED_LOSS = 1e30  # a loss that became NaN/inf ranks below every finite one
_STAGES = 3


@dataclass(frozen=True)
class Branch:
    """One tapped stage: what it regresses onto and through which layers."""

    features: tuple[str, ...] = ("cnn",)
    mid_channels: int = 128
    out_channels: int = 128
    transform_kernel: int = 1
    barrier_kernel: int = 3
    level: float = 1.0  # target scale ("augment coefficient", 0.5..2)

    def __post_init__(self) -> None:
        object.__setattr__(self, "features", tuple(self.features))
        unknown = [f for f in self.features if f not in FEATURES]
        if unknown or not self.features:
            raise BadInputError(f"Eproxy branch features {self.features!r}: need one or more of {', '.join(FEATURES)}")
        if self.transform_kernel not in KERNELS or self.barrier_kernel not in KERNELS:
            raise BadInputError(f"Eproxy kernels must be one of {KERNELS}")
        if self.mid_channels < 1 or self.out_channels < 1 or self.level <= 0:
            raise BadInputError("Eproxy channels must be >= 1 and level > 0")


@dataclass(frozen=True)
class EproxyConfig:
    """Eproxy's settings; the defaults are the paper's Eproxy without DPS (untrained-CNN targets,
    10 SGD steps, lr 1, batch 16) with GenNAS-Zero's NB201 layout (3 taps, 128 channels)."""

    branches: tuple[Branch, ...] = (Branch(), Branch(), Branch())
    n_branches: int = 3  # taps used, deepest first: 1 = only the last stage
    lr: float = 1.0
    momentum: float = 0.9
    weight_decay: float = 4e-5
    steps: int = 10
    batch_size: int = 16
    init: str = "default"  # weights of the network and transform layers
    barrier_init: str = "default"
    flops_alpha: float = 0.0  # loss * (1 + alpha * flops / max_flops)
    target_seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "branches", tuple(b if isinstance(b, Branch) else Branch(**b) for b in self.branches))
        if len(self.branches) != _STAGES or not 1 <= self.n_branches <= _STAGES:
            raise BadInputError(f"Eproxy needs {_STAGES} branch settings and 1 <= n_branches <= {_STAGES}")
        if self.init not in INITS or self.barrier_init not in INITS:
            raise BadInputError(f"Eproxy init must be one of {', '.join(INITS)}")
        if self.steps < 1 or self.batch_size < 2 or self.lr <= 0:
            raise BadInputError("Eproxy needs steps >= 1, batch_size >= 2 and lr > 0")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (lists, not tuples), so it compares equal to a stored copy."""
        return json.loads(json.dumps(asdict(self)))

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> EproxyConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise BadInputError(f"unknown Eproxy setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        values = dict(values)
        if "branches" in values:
            values["branches"] = tuple(Branch(**dict(b)) for b in values["branches"])
        return cls(**values)

    def with_branch(self, index: int, **changes: Any) -> EproxyConfig:
        branches = list(self.branches)
        branches[index] = replace(branches[index], **changes)
        return replace(self, branches=tuple(branches))


class _Tapped(nn.Module):
    """The benchmark network without its classifier, returning each stage's output (deepest first)."""

    def __init__(self, net: NB201Network, side: int) -> None:
        super().__init__()
        net.classifier = nn.Identity()  # Eproxy regresses stage outputs; the classifier plays no part
        self.net = net
        self.side = side
        cells = list(net.cells)
        self.stage_ends = {
            i for i in range(len(cells)) if i + 1 == len(cells) or isinstance(cells[i + 1], ResNetBasicBlock)
        }

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.net.stem(x)
        taps = []
        for i, module in enumerate(self.net.cells):
            x = module(x)
            if i in self.stage_ends:
                taps.append(x if x.shape[-1] == self.side else F.interpolate(x, size=(self.side, self.side)))
        return taps[::-1]


def _initialize(module: nn.Module, scheme: str) -> None:
    if scheme == "default":
        return
    for m in module.modules():
        if isinstance(m, nn.Conv2d | nn.Linear):
            if scheme == "kaiming_normal":
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            elif scheme == "kaiming_uniform":
                nn.init.kaiming_uniform_(m.weight, nonlinearity="relu")
            elif scheme == "xavier_normal":
                nn.init.xavier_normal_(m.weight)
            else:
                nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def _cnn_features(images: torch.Tensor, channels: int, side: int, seed: int) -> torch.Tensor:
    """Output of an untrained 6-layer CNN on the images, standardized per channel."""
    with torch.random.fork_rng(), torch.no_grad():
        torch.manual_seed(seed)
        layers: list[nn.Module] = []
        c_in, size = images.shape[1], images.shape[-1]
        widths = (32, 64, 64, 128, 128, channels)
        for i, width in enumerate(widths):
            stride = 2 if size > side else 1
            layers.append(nn.Conv2d(c_in, width, 3, stride=stride, padding=1))
            if i + 1 < len(widths):
                layers.append(nn.ReLU())
            c_in, size = width, size // stride
        out = nn.Sequential(*layers)(images)
    mean = out.mean(dim=(0, 2, 3), keepdim=True)
    std = out.std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-6)
    return (out - mean) / std


def _branch_targets(images: torch.Tensor, branch: Branch, side: int, seed: int) -> torch.Tensor:
    """The sum of the branch's features, times its level: [batch, out_channels, side, side]."""
    batch = images.shape[0]
    rng = np.random.default_rng(seed)
    total = torch.zeros(batch, branch.out_channels, side, side)
    for name in branch.features:
        if name == "cnn":
            total += _cnn_features(images, branch.out_channels, side, seed)
        elif name == "dot":
            signs = rng.integers(0, 2, size=(batch, branch.out_channels, side, side)) * 2 - 1
            total += torch.from_numpy(signs.astype(np.float32))
        else:
            low, high = WAVE_BANDS[name]
            pos = np.arange(side, dtype=np.float64)
            waves = np.empty((branch.out_channels, side, side))
            for c in range(branch.out_channels):
                f, phase = rng.uniform(low, high), rng.uniform(0, 2 * math.pi)
                line = np.sin(2 * math.pi * f * pos + phase)
                waves[c] = line[None, :] if rng.random() < 0.5 else line[:, None]
            total += torch.from_numpy(waves.astype(np.float32)).expand(batch, -1, -1, -1)
    return total * branch.level


def synthetic_targets(images: torch.Tensor, config: EproxyConfig, side: int) -> list[torch.Tensor]:
    """Targets of the used branches (deepest first), fixed by `config.target_seed`.

    Waves are shared by every image (a positional pattern), dots and CNN features differ per
    image. Compute once per config and batch; `eproxy_loss` takes them ready-made.
    """
    used = config.branches[: config.n_branches]
    return [_branch_targets(images, b, side, config.target_seed + i) for i, b in enumerate(used)]


def target_side(spec: DatasetSpec) -> int:
    """The deepest stage's resolution, which every tap is resized to."""
    return spec.input_shape[1] // 4


@cache
def max_flops(spec: DatasetSpec) -> float:
    """FLOPs of the largest network (every edge a 3x3 convolution), for the FLOPs term."""
    return float(network_cost(NB201Arch(("nor_conv_3x3",) * 6), spec).flops)


def eproxy_loss(
    arch: NB201Arch,
    spec: DatasetSpec,
    config: EproxyConfig,
    images: torch.Tensor,
    targets: list[torch.Tensor],
    seed: int,
) -> float:
    """Eproxy's loss for one architecture (lower = better) on the fixed batch and its targets."""
    side = target_side(spec)
    used = config.branches[: config.n_branches]
    channels = (64, 32, 16)  # stage widths, deepest first
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        backbone = _Tapped(build_network(arch, spec), side)
        # Everything after the cells draws from its own seed: the classifier (unused here, its
        # size is the class count) then changes nothing, so cifar10 and cifar100 networks score
        # the same.
        torch.manual_seed(seed + 1)
        heads = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(channels[i], b.mid_channels, b.transform_kernel, padding=b.transform_kernel // 2),
                nn.ReLU(),
                nn.BatchNorm2d(b.mid_channels),
            )
            for i, b in enumerate(used)
        )
        model = nn.ModuleDict({"backbone": backbone, "heads": heads})
        _initialize(model, config.init)
        barriers = nn.ModuleList(
            nn.Conv2d(b.mid_channels, b.out_channels, b.barrier_kernel, padding=b.barrier_kernel // 2) for b in used
        )
        _initialize(barriers, config.barrier_init)
    barriers.requires_grad_(False)
    weights = [0.5**i for i in range(len(used))]
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)
    model.train()
    loss_value = DIVERGED_LOSS
    for _ in range(config.steps):
        taps = backbone(images)
        losses = [F.mse_loss(barriers[i](heads[i](taps[i])), targets[i]) for i in range(len(used))]
        loss = sum(losses)
        with torch.no_grad():
            loss_value = float(sum(w * part for w, part in zip(weights, losses, strict=True)))
        if not math.isfinite(loss_value):
            return DIVERGED_LOSS
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    if config.flops_alpha:
        loss_value *= 1.0 + config.flops_alpha * network_cost(arch, spec).flops / max_flops(spec)
    return loss_value
