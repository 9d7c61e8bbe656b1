"""Which table column gives a device's latency for a dataset, on this machine."""

from __future__ import annotations

from hwnas.devices.registry import Device, LatencyTableRef
from hwnas.errors import DataError
from hwnas.tables.catalog import Catalog
from hwnas.tables.table import ArchTable


def latency_table(device: Device, dataset: str, catalog: Catalog) -> tuple[ArchTable, LatencyTableRef] | None:
    """The first listed table for `dataset` that is present, or `None`."""
    for ref in device.tables_for(dataset):
        if catalog.has(ref.table):
            table = catalog.get(ref.table)
            if ref.metric not in table.metrics:
                raise DataError(f"device {device.name}: table {ref.table} has no column {ref.metric!r}")
            return table, ref
    return None


def require_latency_table(device: Device, dataset: str, catalog: Catalog) -> tuple[ArchTable, LatencyTableRef]:
    found = latency_table(device, dataset, catalog)
    if found is not None:
        return found
    if not device.tables_for(dataset):
        raise DataError(
            f"device {device.name} has no latency table for {dataset}; it has: {', '.join(device.datasets) or 'none'}"
        )
    wanted = ", ".join(ref.table for ref in device.tables_for(dataset))
    hint = f" ({device.requires})" if device.requires else ""
    raise DataError(f"device {device.name}: no latency table for {dataset} on this machine; looked for {wanted}{hint}")
