"""Latency of a live device for searches: measured tables first, the device itself otherwise.

`LiveLatency` is the `LatencySource` of live devices (see `hwnas.search.problem`). An
architecture is looked up by its own string or its isomorphism representative, first in the
device's measured table (`latency_tables/<table>.parquet`, used only when it was measured with
the same backend, options, runtime version and CPU as this machine now has), then in a per-user
cache table; if neither has it, the representative's network is measured with the device's
backend and appended to the cache, so no network is measured twice.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any

from hwnas.devices.registry import Device
from hwnas.nets import get_dataset
from hwnas.paths import cache_dir as user_cache_dir
from hwnas.paths import latency_tables_dirs
from hwnas.profiling.backends import Backend, Worker
from hwnas.profiling.machine import cpu_model
from hwnas.profiling.models import ArchModel
from hwnas.profiling.profile import device_backend, table_meta
from hwnas.profiling.protocol import MeasureProtocol
from hwnas.profiling.runner import stats_row
from hwnas.profiling.store import METRIC, ProfileStore
from hwnas.space.nb201 import NB201Space
from hwnas.tables.table import load_table

# What must agree between a committed table and this machine before its numbers are used.
MATCHING_KEYS = ("backend", "runtime_version", "target", "cpu_model", "options")


def _digest(data: Any) -> str:
    return hashlib.sha1(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:8]


class LiveLatency:
    """`LatencySource` for a live device; see module docstring."""

    def __init__(
        self,
        device: Device,
        dataset: str,
        cache_dir: str | Path | None = None,
        protocol: MeasureProtocol | None = None,
        tables_dirs: list[Path] | None = None,
    ) -> None:
        self.device = device
        self.dataset = get_dataset(dataset).name
        self.name = f"live:{device.name}"
        self.space = NB201Space()
        self.protocol = protocol or MeasureProtocol()
        self.backend: Backend = device_backend(device)
        fingerprint = self.backend.fingerprint()
        self._expected = {k: fingerprint.get(k) for k in MATCHING_KEYS}
        self.warnings: list[str] = []
        self.table_values: dict[str, float] = {}
        self.table_path: Path | None = None
        self._load_measured_table(tables_dirs if tables_dirs is not None else latency_tables_dirs())
        root = Path(cache_dir) if cache_dir else user_cache_dir() / "latency_tables"
        self.cache_path = root / f"live-{device.name}-{self.dataset}-{_digest(self._expected)}.parquet"
        self.cache_values: dict[str, float] = {}
        if self.cache_path.exists():
            self.cache_values = load_table(self.cache_path).series(METRIC).to_dict()
        self.measured_now = 0
        self.served = {"table": 0, "cache": 0, "measured": 0}
        self._worker: Worker | None = None

    def _load_measured_table(self, dirs: list[Path]) -> None:
        for ref in self.device.tables_for(self.dataset):
            for folder in dirs:
                path = folder / f"{ref.table}.parquet"
                if not path.is_file():
                    continue
                table = load_table(path)
                found = {k: (table.extra.get("fingerprint") or {}).get(k) for k in MATCHING_KEYS}
                if _digest(found) != _digest(self._expected):
                    differ = [k for k in MATCHING_KEYS if found.get(k) != self._expected.get(k)]
                    self.warnings.append(
                        f"{path} was measured elsewhere or with other settings ({', '.join(differ)} differ); "
                        f"{self.device.name} latencies are measured on this machine instead"
                    )
                    continue
                self.table_values = table.series(ref.metric).to_dict()
                self.table_path = path
                return

    # -- LatencySource --------------------------------------------------------------------

    def _strings(self, arch: Hashable) -> tuple[str, str]:
        parsed = self.space.parse(arch) if isinstance(arch, str) else arch
        return self.space.format(parsed), self.space.format(self.space.canonical(parsed))

    def lookup(self, arch: Hashable) -> float | None:
        """The stored latency of `arch` or of its representative, without measuring."""
        key, rep = self._strings(arch)
        for values in (self.table_values, self.cache_values):
            for s in (key, rep):
                if s in values:
                    return values[s]
        return None

    def latency_ms(self, arch: Hashable) -> float:
        key, rep = self._strings(arch)
        for counter, values in (("table", self.table_values), ("cache", self.cache_values)):
            for s in (key, rep):
                if s in values:
                    self.served[counter] += 1
                    return values[s]
        self.served["measured"] += 1
        return self._measure(rep)

    def provenance(self) -> dict[str, Any]:
        """Where this process's latencies came from, and on which machine they were measured."""
        return {
            "source": self.name,
            "table": str(self.table_path) if self.table_path else None,
            "looked_up_in_table": self.served["table"],
            "from_cache": self.served["cache"],
            "cache": str(self.cache_path),
            "measured_here": self.served["measured"],
            "machine": cpu_model(),
        }

    def known_values(self) -> Mapping[str, float]:
        """Every architecture whose latency is stored (members through their representative)."""
        known: dict[str, float] = {}
        for arch in self.space.enumerate():
            value = self.lookup(arch)
            if value is not None:
                known[self.space.format(arch)] = value
        return known

    # -- measuring ------------------------------------------------------------------------

    def _measure(self, rep: str) -> float:
        meta = table_meta(self.device, self.dataset, self.backend, self.protocol, self.cache_path.stem)
        with ProfileStore(self.cache_path, meta, flush_every=1) as store:
            if rep in store.rows:  # another process measured it meanwhile
                self.cache_values[rep] = float(store.rows[rep][METRIC])
                return self.cache_values[rep]
            if self._worker is None:
                self.backend.check()
                self._worker = self.backend.open_workers(1)[0]
            with tempfile.TemporaryDirectory(prefix="hwnas-live-") as tmp:
                model = ArchModel(rep, self.dataset, tmp)
                stats = self._worker.measure(model, self.protocol)
            store.add(rep, stats_row(stats, self._worker.name))
        self.cache_values[rep] = stats.median_ms
        self.measured_now += 1
        return stats.median_ms

    def close(self) -> None:
        if self._worker is not None:
            self._worker.close()
            self._worker = None
