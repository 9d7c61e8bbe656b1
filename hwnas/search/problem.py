"""What a search is asked to solve: a space, an accuracy source, a device's latency, a budget.

The problem is not the algorithm (pymoo's split): sources are pluggable (benchmark tables now,
live measurement, predictors and zero-cost estimates later) and every searcher sees the same
problem through the runner. When both sources are complete tables the problem also knows the
ground truth: the constrained optimum and the rank of any architecture among feasible ones.
"""

from __future__ import annotations

import math
import time
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from hwnas.devices.registry import Device
from hwnas.devices.tables import require_latency_table
from hwnas.errors import BadInputError, BudgetError, DataError
from hwnas.space.base import SearchSpace
from hwnas.space.nb201 import NB201Space
from hwnas.tables.catalog import Catalog
from hwnas.tables.table import ArchTable

# Search metric and the metrics reported beside it, per dataset ("table:metric").
DEFAULT_ACCURACY: dict[str, str] = {
    "cifar10": "nb201:c10valid_val_200",
    "cifar100": "nb201:c100_test_200",
    "ImageNet16-120": "nb201:in16_test_200",
}
# `--accuracy zero-cost:<proxy>` searches on a zero-cost estimate (hwnas.zc).
ZERO_COST_PREFIX = "zero-cost:"
DEFAULT_REPORTS: dict[str, dict[str, str]] = {
    "cifar10": {"test_accuracy": "nb201:c10_test_200"},
    "cifar100": {"test_accuracy": "nb201:c100_test_200"},
    "ImageNet16-120": {"test_accuracy": "nb201:in16_test_200"},
}


@runtime_checkable
class AccuracySource(Protocol):
    """Where a query's accuracy comes from. Optional: `cost_s(arch)`, `known_values()`."""

    name: str
    is_estimate: bool
    unit: str

    def accuracy(self, arch: Hashable) -> float: ...


@runtime_checkable
class LatencySource(Protocol):
    """Where an architecture's latency on the device comes from. Optional: `known_values()`."""

    name: str

    def latency_ms(self, arch: Hashable) -> float: ...


class TableMetric:
    """One table column as a dict keyed by arch string, so a query is one O(1) lookup."""

    def __init__(self, table: ArchTable, metric: str, space: SearchSpace) -> None:
        self.table_name = table.name
        self.metric = metric
        self.space = space
        self.name = f"{table.name}:{metric}"
        self.unit = table.metrics[metric].unit
        self.values: dict[str, float] = table.series(metric).to_dict()

    def known_values(self) -> Mapping[str, float]:
        return self.values

    def _key(self, arch: Hashable) -> str:
        return arch if isinstance(arch, str) else self.space.format(arch)

    def lookup(self, arch: Hashable) -> float:
        key = self._key(arch)
        value = self.values.get(key)
        if value is None:
            raise DataError(f"table {self.name} has no value for {key}")
        return value


class TableAccuracy(TableMetric):
    """Accuracy looked up in a benchmark table (the benchmark's trained networks)."""

    is_estimate = False

    def __init__(self, table: ArchTable, metric: str, space: SearchSpace, is_estimate: bool = False) -> None:
        super().__init__(table, metric, space)
        self.is_estimate = is_estimate

    def accuracy(self, arch: Hashable) -> float:
        return self.lookup(arch)


class TableLatency(TableMetric):
    """Latency looked up in a device table; a missing string falls back to its isomorphism
    representative (tables measured by representative, e.g. HW-NAS-Bench-360's 6,466)."""

    def latency_ms(self, arch: Hashable) -> float:
        key = self._key(arch)
        value = self.values.get(key)
        if value is None:
            parsed = self.space.parse(key) if isinstance(arch, str) else arch
            value = self.values.get(self.space.format(self.space.canonical(parsed)))
        if value is None:
            raise DataError(f"latency table {self.name} has no value for {key} nor for its representative")
        return value

    def provenance(self) -> dict[str, Any]:
        return {"source": self.name, "looked_up_in_table": True, "measured_here": 0, "machine": "the table's device"}


@dataclass(frozen=True)
class Evaluation:
    """One query's outcome. `accuracy` is None for a latency-only check."""

    accuracy: float | None
    latency_ms: float
    feasible: bool
    wall_time_s: float
    cost_s: float | None = None


@dataclass
class GroundTruth:
    """Every architecture's accuracy and latency, for optimum and rank reporting."""

    arch_strs: list[str]
    accuracy: np.ndarray
    latency_ms: np.ndarray
    budget_ms: float
    feasible: np.ndarray = field(init=False)
    _sorted_feasible: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.feasible = self.latency_ms <= self.budget_ms
        self._sorted_feasible = np.sort(self.accuracy[self.feasible])

    @property
    def n_feasible(self) -> int:
        return int(self.feasible.sum())

    @property
    def optimum_index(self) -> int | None:
        if not self.feasible.any():
            return None
        masked = np.where(self.feasible, self.accuracy, -np.inf)
        return int(np.argmax(masked))

    def optimum(self) -> dict[str, Any] | None:
        """The most accurate feasible architecture (first in space order on ties)."""
        i = self.optimum_index
        if i is None:
            return None
        return {
            "arch_str": self.arch_strs[i],
            "accuracy": float(self.accuracy[i]),
            "latency_ms": float(self.latency_ms[i]),
        }

    def rank(self, accuracy: float) -> int:
        """1-based rank of a feasible accuracy among feasible architectures (1 = optimum)."""
        return int(len(self._sorted_feasible) - np.searchsorted(self._sorted_feasible, accuracy, side="right")) + 1


@dataclass
class SearchProblem:
    """Space + accuracy source + latency source + budget (+ dataset, device).

    `reports` are further accuracy sources looked up for the final result only (e.g. test
    accuracy beside the validation accuracy searched on), never shown to a searcher.
    `reference` is the true accuracy used for ground truth when `accuracy` is an estimate.
    `scorers` go into the searcher's `SearchContext` (cheap per-arch scorers it may use).
    """

    space: SearchSpace
    accuracy: AccuracySource
    latency: LatencySource
    budget_ms: float
    dataset: str
    device_name: str
    reports: dict[str, AccuracySource] = field(default_factory=dict)
    reference: AccuracySource | None = None
    scorers: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    _ground_truth: GroundTruth | None = field(default=None, init=False, repr=False)
    _ground_truth_done: bool = field(default=False, init=False, repr=False)

    def latency_ms(self, arch: Hashable) -> float:
        return _finite(float(self.latency.latency_ms(arch)), self.latency.name, arch)

    def is_feasible(self, latency_ms: float) -> bool:
        return latency_ms <= self.budget_ms

    def evaluate(self, arch: Hashable, latency_ms: float | None = None, with_accuracy: bool = True) -> Evaluation:
        """Query latency (unless already known) and accuracy (unless `with_accuracy` is False)."""
        start = time.perf_counter()
        if latency_ms is None:
            latency_ms = self.latency_ms(arch)
        accuracy = _finite(float(self.accuracy.accuracy(arch)), self.accuracy.name, arch) if with_accuracy else None
        cost = getattr(self.accuracy, "cost_s", None)
        cost_s = float(cost(arch)) if (cost is not None and with_accuracy) else None
        return Evaluation(accuracy, latency_ms, self.is_feasible(latency_ms), time.perf_counter() - start, cost_s)

    def describe(self) -> dict[str, Any]:
        """What identifies the problem in a run's config (no machine paths)."""
        return {
            "space": self.space.name,
            "device": self.device_name,
            "dataset": self.dataset,
            "budget_ms": float(self.budget_ms),
            "accuracy": self.accuracy.name,
            "accuracy_is_estimate": bool(self.accuracy.is_estimate),
            "latency": self.latency.name,
            "reports": {k: v.name for k, v in sorted(self.reports.items())},
            "reference": self.reference.name if self.reference is not None else None,
            "scorers": sorted(self.scorers),
        }

    def report_values(self, arch_str: str) -> dict[str, float | None]:
        out: dict[str, float | None] = {}
        for key, source in sorted(self.reports.items()):
            try:
                out[key] = float(source.accuracy(arch_str))
            except DataError:
                out[key] = None
        return out

    def ground_truth(self) -> GroundTruth | None:
        """Full arrays when the true accuracy and the latency are known for every architecture."""
        if not self._ground_truth_done:
            self._ground_truth = self._compute_ground_truth()
            self._ground_truth_done = True
        return self._ground_truth

    def _compute_ground_truth(self) -> GroundTruth | None:
        truth = self.reference if self.accuracy.is_estimate else self.accuracy
        if truth is None or self.space.size() is None:
            return None
        acc_known = _known(truth)
        lat_known = _known(self.latency)
        if acc_known is None or lat_known is None:
            return None
        strs, accs, lats = [], [], []
        for arch in self.space.enumerate():
            s = self.space.format(arch)
            a = acc_known.get(s)
            lat = lat_known.get(s)
            if lat is None:
                lat = lat_known.get(self.space.format(self.space.canonical(arch)))
            if a is None or lat is None:
                return None
            strs.append(s)
            accs.append(a)
            lats.append(lat)
        return GroundTruth(strs, np.asarray(accs, dtype=float), np.asarray(lats, dtype=float), self.budget_ms)


def _finite(value: float, source: str, arch: Hashable) -> float:
    if not math.isfinite(value):
        raise DataError(f"{source} returned {value} for {arch}; a query needs a finite number")
    return value


def _known(source: Any) -> Mapping[str, float] | None:
    known = getattr(source, "known_values", None)
    return known() if callable(known) else None


def table_metric_spec(spec: str, catalog: Catalog) -> tuple[ArchTable, str]:
    """`table:metric` -> the table and column, with errors that list what exists."""
    table_id, sep, metric = spec.rpartition(":")
    if not sep or not table_id or not metric:
        raise BadInputError(f"accuracy source {spec!r} must be table:metric, e.g. nb201:c10valid_val_200")
    table = catalog.get(table_id)
    accuracies = [m for m, info in table.metrics.items() if info.kind == "accuracy"]
    listed = ", ".join(accuracies) or "none (pick another table)"
    if metric not in table.metrics:
        raise BadInputError(f"table {table_id} has no metric {metric!r}; accuracy metrics: {listed}")
    info = table.metrics[metric]
    if info.kind != "accuracy":
        # A latency, energy or cost column searched as if it were accuracy would pick the slowest network.
        raise BadInputError(
            f"{spec} holds {info.kind} ({info.unit}), not accuracy; accuracy metrics of {table_id}: {listed}"
        )
    return table, metric


def check_budget(budget_ms: float, latency: LatencySource, device_name: str, space: SearchSpace) -> list[str]:
    """Reject budgets no architecture meets; warn when every architecture meets it."""
    if not math.isfinite(budget_ms) or budget_ms <= 0:
        raise BudgetError(f"latency budget must be a positive number of milliseconds, got {budget_ms}")
    known = _known(latency)
    if not known or (space.size() is not None and len(known) < space.size()):
        return []  # live or partial sources: the fastest architecture is not known up front
    fastest = min(known.values())
    slowest = max(known.values())
    if budget_ms < fastest:
        scale = 10 ** (math.floor(math.log10(fastest)) - 1)  # round up to two significant digits
        suggestion = round(math.ceil(fastest / scale) * scale, 12)
        raise BudgetError(
            f"budget {budget_ms:g} ms is below the fastest architecture on {device_name} ({fastest:.4g} ms); "
            f"try --budget-ms >= {suggestion:g}"
        )
    if budget_ms >= slowest:
        return [
            f"budget {budget_ms:g} ms is at or above the slowest architecture on {device_name} ({slowest:.4g} ms): "
            "every architecture is feasible, so this is an unconstrained search"
        ]
    return []


def build_problem(
    device: Device,
    dataset: str,
    budget_ms: float,
    catalog: Catalog,
    accuracy: str | AccuracySource | None = None,
    reports: dict[str, str] | None = None,
    space: SearchSpace | None = None,
    latency: LatencySource | None = None,
    live_cache_dir: str | None = None,
) -> SearchProblem:
    """The search problem for a device and dataset.

    `accuracy` is `table:metric`, `zero-cost:<proxy>`, a ready source, or None for the dataset's
    default (a zero-cost estimate when that table is not on this machine); `reports`
    maps names to `table:metric` (default: the dataset's test accuracy). `latency` overrides
    the device's own source (tests, predictors). Live devices measure through
    `hwnas.profiling.live.LiveLatency`.
    """
    space = space or NB201Space()
    if dataset not in DEFAULT_ACCURACY and accuracy is None:
        raise BadInputError(f"no default accuracy for dataset {dataset!r}; known: {', '.join(DEFAULT_ACCURACY)}")
    if latency is None:
        latency = _device_latency(device, dataset, catalog, space, live_cache_dir)
    warnings: list[str] = []
    default_present = dataset in DEFAULT_ACCURACY and catalog.has(DEFAULT_ACCURACY[dataset].rpartition(":")[0])
    if isinstance(accuracy, str) and accuracy.startswith(ZERO_COST_PREFIX):
        accuracy_source: AccuracySource = _zero_cost(accuracy.removeprefix(ZERO_COST_PREFIX), dataset)
    elif accuracy is None and not default_present:
        # No accuracy table on this machine (new board, fresh install, offline): estimate.
        accuracy_source = _zero_cost(None, dataset)
        warnings.append(
            f"no accuracy table for {dataset} here ({DEFAULT_ACCURACY[dataset]}); searching on the zero-cost "
            f"estimate {accuracy_source.name}: its values are proxy scores, not accuracies"
        )
    elif accuracy is None or isinstance(accuracy, str):
        table, metric = table_metric_spec(accuracy or DEFAULT_ACCURACY[dataset], catalog)
        accuracy_source = TableAccuracy(table, metric, space)
    else:
        accuracy_source = accuracy
    reference = None
    if accuracy_source.is_estimate and default_present:
        table, metric = table_metric_spec(DEFAULT_ACCURACY[dataset], catalog)
        reference = TableAccuracy(table, metric, space)
    report_specs = DEFAULT_REPORTS.get(dataset, {}) if reports is None else reports
    report_sources: dict[str, AccuracySource] = {}
    for key, spec in report_specs.items():
        if reports is None and not catalog.has(spec.rpartition(":")[0]):
            continue  # default reports are optional; asked-for ones must exist
        table, metric = table_metric_spec(spec, catalog)
        report_sources[key] = TableAccuracy(table, metric, space)
    # What the latency source found out while opening (e.g. a committed table measured on
    # another machine, so everything is measured here) is the user's to know.
    warnings += [str(w) for w in getattr(latency, "warnings", [])]
    if (
        accuracy is None
        and default_present
        and dataset in DEFAULT_REPORTS
        and DEFAULT_REPORTS[dataset].get("test_accuracy") == DEFAULT_ACCURACY[dataset]
    ):
        warnings.append(
            f"{dataset} has no validation accuracy in the benchmark tables: the search target "
            f"{DEFAULT_ACCURACY[dataset]} is the test accuracy, so the reported test accuracy is the searched "
            "value itself, not a held-out check"
        )
    warnings += check_budget(float(budget_ms), latency, device.name, space)
    return SearchProblem(
        space=space,
        accuracy=accuracy_source,
        latency=latency,
        budget_ms=float(budget_ms),
        dataset=dataset,
        device_name=device.name,
        reports=report_sources,
        reference=reference,
        warnings=warnings,
    )


def _zero_cost(proxy: str | None, dataset: str) -> AccuracySource:
    """A zero-cost estimate (`proxy` None: the offline default), see `hwnas.zc.source`."""
    from hwnas.zc.source import DEFAULT_OFFLINE_PROXY, zero_cost_source

    return zero_cost_source(proxy or DEFAULT_OFFLINE_PROXY, dataset)


def _device_latency(
    device: Device, dataset: str, catalog: Catalog, space: SearchSpace, live_cache_dir: str | None
) -> LatencySource:
    if device.is_live:
        try:
            from hwnas.profiling.live import LiveLatency
        except ImportError as exc:
            raise DataError(
                f"device {device.name} measures live, which needs hwnas.profiling.live (not importable: {exc})"
            ) from None
        return LiveLatency(device, dataset, cache_dir=live_cache_dir)
    table, ref = require_latency_table(device, dataset, catalog)
    return TableLatency(table, ref.metric, space)
