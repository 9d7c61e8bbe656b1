"""Everything known about one architecture: identity, cost, and every table value."""

from __future__ import annotations

from typing import Any

from hwnas.devices.registry import DeviceRegistry
from hwnas.devices.tables import latency_table
from hwnas.errors import ArchParseError, DataError
from hwnas.nets.cost import network_cost
from hwnas.nets.datasets import DATASETS
from hwnas.space.nb201 import NB201Arch, NB201Space, format_arch
from hwnas.tables.catalog import Catalog


def resolve_arch(text: str, catalog: Catalog | None = None) -> NB201Arch:
    """An NB201 string, or a benchmark index (needs a table that maps indices)."""
    text = text.strip()
    if text.isdigit():
        if catalog is None:
            raise ArchParseError(f"{text} looks like a benchmark index; give the architecture string instead")
        index_map = catalog.index_to_arch()
        if int(text) not in index_map:
            raise ArchParseError(f"benchmark index {text} is out of range 0..{len(index_map) - 1}")
        return NB201Space().parse(index_map[int(text)])
    return NB201Space().parse(text)


def arch_report(arch: NB201Arch, catalog: Catalog, registry: DeviceRegistry) -> dict[str, Any]:
    space = NB201Space()
    arch_str = format_arch(arch)
    canonical = space.canonical(arch)
    classes = space.canonical_classes()
    report: dict[str, Any] = {
        "arch_str": arch_str,
        "ops": list(arch.ops),
        "arch_index": None,
        "canonical": format_arch(canonical),
        "is_canonical": canonical == arch,
        "class_size": len(classes[canonical]),
        "cost": {},
        "tables": {},
        "devices": {},
        "missing_tables": [],
    }
    for name in DATASETS:
        full, pruned = network_cost(arch, name), network_cost(arch, name, prune=True)
        report["cost"][name] = {
            "params": full.params,
            "params_m": full.params_m,
            "flops": full.flops,
            "macs": full.macs,
            "deployed_params": pruned.params,
            "deployed_flops": pruned.flops,
        }
    for entry in catalog.entries():
        if entry.path is None:
            report["missing_tables"].append(entry.table_id)
            continue
        try:
            table = catalog.get(entry.table_id)
        except DataError as exc:  # a broken measured table is reported, not fatal for the others
            report.setdefault("unreadable_tables", {})[entry.table_id] = str(exc)
            continue
        if arch_str not in table.by_arch.index:
            continue
        row = table.by_arch.loc[arch_str]
        if report["arch_index"] is None and row["arch_index"] is not None and str(row["arch_index"]) != "<NA>":
            report["arch_index"] = int(row["arch_index"])
        report["tables"][entry.table_id] = {
            metric: {
                "value": _num(row[metric]),
                "unit": info.unit,
                "kind": info.kind,
                "dataset": info.dataset,
                "device": info.device,
            }
            for metric, info in table.metrics.items()
        }
    for device in registry.all():
        per_dataset = {}
        for dataset in device.datasets:
            try:
                found = latency_table(device, dataset, catalog)
            except DataError:
                found = None
            if found is None:
                continue
            table, ref = found
            value = table.value(arch_str, ref.metric)
            if value is None and ref.metric in table.metrics:
                rep_value = table.value(format_arch(canonical), ref.metric)
                if rep_value is not None:
                    per_dataset[dataset] = {"latency_ms": rep_value, "table": ref.table, "via_representative": True}
                continue
            per_dataset[dataset] = {"latency_ms": value, "table": ref.table, "via_representative": False}
        if per_dataset:
            report["devices"][device.name] = per_dataset
    return report


def _num(value: Any) -> float | None:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return None if f != f else f
