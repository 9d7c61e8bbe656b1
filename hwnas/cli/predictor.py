"""`hwnas predictor`: fit a latency predictor on part of a device table, evaluate it on the rest."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from hwnas.cli.common import console, data_dir_option, fmt, json_option, print_json
from hwnas.cli.profile import parse_options
from hwnas.devices.registry import DeviceRegistry
from hwnas.predictor.models import MODELS
from hwnas.predictor.predictor import (
    default_predictor_path,
    evaluate_predictor,
    fit_predictor,
    latency_data,
    load_predictor,
)
from hwnas.tables.catalog import Catalog


@click.group()
def predictor() -> None:
    """Latency predictors: fit on a few hundred measured archs, predict the rest of the space."""


def _line(title: str, scores: dict[str, Any]) -> str:
    return (
        f"{title}: {scores['within_10']:.1%} within +-10% of measured ({scores['n']} held-out networks), "
        f"RMSE {fmt(scores['rmse_ms'], 4)} ms, Spearman {fmt(scores['spearman'], 4)}"
    )


@predictor.command("fit")
@click.option("--device", required=True, help="A device with a latency table (see `hwnas devices list`).")
@click.option("--dataset", default="cifar10", show_default=True)
@click.option("--model", type=click.Choice(MODELS), default="auto", show_default=True)
@click.option("--train-size", type=int, default=500, show_default=True, help="Measured networks to fit on.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the training sample and the model.")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE", help="Model hyperparameter.")
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="Where to save (.npz + .json).")
@data_dir_option
@json_option
def fit(
    device: str,
    dataset: str,
    model: str,
    train_size: int,
    seed: int,
    params: tuple[str, ...],
    out: str | None,
    data_dir: str | None,
    as_json: bool,
) -> None:
    """Fit on --train-size networks of the device's table, score on all the others, save."""
    data = latency_data(DeviceRegistry().get(device), dataset, Catalog(data_dir))
    fitted = fit_predictor(data, model, train_size, seed, parse_options(params))
    path = fitted.save(Path(out) if out else default_predictor_path(data.device, data.dataset))
    summary = {"predictor": str(path), **fitted.describe()}
    if as_json:
        print_json(summary)
        return
    config = fitted.model.config()
    chosen = f" (chose {config['chosen']['model']})" if config.get("chosen") else ""
    console.print(_line(f"{device} {data.dataset}, {model}{chosen}", fitted.metrics["held_out"]), highlight=False)
    console.print(f"saved {path}", highlight=False)


@predictor.command("eval")
@click.option("--device", required=True, help="Device whose table the predictor is judged on.")
@click.option("--dataset", default="cifar10", show_default=True)
@click.option("--predictor", "predictor_path", type=click.Path(dir_okay=False), default=None,
              help="Saved predictor (default: the one `fit` saved for this device and dataset).")  # fmt: skip
@data_dir_option
@json_option
def eval_command(device: str, dataset: str, predictor_path: str | None, data_dir: str | None, as_json: bool) -> None:
    """Score a saved predictor on every network of the device's table it was not fitted on."""
    data = latency_data(DeviceRegistry().get(device), dataset, Catalog(data_dir))
    path = Path(predictor_path) if predictor_path else default_predictor_path(data.device, data.dataset)
    fitted = load_predictor(path)
    result = {"predictor": str(path), "fitted_on": fitted.table, **evaluate_predictor(fitted, data)}
    if as_json:
        print_json(result)
        return
    console.print(_line(f"{path.name} on {data.table} {data.metric}", result), highlight=False)
