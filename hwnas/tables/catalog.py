"""Finds the tables a machine has: benchmark files in the data folders and measured tables."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hwnas.errors import DataError
from hwnas.paths import data_roots, latency_tables_dirs
from hwnas.tables.readers import (
    HWNB_PICKLE_DATASETS,
    HWNASBenchPickle,
    read_hwnasbench360,
    read_hwnasbench_latency,
    read_hwnasbench_pickle,
    read_nb201_accuracy,
)
from hwnas.tables.table import ARCH_INDEX, ARCH_STR, ArchTable, load_table

# Benchmark files by table id: path relative to a data folder.
BENCHMARK_FILES: dict[str, str] = {
    "nb201": "nb201/accuracy.parquet",
    "hw-nas-bench": "hw-nas-bench/nb201_cifar10_latency.parquet",
    "hw-nas-bench-360": "hw-nas-bench-360/dataset.parquet",
}
PICKLE_FILE = "hw-nas-bench/HW-NAS-Bench-v1_0.pickle"
PICKLE_TABLES = tuple(f"hw-nas-bench-pickle/{d}" for d in HWNB_PICKLE_DATASETS)


@dataclass(frozen=True)
class TableEntry:
    table_id: str
    path: Path | None  # None when not found
    expected: str  # where it was looked for, for messages


class Catalog:
    """Lazily loaded tables by id; one instance per command so files are read at most once."""

    def __init__(self, data_dir: str | Path | None = None, measured_dirs: list[Path] | None = None) -> None:
        self.roots = data_roots(data_dir)
        self.measured_dirs = measured_dirs if measured_dirs is not None else latency_tables_dirs()
        self._tables: dict[str, ArchTable] = {}
        self._pickle: HWNASBenchPickle | None = None

    # -- discovery ------------------------------------------------------------------------

    def _find(self, relative: str) -> Path | None:
        for root in self.roots:
            candidate = root / relative
            if candidate.is_file():
                return candidate
        return None

    def _measured(self) -> dict[str, Path]:
        found: dict[str, Path] = {}
        for folder in self.measured_dirs:
            if folder.is_dir():
                for path in sorted(folder.glob("*.parquet")):
                    found.setdefault(path.stem, path)
        return found

    def entries(self) -> list[TableEntry]:
        where = " or ".join(str(r) for r in self.roots)
        out = [TableEntry(t, self._find(rel), f"{rel} under {where}") for t, rel in BENCHMARK_FILES.items()]
        pickle_path = self._find(PICKLE_FILE)
        out += [TableEntry(t, pickle_path, f"{PICKLE_FILE} under {where}") for t in PICKLE_TABLES]
        out += [TableEntry(name, path, str(path)) for name, path in self._measured().items()]
        return out

    def has(self, table_id: str) -> bool:
        return any(e.table_id == table_id and e.path is not None for e in self.entries())

    # -- loading --------------------------------------------------------------------------

    def get(self, table_id: str) -> ArchTable:
        if table_id in self._tables:
            return self._tables[table_id]
        entry = next((e for e in self.entries() if e.table_id == table_id), None)
        if entry is None:
            known = ", ".join(e.table_id for e in self.entries())
            raise DataError(f"unknown table {table_id!r}; known: {known}")
        if entry.path is None:
            raise DataError(
                f"table {table_id} not found: expected {entry.expected}; "
                "point --data-dir or HWNAS_DATA_DIR at the folder that holds it"
            )
        table = self._load(table_id, entry.path)
        self._tables[table_id] = table
        return table

    def _load(self, table_id: str, path: Path) -> ArchTable:
        if table_id == "nb201":
            return read_nb201_accuracy(path)
        if table_id == "hw-nas-bench":
            return read_hwnasbench_latency(path)
        if table_id == "hw-nas-bench-360":
            return read_hwnasbench360(path, self.index_to_arch())
        if table_id in PICKLE_TABLES:
            return self.pickle().nb201[table_id.split("/", 1)[1]]
        return load_table(path)

    def pickle(self) -> HWNASBenchPickle:
        """The upstream HW-NAS-Bench file, FBNet lookup tables included."""
        if self._pickle is None:
            path = self._find(PICKLE_FILE)
            if path is None:
                raise DataError(
                    f"{PICKLE_FILE} not found under {', '.join(map(str, self.roots))}; "
                    "`hwnas data fetch hw-nas-bench-pickle` downloads it"
                )
            self._pickle = read_hwnasbench_pickle(path)
        return self._pickle

    def index_to_arch(self) -> dict[int, str]:
        """NB201 index -> arch string, from whichever indexed table is present."""
        for table_id in ("nb201", "hw-nas-bench", *PICKLE_TABLES):
            if self.has(table_id):
                frame = self.get(table_id).frame
                return {int(i): s for i, s in zip(frame[ARCH_INDEX], frame[ARCH_STR], strict=True)}
        raise DataError(
            "no table with NB201 indices found (nb201/accuracy.parquet or hw-nas-bench); "
            "point --data-dir or HWNAS_DATA_DIR at the benchmark data"
        )

    def present(self) -> list[ArchTable]:
        return [self.get(e.table_id) for e in self.entries() if e.path is not None]
