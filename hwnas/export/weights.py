"""The weights an exported network carries: a trained checkpoint, or a seeded random init.

A random init alone is not a usable reference for verification: with BatchNorm at its initial
statistics (mean 0, variance 1) nothing rescales activations, so a network of skip connections
sums them cell after cell and its logits reach ~1e7, where float32 rounding alone exceeds any
absolute tolerance. The random-init export therefore sets each BatchNorm's running statistics
from a few seeded batches of random inputs (the BN re-calibration used after weight changes),
which keeps activations at unit scale. Latency does not depend on weight values.
"""

from __future__ import annotations

import torch

from hwnas.nets import DatasetSpec, build_network
from hwnas.space.nb201 import NB201Arch

CALIBRATION_BATCHES = 2
CALIBRATION_BATCH_SIZE = 16


def calibrate_batchnorm(model: torch.nn.Module, inputs: torch.Tensor) -> torch.nn.Module:
    """Set every BatchNorm's running mean and variance to their averages over `inputs`."""
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # cumulative average over the calibration batches
    model.train()
    with torch.no_grad():
        for batch in inputs.split(CALIBRATION_BATCH_SIZE):
            model(batch)
    for norm in norms:
        norm.momentum = 0.1
    return model.eval()


def random_network(arch: NB201Arch, spec: DatasetSpec, seed: int = 0) -> torch.nn.Module:
    """The deployable network with seeded random weights and calibrated BatchNorm statistics."""
    generator = torch.Generator().manual_seed(seed)
    inputs = torch.randn(CALIBRATION_BATCHES * CALIBRATION_BATCH_SIZE, *spec.input_shape, generator=generator)
    torch.manual_seed(seed)
    model = build_network(arch, spec, prune=True)
    return calibrate_batchnorm(model, inputs)


def describe_random_init(seed: int) -> str:
    return (
        f"random init, torch seed {seed}; BatchNorm statistics from {CALIBRATION_BATCHES}x{CALIBRATION_BATCH_SIZE} "
        "random-normal inputs"
    )
