"""`hwnas data`: what tables are here, and downloading upstream files."""

from __future__ import annotations

import os
from pathlib import Path

import click
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn
from rich.table import Table

from hwnas.cli.common import console, data_dir_option, err_console, json_option, print_json
from hwnas.errors import DataError
from hwnas.paths import DATA_DIR_ENV, cache_dir
from hwnas.space.nb201 import NB201Space
from hwnas.tables.catalog import Catalog
from hwnas.tables.fetch import fetch, get_upstream
from hwnas.tables.readers import read_hwnasbench_pickle


@click.group()
def data() -> None:
    """Benchmark and measured tables."""


@data.command("list")
@data_dir_option
@json_option
def list_tables(data_dir: str | None, as_json: bool) -> None:
    """Tables found, where, rows, metrics and coverage of the NB201 space."""
    catalog = Catalog(data_dir)
    space_size = NB201Space().size()
    rows = []
    for entry in catalog.entries():
        row = {
            "table": entry.table_id,
            "path": str(entry.path) if entry.path else None,
            "found": entry.path is not None,
        }
        if entry.path is None:
            row["expected"] = entry.expected
        else:
            try:
                table = catalog.get(entry.table_id)
            except DataError as exc:  # one broken file must not hide every other table
                row.update(unreadable=str(exc))
                rows.append(row)
                continue
            row.update(
                rows=len(table),
                coverage=round(len(table) / space_size, 4),
                metrics={
                    m: {"unit": i.unit, "kind": i.kind, "dataset": i.dataset, "device": i.device}
                    for m, i in table.metrics.items()
                },
                source=table.source,
            )
        rows.append(row)
    if as_json:
        print_json({"data_roots": [str(r) for r in catalog.roots], "tables": rows})
        return
    console.print(f"data folders: {', '.join(str(r) for r in catalog.roots)}")
    out = Table()
    for col in ("table", "rows", "coverage", "metrics", "path"):
        out.add_column(col, overflow="fold")
    for row in rows:
        if row.get("unreadable"):
            out.add_row(row["table"], "-", "-", "[red]unreadable, skipped[/red]", escape(row["unreadable"]))
            err_console.print(f"[yellow]warning:[/yellow] skipped {escape(row['unreadable'])}")
        elif row["found"]:
            metrics = ", ".join(row["metrics"])
            out.add_row(row["table"], str(row["rows"]), f"{row['coverage']:.1%}", metrics, row["path"])
        else:
            out.add_row(row["table"], "-", "-", "[dim]not found[/dim]", f"[dim]expected {row['expected']}[/dim]")
    console.print(out)


@data.command("fetch")
@click.argument("name")
@click.option("--url", default=None, help="Download from this address instead of the upstream one.")
@click.option("--sha256", default=None, help="Expected SHA-256 of the file; the download is rejected if it differs.")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Where to put it (default: $HWNAS_DATA_DIR, else the user cache).",
)
@json_option
def fetch_cmd(name: str, url: str | None, sha256: str | None, data_dir: str | None, as_json: bool) -> None:
    """Download upstream file NAME (e.g. hw-nas-bench-pickle), resuming a partial download."""
    upstream = get_upstream(name)
    target_root = Path(data_dir) if data_dir else _writable_data_dir()
    dest = target_root / upstream.relative_path
    expected = sha256 or upstream.sha256
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=console,
        disable=as_json,
    ) as bar:
        task = bar.add_task(f"fetch {name}", total=None)
        result = fetch(
            url or upstream.url,
            dest,
            expected,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
            # a wrong or truncated file fails here, naming what is missing, and never lands
            check=read_hwnasbench_pickle if name == "hw-nas-bench-pickle" else None,
        )
    info = {
        "name": name,
        "path": str(result.path),
        "bytes": result.size,
        "sha256": result.sha256,
        "verified_checksum": bool(expected),
        "resumed_from": result.resumed_from,
    }
    if as_json:
        print_json(info)
        return
    check = "checksum verified" if expected else "no published checksum; structure verified"
    console.print(f"{name}: {result.size} bytes -> {result.path} ({check}; sha256 {result.sha256})")


def _writable_data_dir() -> Path:
    """What `--help` promises: $HWNAS_DATA_DIR when set, else the user cache (never ../shared)."""
    explicit = os.environ.get(DATA_DIR_ENV)
    return Path(explicit).expanduser() if explicit else cache_dir() / "data"
