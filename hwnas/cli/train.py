"""`hwnas train`: train an architecture's network on CPU so the exported model classifies."""

from __future__ import annotations

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from hwnas.archinfo import resolve_arch
from hwnas.cli.common import console, data_dir_option, err_console, json_option, print_json
from hwnas.tables.catalog import Catalog
from hwnas.train.trainer import TrainConfig, train


@click.command("train")
@click.argument("arch_text", metavar="ARCH")
@click.option(
    "--data",
    "data_source",
    default="digits",
    show_default=True,
    help="'digits' (scikit-learn's handwritten digits, no download) or an .npz with arrays x (images) and y.",
)
@click.option(
    "--dataset", default="cifar10", show_default=True, help="Network shape: cifar10, cifar100, ImageNet16-120."
)
@click.option("--out", "-o", "out_path", required=True, type=click.Path(dir_okay=False), help="Checkpoint file.")
@click.option("--epochs", type=int, default=5, show_default=True)
@click.option("--batch-size", type=int, default=64, show_default=True)
@click.option("--lr", type=float, default=0.01, show_default=True, help="Peak learning rate (one-cycle Adam).")
@click.option("--val-fraction", type=float, default=0.2, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@data_dir_option
@json_option
def train_command(
    arch_text: str,
    data_source: str,
    dataset: str,
    out_path: str,
    epochs: int,
    batch_size: int,
    lr: float,
    val_fraction: float,
    seed: int,
    data_dir: str | None,
    as_json: bool,
) -> None:
    """Train ARCH on --data for a few epochs; rerun the same command to resume from --out."""
    arch = resolve_arch(arch_text, Catalog(data_dir))
    config = TrainConfig(epochs, batch_size, lr, val_fraction=val_fraction, seed=seed)
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        disable=as_json or not err_console.is_terminal,
    )
    task = progress.add_task("training", total=epochs)

    def show(epoch: int, total: int, metrics: dict[str, float]) -> None:
        progress.update(
            task,
            completed=epoch,
            description=(
                f"epoch {epoch}/{total} · loss {metrics['train_loss']:.3f} · val {metrics['val_accuracy']:.1f}%"
            ),
        )

    with progress:
        checkpoint = train(arch, data_source, out_path, dataset, config, on_epoch=show)
    summary = {
        "checkpoint": out_path,
        "arch_str": checkpoint.arch_str,
        "dataset": checkpoint.dataset,
        "data": checkpoint.preprocess["data"],
        "epochs": checkpoint.epoch,
        "val_accuracy": checkpoint.val_accuracy,
        "history": checkpoint.history,
    }
    if as_json:
        print_json(summary)
        return
    console.print(
        f"trained {checkpoint.arch_str} on {summary['data']} for {checkpoint.epoch} epochs: "
        f"validation accuracy {checkpoint.val_accuracy:.2f}%; checkpoint {out_path}\n"
        f"export it: hwnas export '{checkpoint.arch_str}' --dataset {checkpoint.dataset} --weights {out_path} --out DIR"
    )
