"""Readers for the benchmark files (shared parquet copies and upstream formats) and user tables."""

from __future__ import annotations

import io
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from hwnas.errors import ArchParseError, DataError
from hwnas.space.nb201 import format_arch, parse_arch
from hwnas.tables.table import ARCH_INDEX, ARCH_STR, ArchTable, MetricInfo, numeric, read_parquet_file

# -- NB201 accuracies (nb201/accuracy.parquet) ------------------------------------------------

NB201_ACCURACY_METRICS: dict[str, MetricInfo] = {
    "c10valid_val_200": MetricInfo("%", "accuracy", "cifar10", description="cifar10-valid validation, 200 epochs"),
    "c10valid_test_200": MetricInfo("%", "accuracy", "cifar10", description="cifar10-valid test, 200 epochs"),
    "c10_test_200": MetricInfo("%", "accuracy", "cifar10", description="cifar10 test, 200 epochs"),
    "c100_test_200": MetricInfo("%", "accuracy", "cifar100", description="cifar100 test, 200 epochs"),
    "in16_test_200": MetricInfo("%", "accuracy", "ImageNet16-120", description="ImageNet16-120 test, 200 epochs"),
    "c10valid_val_12": MetricInfo("%", "accuracy", "cifar10", description="cifar10-valid validation, 12 epochs"),
    "c10_test_12": MetricInfo("%", "accuracy", "cifar10", description="cifar10 test, 12 epochs"),
    "c100_val_12": MetricInfo("%", "accuracy", "cifar100", description="cifar100 validation, 12 epochs"),
    "c100_test_12": MetricInfo("%", "accuracy", "cifar100", description="cifar100 test, 12 epochs"),
    "in16_val_12": MetricInfo("%", "accuracy", "ImageNet16-120", description="ImageNet16-120 validation, 12 epochs"),
    "in16_test_12": MetricInfo("%", "accuracy", "ImageNet16-120", description="ImageNet16-120 test, 12 epochs"),
    "c10valid_train_seconds_12": MetricInfo("s", "cost", "cifar10", description="training time of the 12-epoch run"),
    "params_m_cifar10": MetricInfo("M", "params", "cifar10", description="parameters of the cifar10 network"),
}


def read_nb201_accuracy(path: str | Path) -> ArchTable:
    frame = read_parquet_file(path, required=(ARCH_INDEX, ARCH_STR, *NB201_ACCURACY_METRICS))
    frame = numeric(frame, list(NB201_ACCURACY_METRICS), str(path))
    frame[ARCH_INDEX] = frame[ARCH_INDEX].astype("Int64")
    return ArchTable("nb201", frame, dict(NB201_ACCURACY_METRICS), source=f"{path} (NAS-Bench-201)")


# -- HW-NAS-Bench cifar10 latencies (hw-nas-bench/nb201_cifar10_latency.parquet) ----------------

_HWNB_DEVICES = {
    "raspi4": ("Raspberry Pi 4 (measured)", "PyTorch"),
    "pixel3": ("Google Pixel 3 (measured)", "TFLite"),
    "eyeriss": ("Eyeriss accelerator (simulated)", "simulator"),
    "fpga": ("ZC706 FPGA (estimated)", "HLS estimator"),
    "edgegpu": ("Jetson TX2 (measured)", "TensorRT"),
    "edgetpu": ("Edge TPU dev board (measured)", "TFLite EdgeTPU"),
}


def read_hwnasbench_latency(path: str | Path) -> ArchTable:
    columns = [f"{d}_latency" for d in ("raspi4", "pixel3", "eyeriss", "fpga")]
    frame = read_parquet_file(path, required=(ARCH_INDEX, ARCH_STR, *columns))
    frame = numeric(frame, columns, str(path))
    frame[ARCH_INDEX] = frame[ARCH_INDEX].astype("Int64")
    metrics = {
        c: MetricInfo(
            "ms", "latency", "cifar10", c.removesuffix("_latency"), _HWNB_DEVICES[c.removesuffix("_latency")][1]
        )
        for c in columns
    }
    return ArchTable("hw-nas-bench", frame, metrics, source=f"{path} (HW-NAS-Bench v1.0, cifar10 networks)")


# -- HW-NAS-Bench-360 (hw-nas-bench-360/dataset.parquet, long form) -----------------------------

_HWNB360_REQUIRED = (
    "arch_idx",
    "rep_arch_idx",
    "device",
    "framework",
    "task",
    "lat_ms_median",
    "lat_ms_var",
    "energy_mj",
    "accuracy",
)
HWNB360_TASK_DATASET = {"cifar100": "cifar100", "ninapro": "ninapro", "darcy": "darcy"}


def hwnb360_column(device: str, framework: str, task: str, what: str = "latency") -> str:
    """Column name of one HW-NAS-Bench-360 slice in the wide table, e.g. `pi5_onnx_cifar100_latency`."""
    return f"{device}_{framework}_{task}_{what}"


def read_hwnasbench360(path: str | Path, index_to_arch: dict[int, str] | None = None) -> ArchTable:
    """Pivot the long file to one row per architecture.

    The file carries no arch strings; they come from `index_to_arch` (the NB201 index order of
    any other table), which the catalog supplies.
    """
    long = read_parquet_file(path, required=_HWNB360_REQUIRED)
    long = numeric(long, ["lat_ms_median", "lat_ms_var", "energy_mj", "accuracy"], str(path))
    if "status" in long.columns:
        long = long[long["status"].astype(str) == "ok"]
    pieces = []
    metrics: dict[str, MetricInfo] = {}
    for (device, framework, task), group in long.groupby(["device", "framework", "task"], sort=True):
        g = group.set_index("arch_idx")
        for what, source_col, unit, kind in (
            ("latency", "lat_ms_median", "ms", "latency"),
            ("latency_var", "lat_ms_var", "ms^2", "latency_variance"),
            ("energy", "energy_mj", "mJ", "energy"),
        ):
            name = hwnb360_column(device, framework, task, what)
            pieces.append(g[source_col].rename(name))
            metrics[name] = MetricInfo(unit, kind, HWNB360_TASK_DATASET.get(task, task), device, framework)
    for task, group in long.groupby("task", sort=True):
        name = f"{task}_accuracy"
        acc = group.groupby("arch_idx")["accuracy"].first()
        unit = "%" if task == "cifar100" else "score"
        pieces.append(acc.rename(name))
        metrics[name] = MetricInfo(unit, "accuracy", HWNB360_TASK_DATASET.get(task, task))
    pieces.append(long.groupby("arch_idx")["rep_arch_idx"].first().rename("rep_arch_index"))
    wide = pd.concat(pieces, axis=1).sort_index()
    wide.index.name = ARCH_INDEX
    wide = wide.reset_index()
    wide[ARCH_INDEX] = wide[ARCH_INDEX].astype("Int64")
    wide["rep_arch_index"] = wide["rep_arch_index"].astype("Int64")
    if index_to_arch is None:
        raise DataError(
            f"{path} holds NB201 indices only; an index -> arch string map (nb201 accuracy table) is needed"
        )
    wide.insert(0, ARCH_STR, wide[ARCH_INDEX].map(lambda i: index_to_arch.get(int(i))))
    unknown = wide[ARCH_STR].isna()
    if unknown.any():
        raise DataError(f"{path}: arch index {int(wide.loc[unknown, ARCH_INDEX].iloc[0])} is not an NB201 index")
    return ArchTable("hw-nas-bench-360", wide, metrics, source=f"{path} (HW-NAS-Bench-360)")


# -- Upstream HW-NAS-Bench pickle (HW-NAS-Bench-v1_0.pickle) -----------------------------------

HWNB_PICKLE_DATASETS = ("cifar10", "cifar100", "ImageNet16-120")
HWNB_PICKLE_METRICS: dict[str, tuple[str, str]] = {
    "edgegpu_latency": ("ms", "latency"),
    "edgegpu_energy": ("mJ", "energy"),
    "raspi4_latency": ("ms", "latency"),
    "edgetpu_latency": ("ms", "latency"),
    "pixel3_latency": ("ms", "latency"),
    "eyeriss_latency": ("ms", "latency"),
    "eyeriss_energy": ("mJ", "energy"),
    "eyeriss_arithmetic_intensity": ("FLOP/byte", "arithmetic_intensity"),
    "fpga_latency": ("ms", "latency"),
    "fpga_energy": ("mJ", "energy"),
}


class _PlainUnpickler(pickle.Unpickler):
    """Only plain containers and numbers: a benchmark file must not run code when read."""

    _ALLOWED: frozenset[tuple[str, str]] = frozenset(
        {
            ("builtins", "dict"),
            ("builtins", "list"),
            ("builtins", "tuple"),
            ("builtins", "set"),
            ("collections", "OrderedDict"),
            ("numpy", "dtype"),
            ("numpy.core.multiarray", "scalar"),
            ("numpy._core.multiarray", "scalar"),
        }
    )

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


@dataclass
class HWNASBenchPickle:
    """The upstream file: one table per NB201 dataset, plus the FBNet per-block lookup tables."""

    path: Path
    nb201: dict[str, ArchTable]
    fbnet: dict[str, dict[str, float]] = field(default_factory=dict)


def read_hwnasbench_pickle(path: str | Path) -> HWNASBenchPickle:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path} not found; `hwnas data fetch hw-nas-bench-pickle` downloads it")
    try:
        with path.open("rb") as handle:
            raw = _PlainUnpickler(io.BufferedReader(handle)).load()
    except (
        pickle.UnpicklingError,
        EOFError,
        ValueError,
        TypeError,
        AttributeError,
        IndexError,
        KeyError,
        MemoryError,
        OverflowError,
    ) as exc:
        raise DataError(f"{path} is not a readable HW-NAS-Bench pickle (truncated or corrupt?): {exc}") from None
    if not isinstance(raw, dict) or "nasbench201" not in raw:
        raise DataError(f"{path} lacks the 'nasbench201' section of HW-NAS-Bench-v1_0.pickle")
    nb = raw["nasbench201"]
    if not isinstance(nb, dict):
        raise DataError(f"{path}: 'nasbench201' is not a dict of datasets")
    tables = {}
    for dataset in HWNB_PICKLE_DATASETS:
        if dataset not in nb:
            raise DataError(f"{path}: 'nasbench201' lacks dataset {dataset!r}")
        tables[dataset] = _pickle_dataset_table(path, dataset, nb[dataset])
    fbnet = raw.get("fbnet", {})
    if not isinstance(fbnet, dict) or not all(isinstance(v, dict) for v in fbnet.values()):
        raise DataError(f"{path}: 'fbnet' is not a dict of per-metric lookup tables")
    return HWNASBenchPickle(path, tables, {str(k): dict(v) for k, v in fbnet.items()})


def _pickle_dataset_table(path: Path, dataset: str, section: Any) -> ArchTable:
    if not isinstance(section, dict) or "config" not in section:
        raise DataError(f"{path}: nasbench201/{dataset} lacks 'config' (arch strings)")
    config = section["config"]
    indices = _indices(config)
    rows: dict[str, list] = {ARCH_INDEX: [], ARCH_STR: []}
    for i in indices:
        entry = config[i]
        if not isinstance(entry, dict) or "arch_str" not in entry:
            raise DataError(f"{path}: nasbench201/{dataset}/config[{i}] lacks 'arch_str'")
        try:
            arch_str = format_arch(parse_arch(entry["arch_str"]))
        except ArchParseError as exc:
            raise DataError(f"{path}: nasbench201/{dataset}/config[{i}]: {exc}") from None
        rows[ARCH_INDEX].append(int(i))
        rows[ARCH_STR].append(arch_str)
    metrics = {}
    for metric, (unit, kind) in HWNB_PICKLE_METRICS.items():
        if metric not in section:
            raise DataError(f"{path}: nasbench201/{dataset} lacks metric {metric!r}")
        values = section[metric]
        try:
            rows[metric] = [float(values[i]) for i in indices]
        except (KeyError, IndexError, TypeError, ValueError):
            raise DataError(f"{path}: nasbench201/{dataset}/{metric} does not hold a number for every arch") from None
        device = metric.split("_")[0]
        metrics[metric] = MetricInfo(unit, kind, dataset, device, _HWNB_DEVICES[device][1])
    frame = pd.DataFrame(rows)
    frame[ARCH_INDEX] = frame[ARCH_INDEX].astype("Int64")
    return ArchTable(f"hw-nas-bench-pickle/{dataset}", frame, metrics, source=f"{path} (HW-NAS-Bench v1.0 pickle)")


def _indices(container: Any) -> list:
    if isinstance(container, dict):
        return sorted(container)
    if isinstance(container, list):
        return list(range(len(container)))
    raise DataError("HW-NAS-Bench pickle: per-arch entries must be a dict or a list")


# -- HELP-style per-device lists and user tables ------------------------------------------------

ARCH_COLUMN_NAMES = ("arch_str", "arch", "architecture", "arch_index", "index", "arch_idx")


def read_user_table(
    path: str | Path,
    *,
    name: str | None = None,
    arch_column: str | None = None,
    metrics: dict[str, MetricInfo] | None = None,
    index_to_arch: dict[int, str] | None = None,
) -> ArchTable:
    """A CSV or parquet table with an arch column (NB201 string or benchmark index) and metrics.

    Metric columns default to every numeric column but the arch column; units default to what
    the column name says (`*latency*`/`*_ms` -> ms, `*acc*` -> %), else 'unknown'.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path} not found")
    if path.suffix.lower() == ".parquet":
        frame = read_parquet_file(path)
    elif path.suffix.lower() in (".csv", ".txt", ".tsv"):
        try:
            frame = pd.read_csv(path, sep="\t" if path.suffix.lower() == ".tsv" else ",")
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as exc:
            raise DataError(f"{path} is not a readable CSV: {str(exc).splitlines()[0] if str(exc) else exc}") from None
    else:
        raise DataError(f"{path}: unsupported table format {path.suffix!r}; use .csv or .parquet")
    frame.columns = [str(c) for c in frame.columns]
    arch_column = arch_column or next((c for c in ARCH_COLUMN_NAMES if c in frame.columns), None)
    if arch_column is None or arch_column not in frame.columns:
        raise DataError(
            f"{path} has no arch column; expected one of {', '.join(ARCH_COLUMN_NAMES)} "
            f"(columns: {', '.join(frame.columns[:12])})"
        )
    frame = _identify(frame, arch_column, path, index_to_arch)
    if metrics is None:
        candidates = [c for c in frame.columns if c not in (ARCH_STR, ARCH_INDEX, arch_column)]
        metrics = {c: _guess_metric(c) for c in candidates if pd.api.types.is_numeric_dtype(frame[c])}
    missing = [c for c in metrics if c not in frame.columns]
    if missing:
        raise DataError(f"{path} lacks metric column(s) {', '.join(missing)}")
    if not metrics:
        raise DataError(f"{path} has no numeric metric column besides {arch_column!r}")
    frame = numeric(frame, list(metrics), str(path))
    keep = [ARCH_STR, ARCH_INDEX, *metrics]
    return ArchTable(name or path.stem, frame[keep].copy(), dict(metrics), source=str(path))


def read_help_latency_list(
    path: str | Path, device: str, index_to_arch: dict[int, str], dataset: str = "cifar10"
) -> ArchTable:
    """HELP-style file: one latency (ms) per line, in NB201 index order."""
    path = Path(path)
    try:
        values = [float(line) for line in path.read_text().split() if line.strip()]
    except (OSError, ValueError) as exc:
        raise DataError(f"{path} is not a list of latencies, one number per line: {exc}") from None
    if len(values) != len(index_to_arch):
        raise DataError(f"{path} has {len(values)} values; expected one per NB201 arch ({len(index_to_arch)})")
    frame = pd.DataFrame(
        {
            ARCH_INDEX: pd.array(range(len(values)), dtype="Int64"),
            ARCH_STR: [index_to_arch[i] for i in range(len(values))],
            "latency_ms": values,
        }
    )
    return ArchTable(
        f"{device}-help", frame, {"latency_ms": MetricInfo("ms", "latency", dataset, device)}, source=str(path)
    )


def _identify(frame: pd.DataFrame, column: str, path: Path, index_to_arch: dict[int, str] | None) -> pd.DataFrame:
    """Fill `arch_str` (validated, normalised) and `arch_index` from the user's arch column."""
    frame = frame.copy()
    values = frame[column]
    if pd.api.types.is_integer_dtype(values) or (
        pd.api.types.is_float_dtype(values) and (values.dropna() % 1 == 0).all()
    ):
        if index_to_arch is None:
            raise DataError(
                f"{path}: column {column!r} holds benchmark indices; the nb201 accuracy table is needed to map them"
            )
        indices = values.astype("Int64")
        strings = []
        for row, i in enumerate(indices):
            if pd.isna(i) or int(i) not in index_to_arch:
                raise DataError(f"{path}: row {row}: {i!r} is not an NB201 index (0..{len(index_to_arch) - 1})")
            strings.append(index_to_arch[int(i)])
        frame[ARCH_INDEX] = indices
        frame[ARCH_STR] = strings
        return frame
    strings = []
    for row, text in enumerate(values):
        try:
            strings.append(format_arch(parse_arch(text)))
        except ArchParseError as exc:
            raise DataError(f"{path}: row {row}: {exc}") from None
    frame[ARCH_STR] = strings
    if index_to_arch is not None:
        arch_to_index = {s: i for i, s in index_to_arch.items()}
        frame[ARCH_INDEX] = pd.array([arch_to_index.get(s) for s in strings], dtype="Int64")
    return frame


def _guess_metric(column: str) -> MetricInfo:
    lower = column.lower()
    if "latency" in lower or lower.endswith("_ms"):
        return MetricInfo("ms", "latency")
    if "energy" in lower or lower.endswith("_mj"):
        return MetricInfo("mJ", "energy")
    if "acc" in lower:
        return MetricInfo("%", "accuracy")
    return MetricInfo("unknown", "score")
