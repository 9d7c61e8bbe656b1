"""Every zero-cost proxy by name, and scoring one architecture with any set of them.

Scores follow one convention: larger = predicted more accurate (Eproxy's loss is negated).
The batch-based proxies (snip, grad_norm, jacob_cov, naswot) share one forward pass; the
seconds recorded for a proxy are building the network plus the pass that produced it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from functools import cache
from typing import Any

import torch

from hwnas.errors import BadInputError
from hwnas.nets import build_network, get_dataset, network_cost
from hwnas.nets.datasets import DatasetSpec
from hwnas.space.nb201 import NB201Arch
from hwnas.zc.eproxy import EproxyConfig, eproxy_loss, synthetic_targets, target_side
from hwnas.zc.images import image_batch, random_labels
from hwnas.zc.measures import data_measures, synflow


@dataclass(frozen=True)
class ProxyInfo:
    name: str
    group: str  # proxies of one group come out of the same pass
    description: str


PROXIES: dict[str, ProxyInfo] = {
    p.name: p
    for p in (
        ProxyInfo("synflow", "synflow", "synaptic flow, all-ones input, no BN (Tanaka et al. 2020)"),
        ProxyInfo("snip", "batch", "sum |theta * dL/dtheta|, one batch (Lee et al. 2019)"),
        ProxyInfo("grad_norm", "batch", "sum of per-layer gradient norms, one batch"),
        ProxyInfo("jacob_cov", "batch", "Jacobian covariance (NASWOT v1 / foresight jacob_cov)"),
        ProxyInfo("naswot", "batch", "log|K_H| of ReLU activation codes (NASWOT, Mellor et al. 2021)"),
        ProxyInfo("params", "cost", "parameters of the benchmark network (baseline)"),
        ProxyInfo("flops", "cost", "FLOPs of the benchmark network, batch 1 (baseline)"),
        ProxyInfo("eproxy", "eproxy", "negated Eproxy loss: 10 SGD steps through a frozen barrier (Li et al. 2023)"),
    )
}
CHEAP_PROXIES: tuple[str, ...] = ("synflow", "snip", "grad_norm", "jacob_cov", "naswot", "params", "flops")


@dataclass(frozen=True)
class ScoreSettings:
    """Everything a score depends on besides the architecture and dataset."""

    seed: int = 0  # weight initialization of every network
    batch_size: int = 64  # images for the data-dependent proxies (foresight's default)
    image_seed: int = 0  # which crops, which random labels
    eproxy: EproxyConfig = field(default_factory=EproxyConfig)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ScoreSettings:
        values = dict(values)
        eproxy = EproxyConfig.from_dict(values.pop("eproxy", {}))
        return cls(eproxy=eproxy, **values)


@dataclass
class ArchScores:
    scores: dict[str, float]
    seconds: dict[str, float]


def check_proxies(names: Iterable[str]) -> list[str]:
    """The names as a list, rejecting unknown ones with the list of known proxies."""
    out = []
    for name in names:
        if name not in PROXIES:
            raise BadInputError(f"unknown proxy {name!r}; known: {', '.join(PROXIES)}")
        if name not in out:
            out.append(name)
    if not out:
        raise BadInputError(f"no proxy given; known: {', '.join(PROXIES)}")
    return out


@cache
def _batch(n: int, side: int, image_seed: int) -> torch.Tensor:
    return image_batch(n, side, image_seed)


@cache
def _eproxy_inputs(config: EproxyConfig, spec: DatasetSpec, image_seed: int) -> tuple[torch.Tensor, list[torch.Tensor]]:
    images = _batch(config.batch_size, spec.input_shape[1], image_seed)
    return images, synthetic_targets(images, config, target_side(spec))


def init_network(arch: NB201Arch, spec: DatasetSpec, seed: int) -> torch.nn.Module:
    """The benchmark network with weights drawn from `seed`, without touching the global RNG."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return build_network(arch, spec).train()


def score_arch(
    arch: NB201Arch, dataset: str | DatasetSpec, names: Iterable[str], settings: ScoreSettings
) -> ArchScores:
    """Scores of one architecture's network for `dataset` (input shape and class count)."""
    spec = dataset if isinstance(dataset, DatasetSpec) else get_dataset(dataset)
    names = check_proxies(names)
    groups = {PROXIES[n].group for n in names}
    scores: dict[str, float] = {}
    seconds: dict[str, float] = {}
    group_s: dict[str, float] = {}
    build_s = 0.0
    if groups & {"synflow", "batch"}:
        start = time.perf_counter()
        net = init_network(arch, spec, settings.seed)
        build_s = time.perf_counter() - start
        inputs = _batch(settings.batch_size, spec.input_shape[1], settings.image_seed)
        if "synflow" in groups:
            start = time.perf_counter()
            scores["synflow"] = synflow(net, spec.input_shape)
            group_s["synflow"] = time.perf_counter() - start
        if "batch" in groups:
            start = time.perf_counter()
            labels = random_labels(settings.batch_size, spec.num_classes, settings.image_seed)
            # channels-last runs the batch's convolutions ~25% faster on CPU (same scores up to
            # float rounding, ~1e-3 relative)
            net = net.to(memory_format=torch.channels_last)
            inputs = inputs.contiguous(memory_format=torch.channels_last)
            loss = bool({"snip", "grad_norm"} & set(names))
            jacobian = bool({"jacob_cov", "naswot"} & set(names))
            scores.update(data_measures(net, inputs, labels, loss=loss, jacobian=jacobian))
            group_s["batch"] = time.perf_counter() - start
    if "cost" in groups:
        start = time.perf_counter()
        with torch.random.fork_rng():  # the first call builds reference modules
            cost = network_cost(arch, spec)
        scores["params"], scores["flops"] = float(cost.params), float(cost.flops)
        group_s["cost"] = time.perf_counter() - start
    if "eproxy" in groups:
        start = time.perf_counter()
        images, targets = _eproxy_inputs(settings.eproxy, spec, settings.image_seed)
        scores["eproxy"] = -eproxy_loss(arch, spec, settings.eproxy, images, targets, settings.seed)
        group_s["eproxy"] = time.perf_counter() - start
    for name in names:
        group = PROXIES[name].group
        seconds[name] = group_s[group] + (build_s if group in ("synflow", "batch") else 0.0)
    return ArchScores({n: scores[n] for n in names}, seconds)
