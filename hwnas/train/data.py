"""Training data for NB201 networks: scikit-learn's handwritten digits (ships with sklearn, no
download) or a user `.npz`, turned into the network's input shape, split with a seed.

Images are scaled to [0, 1], resized (bilinear) to the network's height and width, repeated to
its channel count when they have one channel, then standardised with the training split's mean
and standard deviation. The same `preprocess` dict (stored in the checkpoint) prepares inputs for
export verification and int8 calibration.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from hwnas.errors import BadInputError
from hwnas.nets import DatasetSpec

DIGITS = "digits"


@dataclass
class Split:
    x: torch.Tensor  # N, C, H, W float32, network-ready
    y: torch.Tensor  # N int64


@dataclass
class TrainData:
    name: str
    train: Split
    val: Split
    num_classes: int
    preprocess: dict[str, Any]


def load_raw(source: str | Path) -> tuple[np.ndarray, np.ndarray, str]:
    """Images (N, H, W) or (N, H, W, C) or (N, C, H, W) with values in [0, 1], labels, a name."""
    if str(source) == DIGITS:
        from sklearn.datasets import load_digits

        digits = load_digits()
        return digits.images.astype(np.float32) / 16.0, digits.target.astype(np.int64), DIGITS
    path = Path(source)
    if path.suffix != ".npz":
        raise BadInputError(f"training data {source!r}: give 'digits' or an .npz file with arrays x and y")
    if not path.is_file():
        raise BadInputError(f"training data {path} not found")
    try:
        with np.load(path, allow_pickle=False) as arrays:
            if "x" not in arrays or "y" not in arrays:
                raise BadInputError(
                    f"{path} must hold arrays 'x' (images) and 'y' (integer labels); has {list(arrays)}"
                )
            x, y = arrays["x"].astype(np.float32), arrays["y"]
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, AttributeError) as exc:
        # object arrays (pickles), truncated or non-npz files: never unpickled, always one line
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BadInputError(f"{path} is not a readable .npz of numeric arrays x and y ({reason})") from None
    if x.ndim not in (3, 4) or len(x) != len(y) or len(x) < 2:
        raise BadInputError(f"{path}: x must be N images (N,H,W[,C]) with one label each; got x {x.shape}, y {y.shape}")
    if not np.issubdtype(y.dtype, np.integer) or y.min() < 0:
        raise BadInputError(f"{path}: labels y must be integers >= 0")
    if not np.isfinite(x).all():
        raise BadInputError(f"{path}: images x hold {int((~np.isfinite(x)).sum())} NaN or infinite values")
    if len(np.unique(y)) < 2:
        raise BadInputError(f"{path}: labels y hold a single class; training needs at least two")
    if x.max() > 1.0:
        x = x / 255.0
    return x, y.astype(np.int64), str(path.resolve())


def to_network_shape(images: np.ndarray, spec: DatasetSpec) -> torch.Tensor:
    """(N, H, W[, C]) or (N, C, H, W) images -> (N, C, H, W) at the network's size, not standardised."""
    x = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32))
    if x.ndim == 3:
        x = x[:, None]
    elif x.shape[-1] in (1, 3) and x.shape[1] not in (1, 3):
        x = x.permute(0, 3, 1, 2)
    channels, height, width = spec.input_shape
    if x.shape[1] == 1:
        x = x.expand(-1, channels, -1, -1)
    if x.shape[1] != channels:
        raise BadInputError(f"images have {x.shape[1]} channels; the network takes {channels} (or 1, repeated)")
    return F.interpolate(x, size=(height, width), mode="bilinear", align_corners=False).contiguous()


def preprocess(images: np.ndarray, spec: DatasetSpec, settings: dict[str, Any]) -> torch.Tensor:
    """Raw images -> network input, with the mean and std stored in `settings`."""
    x = to_network_shape(images, spec)
    return (x - settings["mean"]) / settings["std"]


def load_train_data(source: str | Path, spec: DatasetSpec, val_fraction: float = 0.2, seed: int = 0) -> TrainData:
    """The data set split into train and validation (stratified, seeded) at the network's shape."""
    from sklearn.model_selection import train_test_split

    if not 0.0 < val_fraction < 1.0:
        raise BadInputError(f"validation fraction must be between 0 and 1, got {val_fraction}")
    images, labels, name = load_raw(source)
    num_classes = int(labels.max()) + 1
    if num_classes > spec.num_classes:
        raise BadInputError(
            f"{name} has {num_classes} classes but a {spec.name} network has {spec.num_classes} outputs; "
            "pick a --dataset shape with at least as many classes"
        )
    counts = np.bincount(labels)
    stratify = labels if counts[counts > 0].min() >= 2 else None
    idx_train, idx_val = train_test_split(
        np.arange(len(labels)), test_size=val_fraction, random_state=seed, stratify=stratify
    )
    shaped_train = to_network_shape(images[idx_train], spec)
    settings = {
        "data": name,
        "mean": float(shaped_train.mean()),
        "std": float(shaped_train.std()) or 1.0,
        "resize": "bilinear",
        "input_shape": list(spec.input_shape),
        "val_fraction": val_fraction,
        "split_seed": seed,
    }
    train = Split((shaped_train - settings["mean"]) / settings["std"], torch.from_numpy(labels[idx_train]))
    val = Split(preprocess(images[idx_val], spec, settings), torch.from_numpy(labels[idx_val]))
    return TrainData(name, train, val, num_classes, settings)


def checkpoint_data(preprocess_settings: dict[str, Any], spec: DatasetSpec) -> TrainData:
    """The splits a checkpoint was trained on, prepared as they were (re-derived from the data
    source, split seed and fraction recorded in the checkpoint)."""
    source = preprocess_settings["data"]
    if source != DIGITS and not Path(source).is_file():
        raise BadInputError(f"training data {source} is not here; pass it again to check the model on it")
    return load_train_data(source, spec, preprocess_settings["val_fraction"], preprocess_settings["split_seed"])


def validation_inputs(preprocess_settings: dict[str, Any], spec: DatasetSpec) -> Split:
    """The validation split a checkpoint was trained against."""
    return checkpoint_data(preprocess_settings, spec).val
