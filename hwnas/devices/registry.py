"""Device descriptions (TOML files in `devices/` or a user's folder) and their registry.

A device says what it is and where its latency comes from: columns of benchmark tables, or a
live backend (ONNX Runtime, TVM, TVM RPC) whose measurements are cached in a measured table.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hwnas.errors import DeviceError
from hwnas.paths import devices_dirs

SOURCES = ("table", "live")


@dataclass(frozen=True)
class LatencyTableRef:
    """One table column holding this device's latency for networks of one dataset."""

    table: str
    metric: str
    dataset: str


@dataclass(frozen=True)
class Device:
    name: str
    title: str
    kind: str  # board, phone, accelerator, fpga, cpu
    chip: str
    runtime: str
    source: str  # "table" or "live"
    tables: tuple[LatencyTableRef, ...]
    backend: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    requires: str = ""  # what must be present before it can be used
    notes: str = ""
    path: Path | None = None

    @property
    def datasets(self) -> list[str]:
        return list(dict.fromkeys(ref.dataset for ref in self.tables))

    def tables_for(self, dataset: str) -> list[LatencyTableRef]:
        return [ref for ref in self.tables if ref.dataset == dataset]

    @property
    def is_live(self) -> bool:
        return self.source == "live"


def parse_device(data: dict[str, Any], path: Path | None = None) -> Device:
    where = str(path) if path else "device description"

    def need(mapping: dict, key: str, section: str = "") -> Any:
        if key not in mapping:
            raise DeviceError(f"{where}: missing {section}{key}")
        return mapping[key]

    def text(mapping: dict, key: str, section: str = "", default: str | None = None) -> str:
        value = mapping.get(key, default) if default is not None else need(mapping, key, section)
        if not isinstance(value, str):
            raise DeviceError(f"{where}: {section}{key} must be a string, got {value!r}")
        return value

    name = text(data, "name")
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
        raise DeviceError(f"{where}: name {name!r} must be a plain name (letters, digits, . _ -)")
    latency = need(data, "latency")
    if not isinstance(latency, dict):
        raise DeviceError(f"{where}: [latency] must be a table")
    source = text(latency, "source", "latency.")
    if source not in SOURCES:
        raise DeviceError(f"{where}: latency.source is {source!r}; expected one of {', '.join(SOURCES)}")
    refs = []
    tables = latency.get("tables", [])
    if not isinstance(tables, list):
        raise DeviceError(f"{where}: latency.tables must be a list of [[latency.tables]] entries")
    for i, ref in enumerate(tables):
        if not isinstance(ref, dict) or not all(k in ref for k in ("table", "metric", "dataset")):
            raise DeviceError(f"{where}: latency.tables[{i}] needs table, metric and dataset")
        section = f"latency.tables[{i}]."
        refs.append(LatencyTableRef(*(text(ref, k, section) for k in ("table", "metric", "dataset"))))
    options = latency.get("options", {})
    if not isinstance(options, dict):
        raise DeviceError(f"{where}: latency.options must be a table of backend options")
    if source == "table" and not refs:
        raise DeviceError(f"{where}: a table device needs at least one [[latency.tables]] entry")
    backend = latency.get("backend")
    if source == "live" and not backend:
        raise DeviceError(f"{where}: a live device needs latency.backend (onnxruntime, tvm, tvm-rpc, torch)")
    if backend is not None and not isinstance(backend, str):
        raise DeviceError(f"{where}: latency.backend must be a string, got {backend!r}")
    return Device(
        name=name,
        title=text(data, "title", default=name),
        kind=text(data, "kind", default="board"),
        chip=text(data, "chip", default=""),
        runtime=text(data, "runtime", default=backend or ""),
        source=source,
        tables=tuple(refs),
        backend=backend or None,
        options=dict(options),
        requires=text(data, "requires", default=""),
        notes=text(data, "notes", default=""),
        path=path,
    )


def load_device_file(path: Path) -> Device:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise DeviceError(f"{path}: cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise DeviceError(f"{path}: invalid TOML: {exc}") from None
    return parse_device(data, path)


class DeviceRegistry:
    """Devices by name, from the shipped folder and the user's; two files may not share a name
    (a user file silently standing in for a shipped device would change every latency)."""

    def __init__(self, dirs: list[Path] | None = None) -> None:
        self.dirs = dirs if dirs is not None else devices_dirs()
        self._devices: dict[str, Device] = {}
        for folder in self.dirs:
            if folder.is_dir():
                for path in sorted(folder.glob("*.toml")):
                    device = load_device_file(path)
                    earlier = self._devices.get(device.name)
                    if earlier is not None and earlier.path != path:
                        raise DeviceError(
                            f"{path} and {earlier.path} both describe device {device.name!r}; give yours another "
                            "name (name = ...) or remove one"
                        )
                    self._devices[device.name] = device

    def names(self) -> list[str]:
        return sorted(self._devices)

    def all(self) -> list[Device]:
        return [self._devices[n] for n in self.names()]

    def get(self, name: str) -> Device:
        if name not in self._devices:
            raise DeviceError(f"unknown device {name!r}; known devices: {', '.join(self.names()) or 'none found'}")
        return self._devices[name]
