"""Training checkpoints: network weights plus what is needed to resume and to export.

One file per run (`torch.save` of a plain dict), written atomically after every epoch: a kill
leaves the previous epoch's checkpoint, never half a file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from hwnas.atomic import atomic_write
from hwnas.errors import BadInputError

FORMAT = "hwnas-checkpoint"


@dataclass
class Checkpoint:
    arch_str: str
    dataset: str  # the network's input shape and class count (hwnas.nets.DATASETS)
    model_state: dict[str, torch.Tensor]
    optimizer_state: dict[str, Any]
    epoch: int  # epochs completed
    config: dict[str, Any]  # training settings: epochs, lr, batch size, seed, data
    preprocess: dict[str, Any]  # how raw data becomes network input (see hwnas.train.data)
    history: list[dict[str, float]] = field(default_factory=list)  # per epoch: loss, accuracies

    @property
    def val_accuracy(self) -> float | None:
        """Validation accuracy (percent) after the last completed epoch."""
        return self.history[-1]["val_accuracy"] if self.history else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "arch_str": self.arch_str,
            "dataset": self.dataset,
            "model_state": self.model_state,
            "optimizer_state": self.optimizer_state,
            "epoch": self.epoch,
            "config": self.config,
            "preprocess": self.preprocess,
            "history": self.history,
        }


def save_checkpoint(checkpoint: Checkpoint, path: str | Path) -> Path:
    return atomic_write(path, lambda tmp: torch.save(checkpoint.to_dict(), tmp))


def load_checkpoint(path: str | Path) -> Checkpoint:
    path = Path(path)
    if not path.is_file():
        raise BadInputError(f"checkpoint {path} not found")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle, zip and tensor errors all mean: not our checkpoint
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BadInputError(f"{path} is not a readable checkpoint: {reason}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise BadInputError(f"{path} is not an hwnas checkpoint (written by `hwnas train`)")
    data.pop("format")
    try:
        return Checkpoint(**data)
    except TypeError as exc:
        raise BadInputError(f"{path} is an incomplete or newer hwnas checkpoint ({exc})") from None
