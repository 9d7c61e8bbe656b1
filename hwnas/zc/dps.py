"""Discrete Proxy Search (Li et al. 2023, §2.2): regularized evolution over Eproxy's settings,
fitness = Spearman rank correlation between Eproxy's score and the known accuracy of ~20
benchmarked architectures.

The search is deterministic under its seed and resumable: every evaluated config is appended to
a JSON history (atomically); a rerun regenerates the same candidates and takes the fitness of
those already in the history instead of evaluating them again.
"""

from __future__ import annotations

import json
import math
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from hwnas.atomic import atomic_write_json
from hwnas.errors import BadInputError, DataError
from hwnas.nets import get_dataset
from hwnas.space.nb201 import NB201Space
from hwnas.zc.eproxy import (
    CHANNELS,
    FEATURES,
    INITS,
    KERNELS,
    Branch,
    EproxyConfig,
    eproxy_loss,
    synthetic_targets,
    target_side,
)
from hwnas.zc.images import image_batch

LEVELS: tuple[float, ...] = (0.5, 1.0, 1.5, 2.0)
LRS: tuple[float, ...] = tuple(round(0.5 + 0.1 * i, 1) for i in range(11))  # 0.5 .. 1.5
FLOPS_ALPHAS: tuple[float, ...] = tuple(round(-0.5 + 0.1 * i, 1) for i in range(11))  # -0.5 .. 0.5
FEATURE_PROB = 0.2  # chance that a feature joins a branch's targets in a random config (GenNAS-Zero)
DPS_FORMAT = "hwnas-dps"


@dataclass(frozen=True)
class DPSSettings:
    population: int = 20
    cycles: int = 60
    tournament: int = 5
    mutation_rate: float = 0.2
    seed: int = 0

    def __post_init__(self) -> None:
        if self.population < 2 or not 1 <= self.tournament <= self.population or self.cycles < 0:
            raise BadInputError("DPS needs population >= 2, 1 <= tournament <= population and cycles >= 0")
        if not 0 < self.mutation_rate <= 1:
            raise BadInputError("DPS mutation_rate must be in (0, 1]")


def _pick(rng: np.random.Generator, options: tuple) -> Any:
    return options[int(rng.integers(len(options)))]


def _random_features(rng: np.random.Generator) -> tuple[str, ...]:
    chosen = tuple(f for f in FEATURES if rng.random() < FEATURE_PROB)
    return chosen or (_pick(rng, FEATURES),)


def random_config(rng: np.random.Generator, target_seed: int = 0) -> EproxyConfig:
    branches = tuple(
        Branch(
            features=_random_features(rng),
            mid_channels=_pick(rng, CHANNELS),
            out_channels=_pick(rng, CHANNELS),
            transform_kernel=_pick(rng, KERNELS),
            barrier_kernel=_pick(rng, KERNELS),
            level=_pick(rng, LEVELS),
        )
        for _ in range(3)
    )
    return EproxyConfig(
        branches=branches,
        n_branches=int(rng.integers(1, 4)),
        lr=_pick(rng, LRS),
        init=_pick(rng, INITS),
        barrier_init=_pick(rng, INITS),
        flops_alpha=_pick(rng, FLOPS_ALPHAS),
        target_seed=target_seed,
    )


def mutate(config: EproxyConfig, rng: np.random.Generator, rate: float) -> EproxyConfig:
    """Each setting is redrawn with probability `rate`; a feature is toggled with probability `rate`."""

    def maybe(value: Any, options: tuple) -> Any:
        return _pick(rng, options) if rng.random() < rate else value

    branches = []
    for b in config.branches:
        features = [f for f in FEATURES if (f in b.features) != (rng.random() < rate)]
        branches.append(
            Branch(
                features=tuple(features) or b.features,
                mid_channels=maybe(b.mid_channels, CHANNELS),
                out_channels=maybe(b.out_channels, CHANNELS),
                transform_kernel=maybe(b.transform_kernel, KERNELS),
                barrier_kernel=maybe(b.barrier_kernel, KERNELS),
                level=maybe(b.level, LEVELS),
            )
        )
    return replace(
        config,
        branches=tuple(branches),
        n_branches=maybe(config.n_branches, (1, 2, 3)),
        lr=maybe(config.lr, LRS),
        init=maybe(config.init, INITS),
        barrier_init=maybe(config.barrier_init, INITS),
        flops_alpha=maybe(config.flops_alpha, FLOPS_ALPHAS),
    )


def config_fitness(
    config: EproxyConfig, archs_accs: Mapping[str, float], dataset: str, seed: int = 0, image_seed: int = 0
) -> float:
    """Spearman between Eproxy's negated loss and accuracy on the given architectures (-1 if undefined)."""
    spec = get_dataset(dataset)
    space = NB201Space()
    images = image_batch(config.batch_size, spec.input_shape[1], image_seed)
    targets = synthetic_targets(images, config, target_side(spec))
    scores = [-eproxy_loss(space.parse(a), spec, config, images, targets, seed) for a in archs_accs]
    rho = stats.spearmanr(scores, list(archs_accs.values())).statistic
    return float(rho) if math.isfinite(rho) else -1.0


@dataclass
class DPSResult:
    best: EproxyConfig
    best_fitness: float
    history: list[dict[str, Any]]


def _load_history(path: Path, identity: dict[str, Any]) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{path} is not readable DPS output ({exc}); move it aside to start over") from None
    if not isinstance(data, dict) or data.get("format") != DPS_FORMAT:
        raise DataError(f"{path} is not DPS output; choose another --out")
    if data.get("identity") != identity:
        raise DataError(f"{path} holds a DPS run with other settings or architectures; choose another --out")
    return list(data.get("history", []))


def discrete_proxy_search(
    archs_accs: Mapping[str, float],
    dataset: str,
    out: str | Path,
    settings: DPSSettings | None = None,
    score_seed: int = 0,
    image_seed: int = 0,
    on_step: Callable[[int, int, float, float], None] | None = None,
) -> DPSResult:
    """Evolve Eproxy configs; write and return the best (by Spearman on `archs_accs`)."""
    settings = settings or DPSSettings()
    if len(archs_accs) < 5:
        raise BadInputError(f"DPS needs at least 5 architectures of known accuracy, got {len(archs_accs)}")
    out = Path(out)
    identity = {
        "dataset": get_dataset(dataset).name,
        "archs_accs": {k: float(v) for k, v in archs_accs.items()},
        # `cycles` is left out: a rerun with more cycles continues the same search.
        "settings": {k: v for k, v in asdict(settings).items() if k != "cycles"},
        "score_seed": score_seed,
        "image_seed": image_seed,
    }
    logged = _load_history(out, identity)
    rng = np.random.default_rng(settings.seed)
    history: list[dict[str, Any]] = []
    seen: dict[str, float] = {}  # a mutation can return its parent's config: no need to score it twice
    population: deque[tuple[float, EproxyConfig]] = deque()
    total = settings.population + settings.cycles
    for step in range(total):
        if step < settings.population:
            config = random_config(rng)
        else:
            picks = rng.choice(len(population), size=settings.tournament, replace=False)
            parent = max((population[i] for i in sorted(picks)), key=lambda fc: fc[0])[1]
            config = mutate(parent, rng, settings.mutation_rate)
        if step < len(logged):
            if logged[step]["config"] != config.to_dict():
                raise DataError(f"{out}: step {step} differs on replay (code changed?); choose another --out")
            fitness, seconds = float(logged[step]["fitness"]), float(logged[step]["seconds"])
        elif _key(config) in seen:
            fitness, seconds = seen[_key(config)], 0.0
        else:
            start = time.perf_counter()
            fitness = config_fitness(config, archs_accs, dataset, score_seed, image_seed)
            seconds = time.perf_counter() - start
        seen[_key(config)] = fitness
        history.append({"step": step, "fitness": fitness, "seconds": seconds, "config": config.to_dict()})
        population.append((fitness, config))
        if len(population) > settings.population:
            population.popleft()
        if step >= len(logged):
            _save(out, identity, history)
        if on_step is not None:
            on_step(step + 1, total, fitness, max(h["fitness"] for h in history))
    best = max(history, key=lambda h: h["fitness"])  # the earliest among equals
    _save(out, identity, history)
    return DPSResult(EproxyConfig.from_dict(best["config"]), float(best["fitness"]), history)


def _key(config: EproxyConfig) -> str:
    return json.dumps(config.to_dict(), sort_keys=True)


def _save(out: Path, identity: dict[str, Any], history: list[dict[str, Any]]) -> None:
    best = max(history, key=lambda h: h["fitness"])
    atomic_write_json(
        out,
        {
            "format": DPS_FORMAT,
            "identity": identity,
            "config": best["config"],
            "fitness": best["fitness"],
            "history": history,
        },
    )
