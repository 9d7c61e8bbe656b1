"""Fit a latency predictor on a profiled subset of a device's table; judge it on the rest; keep it.

Units of fitting and evaluation are the distinct measured networks of a table: when a table
gives every member of an isomorphism class its representative's value (HW-NAS-Bench-360,
hwnas's own tables of representatives), it is reduced to the representatives first, so an
architecture never sits in the test set while its identical twin is in the training set. Tables
that measured every architecture on its own (HW-NAS-Bench v1.0) keep all rows.

A fitted predictor is saved atomically as data (`hwnas.predictor.storage`: an `.npz` of numbers
and JSON, loaded without pickle, so a predictor file from anyone is safe to pass) plus a JSON
sidecar (device, table, training architectures, held-out metrics), by default under
`<cache>/predictors/<device>-<dataset>.npz`.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from hwnas.atomic import atomic_write_json
from hwnas.devices.registry import Device
from hwnas.devices.tables import require_latency_table
from hwnas.errors import BadInputError, DataError
from hwnas.nets import get_dataset
from hwnas.paths import cache_dir
from hwnas.predictor.models import LatencyModel, make_model, model_from_state, within
from hwnas.predictor.storage import read_npz, write_npz
from hwnas.space.nb201 import NB201Space
from hwnas.tables.catalog import Catalog

FORMAT = "hwnas-latency-predictor"


@dataclass
class LatencyData:
    """The measured networks of one device table: arch strings and latencies (ms)."""

    device: str
    dataset: str
    table: str
    metric: str
    arch_strs: list[str]
    latency_ms: np.ndarray
    collapsed: bool  # reduced to isomorphism representatives


def latency_data(device: Device, dataset: str, catalog: Catalog) -> LatencyData:
    """Every measured network of the device's latency table for `dataset`."""
    space = NB201Space()
    dataset = get_dataset(dataset).name
    table, ref = require_latency_table(device, dataset, catalog)
    series = table.series(ref.metric)
    series = series[np.isfinite(series.to_numpy()) & (series.to_numpy() > 0)]
    if len(series) < 10:
        raise DataError(f"table {table.name} has only {len(series)} positive {ref.metric} values; need >= 10 to fit")
    reps = np.array([space.format(space.canonical(space.parse(a))) for a in series.index])
    collapsed = bool(series.groupby(reps).nunique().max() == 1)
    if collapsed:
        keep = ~series.groupby(reps).cumcount().to_numpy().astype(bool)  # one row per class
        series = series[keep]
        series.index = reps[keep]
    return LatencyData(device.name, dataset, table.name, ref.metric, list(series.index), series.to_numpy(), collapsed)


def split(n: int, train_size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded random training indices and the held-out rest."""
    if not 5 <= train_size < n:
        raise BadInputError(
            f"--train-size must be between 5 and {n - 1} (the table has {n} networks), got {train_size}"
        )
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[:train_size]), np.sort(order[train_size:])


def scores(truth: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """Held-out quality: share within +-10% (and +-5%, +-20%), RMSE (ms), MAPE, Spearman."""
    truth, predicted = np.asarray(truth, dtype=float), np.asarray(predicted, dtype=float)
    return {
        "n": len(truth),
        "within_10": within(truth, predicted, 0.10),
        "within_5": within(truth, predicted, 0.05),
        "within_20": within(truth, predicted, 0.20),
        "rmse_ms": float(np.sqrt(np.mean((predicted - truth) ** 2))),
        "mape": float(np.mean(np.abs(predicted - truth) / truth)),
        "spearman": float(stats.spearmanr(truth, predicted).statistic),
    }


@dataclass
class LatencyPredictor:
    """A fitted model plus what it was fitted on; a `LatencySource` for searches."""

    model: LatencyModel
    device: str
    dataset: str
    table: str
    metric: str
    train_archs: list[str]
    by_representative: bool  # the table measured representatives: predict members through theirs
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"predicted:{self.device}"

    def predict(self, archs: Sequence[Hashable]) -> np.ndarray:
        space = NB201Space()
        parsed = [space.parse(a) if isinstance(a, str) else a for a in archs]
        return self.model.predict([space.canonical(a) for a in parsed] if self.by_representative else parsed)

    def latency_ms(self, arch: Hashable) -> float:
        return float(self.predict([arch])[0])

    def describe(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "device": self.device,
            "dataset": self.dataset,
            "table": self.table,
            "metric": self.metric,
            "config": self.model.config(),
            "train_size": len(self.train_archs),
            "by_representative": self.by_representative,
            "metrics": self.metrics,
        }

    def save(self, path: str | Path) -> Path:
        """Data file (numbers + JSON, no pickle) + JSON sidecar (with the training archs), each atomic."""
        path = Path(path)
        model_meta, arrays = self.model.state()
        meta = {**self.describe(), "model": model_meta, "train_archs": self.train_archs}
        write_npz(path, meta, arrays)
        atomic_write_json(path.with_suffix(".json"), {**self.describe(), "train_archs": self.train_archs})
        return path


def default_predictor_path(device: str, dataset: str) -> Path:
    return cache_dir() / "predictors" / f"{device}-{get_dataset(dataset).name}.npz"


def load_predictor(path: str | Path) -> LatencyPredictor:
    """A predictor saved by `LatencyPredictor.save`; reads numbers and JSON only, never pickle."""
    meta, arrays = read_npz(path)
    try:
        return LatencyPredictor(
            model=model_from_state(meta["model"], arrays),
            device=str(meta["device"]),
            dataset=str(meta["dataset"]),
            table=str(meta["table"]),
            metric=str(meta["metric"]),
            train_archs=[str(a) for a in meta["train_archs"]],
            by_representative=bool(meta["by_representative"]),
            metrics=dict(meta.get("metrics") or {}),
        )
    except (KeyError, TypeError) as exc:
        raise DataError(f"{path} is an incomplete hwnas latency predictor file (missing {exc})") from None


def fit_predictor(
    data: LatencyData,
    model: str = "auto",
    train_size: int = 500,
    seed: int = 0,
    hyperparameters: dict[str, Any] | None = None,
) -> LatencyPredictor:
    """Fit on `train_size` seeded random networks of `data`; score on all the others."""
    space = NB201Space()
    train, test = split(len(data.arch_strs), train_size, seed)
    archs = [space.parse(a) for a in data.arch_strs]
    fitted = make_model(model, seed, **(hyperparameters or {})).fit([archs[i] for i in train], data.latency_ms[train])
    predictor = LatencyPredictor(
        fitted, data.device, data.dataset, data.table, data.metric, [data.arch_strs[i] for i in train], data.collapsed
    )
    predictor.metrics = {
        "held_out": scores(data.latency_ms[test], fitted.predict([archs[i] for i in test])),
        "networks": len(data.arch_strs),
        "collapsed_to_representatives": data.collapsed,
        "seed": seed,
    }
    return predictor


def evaluate_predictor(predictor: LatencyPredictor, data: LatencyData) -> dict[str, Any]:
    """Scores on the networks of `data` the predictor was not fitted on."""
    trained = set(predictor.train_archs)
    held = [i for i, a in enumerate(data.arch_strs) if a not in trained]
    if not held:
        raise DataError(f"every network of table {data.table} was used to fit this predictor; nothing is held out")
    guess = predictor.predict([data.arch_strs[i] for i in held])
    return {"table": data.table, "metric": data.metric, **scores(data.latency_ms[held], guess)}
