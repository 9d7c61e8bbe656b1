"""Low-fidelity search (OptiProxy-NAS §3.3, Table 4): search on short-training accuracy, then
train only the best candidates fully, and charge every query its training seconds.

NAS-Bench-201 gives the 12-epoch training time of every cifar10 network
(`c10valid_train_seconds_12`); a 200-epoch run costs 200/12 of it (same per-epoch cost). A
full-fidelity search pays that for every query; a low-fidelity search pays the 12-epoch cost per
query plus the 200-epoch cost of the `top_k` candidates it retrains. Both are judged by the
200-epoch validation accuracy of the architecture they end with.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import asdict, dataclass

from hwnas.search.base import Trial
from hwnas.search.problem import TableMetric
from hwnas.space.base import SearchSpace
from hwnas.tables.catalog import Catalog

LOW_EPOCHS = 12
FULL_EPOCHS = 200
COST_METRIC = "c10valid_train_seconds_12"
# (low-fidelity accuracy, full-fidelity accuracy) per dataset; only cifar10 has training times.
FIDELITY_METRICS: dict[str, tuple[str, str]] = {"cifar10": ("c10valid_val_12", "c10valid_val_200")}


class TrainedAccuracy(TableMetric):
    """A benchmark accuracy that also says what obtaining it costs (`cost_s`, training seconds)."""

    def __init__(self, catalog: Catalog, metric: str, epochs: int, space: SearchSpace, is_estimate: bool) -> None:
        table = catalog.get("nb201")
        super().__init__(table, metric, space)
        self.epochs = epochs
        self.is_estimate = is_estimate
        self.seconds_per_epoch = {k: v / LOW_EPOCHS for k, v in table.series(COST_METRIC).to_dict().items()}

    def accuracy(self, arch: Hashable) -> float:
        return self.lookup(arch)

    def cost_s(self, arch: Hashable) -> float:
        return self.seconds_per_epoch[self._key(arch)] * self.epochs


def fidelity_sources(catalog: Catalog, space: SearchSpace, dataset: str = "cifar10") -> tuple[TrainedAccuracy, ...]:
    """(low, full): 12-epoch accuracy (an estimate of the 200-epoch one) and the 200-epoch accuracy."""
    low, full = FIDELITY_METRICS[dataset]
    return (
        TrainedAccuracy(catalog, low, LOW_EPOCHS, space, is_estimate=True),
        TrainedAccuracy(catalog, full, FULL_EPOCHS, space, is_estimate=False),
    )


@dataclass(frozen=True)
class FidelityPoint:
    """Where a search stands after `queries` queries: total training seconds and the result."""

    queries: int
    cost_s: float
    accuracy: float | None  # full-fidelity accuracy of the architecture it would return
    arch_str: str | None

    def to_dict(self) -> dict:
        return asdict(self)


def _counted_prefix(trials: Sequence[Trial], queries: int) -> list[Trial]:
    out, counted = [], 0
    for trial in trials:
        if counted == queries:
            break
        out.append(trial)
        counted += trial.counted
    return out


def _search_cost(trials: Sequence[Trial]) -> float:
    return sum(float(t.extra.get("cost_s") or 0.0) for t in trials)


def full_fidelity_points(trials: Sequence[Trial], checkpoints: Sequence[int]) -> list[FidelityPoint]:
    """A full-fidelity run read at each checkpoint: best feasible accuracy and seconds spent."""
    points = []
    for q in checkpoints:
        prefix = _counted_prefix(trials, q)
        feasible = [t for t in prefix if t.counted and t.feasible and t.accuracy is not None]
        best = max(feasible, key=lambda t: t.accuracy, default=None)
        points.append(
            FidelityPoint(
                sum(t.counted for t in prefix),
                _search_cost(prefix),
                best.accuracy if best else None,
                best.arch_str if best else None,
            )
        )
    return points


def low_fidelity_points(
    trials: Sequence[Trial], full: TrainedAccuracy, top_k: int, checkpoints: Sequence[int]
) -> list[FidelityPoint]:
    """A low-fidelity run read at each checkpoint: retrain its `top_k` feasible architectures
    (by low-fidelity accuracy) fully, return the best of them; seconds = search + retraining."""
    points = []
    for q in checkpoints:
        prefix = _counted_prefix(trials, q)
        feasible = [t for t in prefix if t.counted and t.feasible and t.accuracy is not None]
        chosen = sorted(feasible, key=lambda t: t.accuracy, reverse=True)[:top_k]
        retrain_s = sum(full.cost_s(t.arch_str) for t in chosen)
        best = max(chosen, key=lambda t: full.accuracy(t.arch_str), default=None)
        points.append(
            FidelityPoint(
                sum(t.counted for t in prefix),
                _search_cost(prefix) + retrain_s,
                full.accuracy(best.arch_str) if best else None,
                best.arch_str if best else None,
            )
        )
    return points


def affordable(points: Sequence[FidelityPoint], cost_s: float) -> FidelityPoint | None:
    """The last checkpoint (most queries) whose total cost fits in `cost_s`, None when none does.

    Not the best of the affordable checkpoints: a low-fidelity search only learns the full
    accuracy of what it retrains, and each checkpoint's cost includes one retraining round."""
    fitting = [p for p in points if p.cost_s <= cost_s]
    return max(fitting, key=lambda p: p.queries, default=None)
