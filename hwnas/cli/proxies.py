"""`hwnas proxies`: compute zero-cost proxies into a cached table, and evaluate them."""

from __future__ import annotations

import json
from pathlib import Path

import click
import torch
from rich.table import Table

from hwnas.cli.common import console, data_dir_option, fmt, json_option, print_json
from hwnas.cli.search import progress_bar
from hwnas.errors import BadInputError, DataError
from hwnas.nets import get_dataset
from hwnas.search.problem import table_metric_spec
from hwnas.tables.catalog import Catalog
from hwnas.tables.table import ARCH_STR, load_table
from hwnas.zc.dps import DPSSettings, discrete_proxy_search
from hwnas.zc.eproxy import EproxyConfig
from hwnas.zc.evaluate import rank_agreement
from hwnas.zc.proxies import CHEAP_PROXIES, PROXIES, ScoreSettings, check_proxies
from hwnas.zc.table import COMPUTED_ON, all_archs, compute_scores, read_arch_file, sample_archs, seconds_column


@click.group()
def proxies() -> None:
    """Zero-cost accuracy estimates: compute them for many architectures, check them against a table."""


def _split(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def load_eproxy_config(path: str | None) -> EproxyConfig:
    """The default Eproxy, or a config written by DPS (`hwnas.zc.dps`, JSON with a `config` key)."""
    if path is None:
        return EproxyConfig()
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInputError(f"cannot read Eproxy config {path}: {exc}") from None
    if not isinstance(data, dict):
        raise BadInputError(f"{path} must hold a JSON object (an Eproxy config, or DPS output with 'config')")
    return EproxyConfig.from_dict(data.get("config", data))


@proxies.command("compute")
@click.option("--dataset", default="cifar10", show_default=True, help="Networks built for this dataset.")
@click.option("--proxies", "names", default=",".join(CHEAP_PROXIES), show_default=True, help="Comma-separated.")
@click.option("--archs", "arch_spec", default="all", show_default=True, help="all, sample:N, or a file of strings.")
@click.option("--sample-seed", type=int, default=0, show_default=True, help="Seed of sample:N.")
@click.option("--out", "out_path", type=click.Path(dir_okay=False), required=True, help="Table (.parquet).")
@click.option("--per-string", is_flag=True, help="Score every string's own network, not one per isomorphism class.")
@click.option("--seed", type=int, default=0, show_default=True, help="Weight initialization.")
@click.option("--batch-size", type=int, default=64, show_default=True, help="Images for data-dependent proxies.")
@click.option("--image-seed", type=int, default=0, show_default=True)
@click.option("--eproxy-config", type=click.Path(dir_okay=False), default=None, help="JSON from `hwnas proxies dps`.")
@click.option(
    "--threads", type=int, default=1, show_default=True, help="Torch threads; small networks gain little from more."
)
@data_dir_option
@json_option
def compute(
    dataset: str,
    names: str,
    arch_spec: str,
    sample_seed: int,
    out_path: str,
    per_string: bool,
    seed: int,
    batch_size: int,
    image_seed: int,
    eproxy_config: str | None,
    threads: int,
    data_dir: str | None,
    as_json: bool,
) -> None:
    """Score architectures into OUT; rerun the same command to resume an interrupted computation."""
    chosen = check_proxies(_split(names))
    spec = get_dataset(dataset)
    archs = _select(arch_spec, sample_seed)
    if batch_size < 2:
        raise BadInputError("--batch-size must be >= 2")
    settings = ScoreSettings(seed, batch_size, image_seed, load_eproxy_config(eproxy_config))
    torch.set_num_threads(max(1, threads))
    catalog = Catalog(data_dir)
    index = _arch_index(catalog)
    progress = progress_bar(quiet=as_json)
    task = progress.add_task("scoring", total=None)
    with progress:
        table = compute_scores(
            archs,
            chosen,
            spec.name,
            out_path,
            settings,
            representatives=not per_string,
            arch_index=index,
            on_progress=lambda p: progress.update(task, completed=p.done, total=p.total),
        )
    summary = _cost_summary(table.frame, chosen, set(archs))
    if as_json:
        print_json({"out": out_path, "dataset": spec.name, "archs": len(archs), "proxies": summary})
        return
    out = Table(title=f"{len(archs):,} architectures, {spec.name} networks -> {out_path}")
    for column in ("proxy", "scored", "networks", "mean s per network"):
        out.add_column(column)
    for name, row in summary.items():
        out.add_row(name, f"{row['scored']:,}", f"{row['networks']:,}", fmt(row["seconds_per_network"], 3))
    console.print(out)


def _select(spec: str, sample_seed: int) -> list[str]:
    if spec == "all":
        return all_archs()
    if spec.startswith("sample:"):
        try:
            n = int(spec.split(":", 1)[1])
        except ValueError:
            raise BadInputError(f"--archs {spec!r}: expected sample:N with a number N") from None
        return sample_archs(n, sample_seed)
    if Path(spec).is_file():
        return read_arch_file(spec)
    raise BadInputError(f"--archs {spec!r}: expected all, sample:N, or an existing file of architecture strings")


def _arch_index(catalog: Catalog) -> dict[str, int] | None:
    try:
        return {s: i for i, s in catalog.index_to_arch().items()}
    except DataError:
        return None


def _cost_summary(frame, chosen: list[str], archs: set[str]) -> dict[str, dict[str, float]]:
    rows = frame[frame[ARCH_STR].isin(archs)]
    out = {}
    for name in chosen:
        scored = rows[rows[name].notna()]
        # One cost per scored network: isomorphic strings share their representative's network.
        networks = (
            scored
            if COMPUTED_ON not in scored or PROXIES[name].group == "cost"
            else (scored.drop_duplicates(COMPUTED_ON))
        )
        seconds = networks[seconds_column(name)]
        out[name] = {
            "scored": len(scored),
            "networks": len(networks),
            "seconds_per_network": float(seconds.mean()) if len(seconds) else None,
        }
    return out


@proxies.command("eval")
@click.argument("table_path", type=click.Path(dir_okay=False))
@click.option("--accuracy", required=True, metavar="TABLE:METRIC", help="e.g. nb201:c10valid_val_200")
@click.option("--proxies", "names", default=None, help="Comma-separated (default: every proxy in the table).")
@data_dir_option
@json_option
def evaluate(table_path: str, accuracy: str, names: str | None, data_dir: str | None, as_json: bool) -> None:
    """Spearman, Kendall tau and top-10% retrieval of each proxy in TABLE_PATH against an accuracy column."""
    table = load_table(table_path)
    present = [m for m in table.metrics if m in PROXIES]
    chosen = check_proxies(_split(names)) if names else present
    missing = [n for n in chosen if n not in table.metrics]
    if missing:
        raise BadInputError(f"{table_path} has no column for {', '.join(missing)}; it has {', '.join(present)}")
    acc_table, metric = table_metric_spec(accuracy, Catalog(data_dir))
    truth = acc_table.series(metric).to_dict()
    results = {name: rank_agreement(table.series(name).to_dict(), truth).to_dict() for name in chosen}
    if as_json:
        print_json({"table": table_path, "accuracy": accuracy, "results": results})
        return
    out = Table(title=f"{table_path} against {accuracy} (zero-cost scores are estimates)")
    for column in ("proxy", "n", "Spearman", "Kendall tau", "top-10% retrieval", "Spearman in top 10%"):
        out.add_column(column)
    for name, r in results.items():
        out.add_row(
            name,
            f"{r['n']:,}",
            fmt(r["spearman"]),
            fmt(r["kendall"]),
            fmt(r["top10_retrieval"]),
            fmt(r["spearman_top10"]),
        )
    console.print(out)


@proxies.command("dps")
@click.option("--dataset", default="cifar10", show_default=True, help="Networks built for this dataset.")
@click.option(
    "--accuracy", required=True, metavar="TABLE:METRIC", help="Known accuracies, e.g. nb201:c10valid_val_200."
)
@click.option("--archs", "arch_spec", default="sample:20", show_default=True, help="sample:N or a file of strings.")
@click.option("--sample-seed", type=int, default=0, show_default=True)
@click.option("--out", "out_path", type=click.Path(dir_okay=False), required=True, help="JSON history and best config.")
@click.option("--population", type=int, default=20, show_default=True)
@click.option("--cycles", type=int, default=60, show_default=True, help="Mutations after the initial population.")
@click.option("--tournament", type=int, default=5, show_default=True)
@click.option("--mutation-rate", type=float, default=0.2, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the evolution.")
@click.option("--threads", type=int, default=1, show_default=True)
@data_dir_option
@json_option
def dps(
    dataset: str,
    accuracy: str,
    arch_spec: str,
    sample_seed: int,
    out_path: str,
    population: int,
    cycles: int,
    tournament: int,
    mutation_rate: float,
    seed: int,
    threads: int,
    data_dir: str | None,
    as_json: bool,
) -> None:
    """Discrete Proxy Search: evolve Eproxy settings to rank a few architectures of known accuracy.

    Rerun with the same options (or more --cycles) to continue. Pass OUT to `compute --eproxy-config`.
    """
    spec = get_dataset(dataset)
    acc_table, metric = table_metric_spec(accuracy, Catalog(data_dir))
    truth = acc_table.series(metric).to_dict()
    archs = _select(arch_spec, sample_seed)
    missing = [a for a in archs if a not in truth]
    if missing:
        raise BadInputError(f"{accuracy} has no value for {len(missing)} of the architectures, e.g. {missing[0]}")
    torch.set_num_threads(max(1, threads))
    settings = DPSSettings(population, cycles, tournament, mutation_rate, seed)
    progress = progress_bar(quiet=as_json)
    task = progress.add_task("DPS", total=population + cycles)

    def show(done: int, total: int, fitness: float, best: float) -> None:
        progress.update(task, completed=done, total=total, description=f"DPS · best Spearman {best:.3f}")

    with progress:
        result = discrete_proxy_search({a: truth[a] for a in archs}, spec.name, out_path, settings, on_step=show)
    if as_json:
        print_json(
            {
                "out": out_path,
                "best_spearman": result.best_fitness,
                "configs": len(result.history),
                "config": result.best.to_dict(),
            }
        )
        return
    console.print(
        f"best Spearman {result.best_fitness:.3f} on {len(archs)} architectures after {len(result.history)} "
        f"configs; config in {out_path}"
    )
