"""`hwnas devices`: the devices hwnas knows and where their latencies come from."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import click
from rich.table import Table

from hwnas.cli.common import console, data_dir_option, json_option, print_json
from hwnas.devices.registry import Device, DeviceRegistry
from hwnas.devices.tables import latency_table
from hwnas.errors import DataError
from hwnas.tables.catalog import Catalog


@click.group()
def devices() -> None:
    """Device descriptions (devices/*.toml and $HWNAS_DEVICES_DIR)."""


def _status(device: Device, catalog: Catalog) -> dict[str, Any]:
    ready = {}
    for dataset in device.datasets:
        try:
            found = latency_table(device, dataset, catalog)
        except DataError:
            found = None
        ready[dataset] = found[1].table if found else None
    return ready


def _describe(device: Device, catalog: Catalog) -> dict[str, Any]:
    data = asdict(device)
    data["path"] = str(device.path) if device.path else None
    data["tables_present"] = _status(device, catalog)
    return data


@devices.command("list")
@data_dir_option
@json_option
def list_devices(data_dir: str | None, as_json: bool) -> None:
    """Every known device, what it is, and which datasets have latencies here."""
    catalog = Catalog(data_dir)
    registry = DeviceRegistry()
    if as_json:
        print_json([_describe(d, catalog) for d in registry.all()])
        return
    out = Table()
    for col in ("device", "kind", "what", "latency from", "ready for"):
        out.add_column(col, overflow="fold")
    for d in registry.all():
        ready = [ds for ds, t in _status(d, catalog).items() if t]
        source = f"live ({d.backend})" if d.is_live else "tables"
        note = ", ".join(ready) or f"[dim]{d.requires or 'no table here'}[/dim]"
        if d.is_live:
            note = ("live; table: " + ", ".join(ready)) if ready else "live"
        out.add_row(d.name, d.kind, d.title, source, note)
    console.print(out)


@devices.command("show")
@click.argument("name")
@data_dir_option
@json_option
def show_device(name: str, data_dir: str | None, as_json: bool) -> None:
    """One device's description and latency sources."""
    catalog = Catalog(data_dir)
    info = _describe(DeviceRegistry().get(name), catalog)
    if as_json:
        print_json(info)
        return
    for key in (
        "name",
        "title",
        "kind",
        "chip",
        "runtime",
        "source",
        "backend",
        "options",
        "requires",
        "notes",
        "path",
    ):
        if info.get(key):
            console.print(f"[bold]{key}[/bold]: {info[key]}")
    for ref in info["tables"]:
        present = "present" if info["tables_present"].get(ref["dataset"]) == ref["table"] else "not here"
        console.print(f"  {ref['dataset']}: {ref['table']}:{ref['metric']} ({present})")
