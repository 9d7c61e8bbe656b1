"""`hwnas arch`: look an architecture up."""

from __future__ import annotations

import click
from rich.markup import escape
from rich.table import Table

from hwnas.archinfo import arch_report, resolve_arch
from hwnas.cli.common import console, data_dir_option, err_console, fmt, json_option, print_json
from hwnas.devices.registry import DeviceRegistry
from hwnas.tables.catalog import Catalog


@click.group()
def arch() -> None:
    """Inspect architectures."""


@arch.command("show")
@click.argument("arch_text", metavar="ARCH")
@data_dir_option
@json_option
def show(arch_text: str, data_dir: str | None, as_json: bool) -> None:
    """Canonical form, cost and every known table value of ARCH (an NB201 string or benchmark index)."""
    catalog = Catalog(data_dir)
    report = arch_report(resolve_arch(arch_text, catalog), catalog, DeviceRegistry())
    if as_json:
        print_json(report)
        return
    console.print(f"[bold]{report['arch_str']}[/bold]")
    console.print(f"benchmark index: {report['arch_index'] if report['arch_index'] is not None else 'unknown'}")
    same = " (itself)" if report["is_canonical"] else ""
    console.print(f"canonical: {report['canonical']}{same}; class of {report['class_size']} cells")
    cost = Table(title="cost (batch 1)")
    for col in ("dataset", "params (M)", "MFLOPs", "deployed params (M)", "deployed MFLOPs"):
        cost.add_column(col)
    for name, c in report["cost"].items():
        cost.add_row(
            name,
            fmt(c["params_m"], 4),
            fmt(c["flops"] / 1e6, 1),
            fmt(c["deployed_params"] / 1e6, 4),
            fmt(c["deployed_flops"] / 1e6, 1),
        )
    console.print(cost)
    lat = Table(title="latency by device")
    for col in ("device", "dataset", "latency (ms)", "table"):
        lat.add_column(col)
    for device, per in report["devices"].items():
        for dataset, v in per.items():
            note = " (via representative)" if v["via_representative"] else ""
            lat.add_row(device, dataset, fmt(v["latency_ms"], 4), v["table"] + note)
    console.print(lat)
    values = Table(title="table values")
    for col in ("table", "metric", "value", "unit"):
        values.add_column(col)
    for table_id, metrics in report["tables"].items():
        for metric, v in metrics.items():
            values.add_row(table_id, metric, fmt(v["value"], 4), v["unit"])
    console.print(values)
    if report["missing_tables"]:
        console.print(f"[dim]not on this machine: {', '.join(report['missing_tables'])}[/dim]")
    for message in report.get("unreadable_tables", {}).values():
        err_console.print(f"[yellow]warning:[/yellow] skipped {escape(message)}")
