"""A measured latency table that survives crashes: append-only log + periodic atomic parquet.

Every finished measurement is appended to `<table>.log.jsonl` and fsynced before the next one
starts, so a crash loses at most the architecture in flight. The parquet + JSON sidecar are
rewritten atomically every few rows and at the end; then the log, whose rows the parquet now
holds, is removed. Reopening merges parquet and log, so a rerun continues where the last one
stopped and never measures an architecture twice. A lock file keeps two runs off one table.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hwnas.errors import DataError, RunError
from hwnas.tables.table import ARCH_INDEX, ARCH_STR, ArchTable, MetricInfo, load_table, sidecar_path

METRIC = "latency_ms"
# Per-row columns besides arch_str/arch_index, in table order.
ROW_COLUMNS = (
    METRIC,
    "mean_ms",
    "p90_ms",
    "iqr_ms",
    "cv",
    "repeats",
    "number",
    "warmup_runs",
    "first_run_ms",
    "outliers",
    "median_rse",
    "settled",
    "noisy",
    "duration_s",
    "worker",
    "load_1m",
    "measured_at",
)


REPLACES = "replaces"  # log records that overwrite an earlier row of the same architecture


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class TableMeta:
    """What the table is: its name, the device and runtime, how it was measured."""

    name: str
    device: str
    dataset: str
    runtime: str
    description: str
    fingerprint: dict[str, Any]
    extra: dict[str, Any] = field(default_factory=dict)


class ProfileStore:
    """Rows measured so far for one table file; see module docstring."""

    def __init__(
        self,
        path: str | Path,
        meta: TableMeta,
        flush_every: int = 25,
        flush_s: float = 120.0,
        arch_index: dict[str, int] | None = None,
    ) -> None:
        self.path = Path(path)
        if self.path.suffix != ".parquet":
            raise DataError(f"{self.path}: a measured table is a .parquet file (its sidecar is the .json beside it)")
        self.meta = meta
        self.log_path = self.path.with_suffix(".log.jsonl")
        self.flush_every = flush_every
        self.flush_s = flush_s
        self.arch_index = arch_index or {}
        self.rows: dict[str, dict[str, Any]] = {}
        self._lock_handle: Any = None
        self._log: Any = None
        self._unsaved = 0
        self._saved_at = time.monotonic()
        self._previous_extra: dict[str, Any] = {}

    # -- open / close ---------------------------------------------------------------------

    def __enter__(self) -> ProfileStore:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.path.with_suffix(".lock")
        self._lock_handle = open(lock_path, "a+")  # noqa: SIM115 -- held until close()
        try:
            fcntl.flock(self._lock_handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock_handle.close()
            self._lock_handle = None
            raise RunError(f"another hwnas profile is writing {self.path} (lock {lock_path}); wait for it") from None
        if self.path.exists():
            self._load_table()
        if self.log_path.exists():
            self._replay_log()
        new_log = not self.log_path.exists() or self.log_path.stat().st_size == 0
        self._log = open(self.log_path, "a", encoding="utf-8")  # noqa: SIM115 -- append-only log
        if new_log:
            self._append({"fingerprint": self.meta.fingerprint})

    def close(self) -> None:
        if self._log is None:
            return
        if self._unsaved or not self.path.exists():
            self.save()
        self._log.close()
        self._log = None
        if self.path.exists():
            self.log_path.unlink(missing_ok=True)
        if self._lock_handle is not None:
            fcntl.flock(self._lock_handle, fcntl.LOCK_UN)
            self._lock_handle.close()
            self._lock_handle = None
            self.path.with_suffix(".lock").unlink(missing_ok=True)

    def _check_fingerprint(self, found: dict[str, Any] | None, where: Path) -> None:
        if found is not None and _normal(found) != _normal(self.meta.fingerprint):
            diff = sorted(
                k for k in set(found) | set(self.meta.fingerprint) if found.get(k) != self.meta.fingerprint.get(k)
            )
            details = "; ".join(f"{k}: table {found.get(k)!r}, now {self.meta.fingerprint.get(k)!r}" for k in diff)
            raise RunError(
                f"{where} was measured under other settings ({details}); "
                "profile into another --out file or delete the table to start over"
            )

    def _load_table(self) -> None:
        table = load_table(self.path)
        self._check_fingerprint(table.extra.get("fingerprint"), sidecar_path(self.path))
        if table.extra.get("dataset") not in (None, self.meta.dataset):
            raise RunError(f"{self.path} holds {table.extra.get('dataset')} networks, not {self.meta.dataset}")
        self._previous_extra = dict(table.extra)
        for record in table.frame.to_dict("records"):
            row = {k: record.get(k) for k in ROW_COLUMNS}
            self.rows[str(record[ARCH_STR])] = row

    def _replay_log(self) -> None:
        lines = self.log_path.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines, start=1):
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                if number == len(lines):
                    break  # the write in flight when a run was killed
                raise DataError(f"{self.log_path} line {number} is not JSON; the log is damaged") from None
            if "fingerprint" in record:
                self._check_fingerprint(record["fingerprint"], self.log_path)
                continue
            arch = record.pop(ARCH_STR)
            if arch not in self.rows or record.pop(REPLACES, False):
                self.rows[arch] = record
                self._unsaved += 1
        if lines and not lines[-1].endswith("}"):
            # drop the torn line so later appends start on a fresh line
            with open(self.log_path, "w", encoding="utf-8") as handle:
                handle.write("\n".join(lines[:-1]) + ("\n" if len(lines) > 1 else ""))

    # -- rows -----------------------------------------------------------------------------

    @property
    def done(self) -> set[str]:
        return set(self.rows)

    def add(self, arch_str: str, row: dict[str, Any], replace: bool = False) -> None:
        """Record one measurement durably (log + fsync); rewrite the parquet now and then.

        `replace` overwrites the architecture's row (a deliberate re-measurement of a noisy one);
        otherwise an architecture already in the table is an error.
        """
        if (arch_str in self.rows) != replace:
            state = "already measured" if not replace else "not measured yet, nothing to replace"
            raise RunError(f"{arch_str} is {state} in {self.path}")
        clean = {k: _plain(row.get(k)) for k in ROW_COLUMNS}
        self._append({ARCH_STR: arch_str, **clean, **({REPLACES: True} if replace else {})})
        self.rows[arch_str] = clean
        self._unsaved += 1
        if self._unsaved >= self.flush_every or time.monotonic() - self._saved_at >= self.flush_s:
            self.save()

    def _append(self, record: dict[str, Any]) -> None:
        self._log.write(json.dumps(record, allow_nan=True) + "\n")
        self._log.flush()
        os.fsync(self._log.fileno())

    # -- the table ------------------------------------------------------------------------

    def table(self) -> ArchTable:
        frame = pd.DataFrame([{ARCH_STR: arch, **row} for arch, row in self.rows.items()])
        if frame.empty:
            frame = pd.DataFrame(columns=[ARCH_STR, *ROW_COLUMNS])
        frame = frame.sort_values(ARCH_STR, kind="stable").reset_index(drop=True)
        frame.insert(1, ARCH_INDEX, pd.array([self.arch_index.get(a) for a in frame[ARCH_STR]], dtype="Int64"))
        # nullable types: imported tables may lack some statistics
        for column in ("repeats", "number", "warmup_runs", "outliers"):
            frame[column] = frame[column].astype("Int64")
        for column in ("settled", "noisy"):
            frame[column] = frame[column].astype("boolean")
        for column in ("worker", "measured_at"):
            frame[column] = frame[column].astype("string")
        metrics = {
            METRIC: MetricInfo(
                unit="ms",
                kind="latency",
                dataset=self.meta.dataset,
                device=self.meta.device,
                runtime=self.meta.runtime,
                description=self.meta.description,
            )
        }
        return ArchTable(self.meta.name, frame, metrics, f"hwnas profile ({self.meta.device})", 1, self._extra(frame))

    def _extra(self, frame: pd.DataFrame) -> dict[str, Any]:
        extra = {**self._previous_extra, **self.meta.extra}
        extra["fingerprint"] = self.meta.fingerprint
        extra["dataset"] = self.meta.dataset
        extra["device"] = self.meta.device
        if len(frame):
            load = frame["load_1m"].astype(float)
            extra["measured"] = {
                "first": str(frame["measured_at"].min()),
                "last": str(frame["measured_at"].max()),
                "measuring_seconds": round(float(frame["duration_s"].astype(float).sum()), 1),
                "load_1m_mean": round(float(load.mean()), 2),
                "load_1m_max": round(float(load.max()), 2),
                "noisy_rows": int(frame["noisy"].fillna(False).sum()),
                "median_cv": round(float(frame["cv"].astype(float).median()), 4),
                "workers": sorted(set(frame["worker"])),
            }
        return extra

    def save(self) -> Path:
        self.table().save(self.path)
        self._unsaved = 0
        self._saved_at = time.monotonic()
        return self.path


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return value


def _normal(data: dict[str, Any]) -> str:
    return json.dumps(data, sort_keys=True, default=str)
