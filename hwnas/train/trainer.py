"""Train an NB201 network on CPU for a few epochs so the exported model is a working classifier.

Adam with a cosine learning-rate schedule, cross-entropy, seeded shuffling. The deployable
(pruned) network is trained: it computes the same function as the full one and is what gets
exported. A checkpoint is written atomically after every epoch; rerunning with the same
checkpoint path resumes after the last completed epoch (the seed makes the resumed run equal
to an uninterrupted one).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from hwnas.errors import BadInputError, RunError
from hwnas.nets import build_network, get_dataset
from hwnas.space.nb201 import NB201Arch, format_arch
from hwnas.train.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from hwnas.train.data import Split, load_train_data


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 5
    batch_size: int = 64
    lr: float = 0.01
    weight_decay: float = 1e-4
    val_fraction: float = 0.2
    seed: int = 0

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1:
            raise BadInputError(f"--epochs and --batch-size must be >= 1, got {self.epochs} and {self.batch_size}")
        if not 0 < self.lr < math.inf or not 0 <= self.weight_decay < math.inf:
            raise BadInputError(f"--lr must be a positive finite number, got {self.lr}")
        if not 0 < self.val_fraction < 1:
            raise BadInputError(f"--val-fraction must be between 0 and 1 (exclusive), got {self.val_fraction}")

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


# (epoch, epochs, metrics of that epoch) -> None
EpochCallback = Callable[[int, int, dict[str, float]], None]


def evaluate(model: torch.nn.Module, split: Split, batch_size: int = 256) -> float:
    """Top-1 accuracy in percent."""
    model.eval()
    correct = 0
    with torch.no_grad():
        for start in range(0, len(split.y), batch_size):
            logits = model(split.x[start : start + batch_size])
            correct += int((logits.argmax(1) == split.y[start : start + batch_size]).sum())
    return 100.0 * correct / len(split.y)


def train(
    arch: NB201Arch,
    data_source: str | Path,
    checkpoint_path: str | Path,
    dataset: str = "cifar10",
    config: TrainConfig | None = None,
    on_epoch: EpochCallback | None = None,
) -> Checkpoint:
    """Train (or resume training) `arch` on `data_source`; returns the final checkpoint."""
    config = config or TrainConfig()
    spec = get_dataset(dataset)
    checkpoint_path = Path(checkpoint_path)
    data = load_train_data(data_source, spec, config.val_fraction, config.seed)
    torch.manual_seed(config.seed)
    model = build_network(arch, spec, prune=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    steps_per_epoch = -(-len(data.train.y) // config.batch_size)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=config.lr, epochs=config.epochs, steps_per_epoch=steps_per_epoch
    )
    run_config = {**config.to_dict(), "data": data.name, "optimizer": "adam", "schedule": "one-cycle"}
    checkpoint = Checkpoint(format_arch(arch), spec.name, {}, {}, 0, run_config, data.preprocess, [])
    if checkpoint_path.exists():
        checkpoint = _resume(checkpoint_path, checkpoint, model, optimizer, scheduler)
    generator = torch.Generator().manual_seed(config.seed)
    for epoch in range(config.epochs):
        order = torch.randperm(len(data.train.y), generator=generator)  # drawn every epoch: resume-exact
        if epoch < checkpoint.epoch:
            continue
        start = time.perf_counter()
        model.train()
        total_loss = 0.0
        for begin in range(0, len(order), config.batch_size):
            batch = order[begin : begin + config.batch_size]
            loss = F.cross_entropy(model(data.train.x[batch]), data.train.y[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            total_loss += float(loss.detach()) * len(batch)
        metrics = {
            "epoch": epoch + 1,
            "train_loss": total_loss / len(order),
            "val_accuracy": evaluate(model, data.val),
            "seconds": time.perf_counter() - start,
        }
        checkpoint.history.append(metrics)
        checkpoint.epoch = epoch + 1
        checkpoint.model_state = model.state_dict()
        checkpoint.optimizer_state = {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()}
        save_checkpoint(checkpoint, checkpoint_path)
        if on_epoch is not None:
            on_epoch(epoch + 1, config.epochs, metrics)
    return checkpoint


def _resume(
    path: Path,
    fresh: Checkpoint,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
) -> Checkpoint:
    saved = load_checkpoint(path)
    mine = (fresh.arch_str, fresh.dataset, fresh.config)
    theirs = (saved.arch_str, saved.dataset, saved.config)
    if mine != theirs:
        differ = [name for name, a, b in zip(("arch", "dataset", "config"), mine, theirs, strict=True) if a != b]
        raise RunError(
            f"checkpoint {path} was trained with another {', '.join(differ)}; use another --out or delete it"
        )
    model.load_state_dict(saved.model_state)
    optimizer.load_state_dict(saved.optimizer_state["optimizer"])
    scheduler.load_state_dict(saved.optimizer_state["scheduler"])
    return saved


def trained_network(checkpoint: Checkpoint) -> torch.nn.Module:
    """The deployable network with the checkpoint's weights, in eval mode."""
    from hwnas.space.nb201 import parse_arch

    model = build_network(parse_arch(checkpoint.arch_str), checkpoint.dataset, prune=True)
    model.load_state_dict(checkpoint.model_state)
    return model.eval()
