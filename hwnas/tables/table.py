"""One table type for every per-architecture table: benchmark accuracies, device latencies,
latencies this project measured, zero-cost scores.

Rows are architectures (`arch_str`, plus `arch_index` when a benchmark index is known);
metric columns carry their own unit and what they describe (dataset, device, runtime).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from hwnas.atomic import atomic_write, atomic_write_json
from hwnas.errors import DataError

ARCH_STR = "arch_str"
ARCH_INDEX = "arch_index"
SIDECAR_VERSION = 1


@dataclass(frozen=True)
class MetricInfo:
    """What one metric column holds."""

    unit: str  # "ms", "%", "mJ", "s", "M", "score"
    kind: str  # "latency", "accuracy", "energy", "cost", "params", "score", ...
    dataset: str | None = None  # the network input family the value is for
    device: str | None = None
    runtime: str | None = None
    description: str = ""


@dataclass
class ArchTable:
    """Architecture identity plus metric columns, with metadata.

    `frame` has `arch_str` (unique), `arch_index` (nullable Int64) and the metric columns;
    other columns (e.g. a measured representative's index) may ride along.
    """

    name: str
    frame: pd.DataFrame
    metrics: dict[str, MetricInfo]
    source: str = ""
    batch_size: int | None = 1
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        missing = [c for c in (ARCH_STR, *self.metrics) if c not in self.frame.columns]
        if missing:
            raise DataError(f"table {self.name}: columns {', '.join(missing)} missing from its data")
        if ARCH_INDEX not in self.frame.columns:
            self.frame[ARCH_INDEX] = pd.array([pd.NA] * len(self.frame), dtype="Int64")
        dupes = self.frame[ARCH_STR].duplicated()
        if dupes.any():
            first = self.frame.loc[dupes, ARCH_STR].iloc[0]
            raise DataError(f"table {self.name}: architecture {first} appears more than once")
        self._by_arch: pd.DataFrame | None = None

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def by_arch(self) -> pd.DataFrame:
        """The frame indexed by `arch_str` for O(1) lookups."""
        if self._by_arch is None:
            self._by_arch = self.frame.set_index(ARCH_STR, drop=False)
        return self._by_arch

    def value(self, arch_str: str, column: str) -> float | None:
        """The metric for one architecture, `None` when the table lacks it."""
        if column not in self.metrics:
            raise DataError(f"table {self.name} has no metric {column!r}; it has {', '.join(self.metrics)}")
        try:
            v = self.by_arch.at[arch_str, column]
        except KeyError:
            return None
        return None if pd.isna(v) else float(v)

    def series(self, column: str) -> pd.Series:
        """One metric indexed by `arch_str`, missing values dropped."""
        if column not in self.metrics:
            raise DataError(f"table {self.name} has no metric {column!r}; it has {', '.join(self.metrics)}")
        return self.by_arch[column].dropna().astype(float)

    def coverage(self, column: str, space_size: int) -> float:
        return len(self.series(column)) / space_size

    def with_rows(self, frame: pd.DataFrame) -> ArchTable:
        """A copy of this table (same metadata) holding `frame`."""
        return ArchTable(
            self.name, frame.reset_index(drop=True), dict(self.metrics), self.source, self.batch_size, dict(self.extra)
        )

    def collapse_isomorphic(self, canonical: dict[str, str]) -> ArchTable:
        """Give every member of an isomorphism class its representative's values.

        `canonical` maps each arch string to its representative's string. Off by default: the
        benchmarks trained every string separately, so members differ in their table values.
        """
        reps = self.frame[ARCH_STR].map(canonical)
        if reps.isna().any():
            raise DataError(f"table {self.name}: {int(reps.isna().sum())} architectures have no representative")
        rep_rows = self.by_arch.reindex(reps.to_numpy())
        frame = self.frame.copy()
        for column in self.metrics:
            frame[column] = rep_rows[column].to_numpy()
        return self.with_rows(frame)

    # -- parquet + JSON sidecar -------------------------------------------------------------

    def sidecar(self) -> dict[str, Any]:
        return {
            "format": "hwnas-table",
            "version": SIDECAR_VERSION,
            "name": self.name,
            "source": self.source,
            "batch_size": self.batch_size,
            "rows": len(self.frame),
            "metrics": {k: asdict(v) for k, v in self.metrics.items()},
            "extra": self.extra,
        }

    def save(self, path: str | Path) -> Path:
        """Write `path` (.parquet) and its `.json` sidecar, each atomically."""
        path = Path(path)
        arrow = pa.Table.from_pandas(self.frame.reset_index(drop=True), preserve_index=False)
        atomic_write(path, lambda tmp: pq.write_table(arrow, tmp))
        atomic_write_json(sidecar_path(path), self.sidecar())
        return path


def sidecar_path(path: str | Path) -> Path:
    return Path(path).with_suffix(".json")


def read_parquet_file(path: str | Path, required: tuple[str, ...] = ()) -> pd.DataFrame:
    """Read a parquet file, turning every way it can be broken into one `DataError`."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path} not found")
    try:
        frame = pq.read_table(path).to_pandas()
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise DataError(f"{path} is not a readable parquet file (truncated or corrupt?): {_first_line(exc)}") from None
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise DataError(
            f"{path} lacks column(s) {', '.join(missing)}; it has {', '.join(map(str, frame.columns[:12]))}"
        )
    return frame


def load_table(path: str | Path) -> ArchTable:
    """Read a table written by `ArchTable.save` (parquet + sidecar)."""
    path = Path(path)
    side = sidecar_path(path)
    if not side.is_file():
        raise DataError(f"{side} not found: a measured table needs its JSON sidecar next to {path.name}")
    try:
        meta = json.loads(side.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{side} is not valid JSON: {_first_line(exc)}") from None
    if not isinstance(meta, dict) or meta.get("format") != "hwnas-table" or not isinstance(meta.get("metrics"), dict):
        raise DataError(f"{side} is not an hwnas table sidecar (needs format 'hwnas-table' and 'metrics')")
    try:
        metrics = {str(k): MetricInfo(**v) for k, v in meta["metrics"].items()}
    except TypeError as exc:
        raise DataError(f"{side}: bad metric description: {_first_line(exc)}") from None
    frame = read_parquet_file(path, required=(ARCH_STR, *metrics))
    return ArchTable(
        name=str(meta.get("name") or path.stem),
        frame=frame,
        metrics=metrics,
        source=str(meta.get("source", str(path))),
        batch_size=meta.get("batch_size"),
        extra=meta.get("extra") or {},
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def numeric(frame: pd.DataFrame, columns: list[str], where: str) -> pd.DataFrame:
    """Coerce metric columns to float, naming the first column that is not numeric."""
    for column in columns:
        converted = pd.to_numeric(frame[column], errors="coerce")
        bad = converted.isna() & frame[column].notna()
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise DataError(f"{where}: column {column!r} row {row} holds {frame[column].iloc[row]!r}, not a number")
        frame[column] = converted.astype(float)
    return frame
