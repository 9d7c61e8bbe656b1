"""An offline image batch for the proxies that need data: crops of scikit-learn's bundled photos.

Zero-cost proxies look at a single batch at initialization; what matters is natural-image
statistics, not the benchmark's own images, so any user (no data folder, no network) gets the
same batch from the two photos scikit-learn ships (`load_sample_images`). The photos are
downscaled so a crop covers a scene region about the size of a CIFAR object, then cropped at
random positions and scales, randomly flipped, and normalized with the CIFAR-10 statistics.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import torch
from torch.nn import functional as F

# CIFAR-10 channel statistics (what NAS-Bench-201 normalizes with).
CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2470, 0.2435, 0.2616)


@cache
def _photos() -> tuple[torch.Tensor, ...]:
    from sklearn.datasets import load_sample_images

    return tuple(
        torch.from_numpy(np.array(img)).permute(2, 0, 1).float() / 255.0 for img in load_sample_images().images
    )


def image_batch(n: int, side: int = 32, seed: int = 0) -> torch.Tensor:
    """`n` normalized RGB crops of `side` x `side` pixels, [n, 3, side, side], fixed by `seed`."""
    if n < 1 or side < 2:
        raise ValueError("need n >= 1 and side >= 2")
    rng = np.random.default_rng(seed)
    photos = _photos()
    mean = torch.tensor(CIFAR_MEAN).view(3, 1, 1)
    std = torch.tensor(CIFAR_STD).view(3, 1, 1)
    crops = []
    for _ in range(n):
        photo = photos[int(rng.integers(len(photos)))]
        height, width = photo.shape[1:]
        # A square window of 1/8 to 1/3 of the photo's height, resized to side x side.
        window = int(rng.integers(height // 8, height // 3 + 1))
        top = int(rng.integers(0, height - window + 1))
        left = int(rng.integers(0, width - window + 1))
        crop = photo[:, top : top + window, left : left + window].unsqueeze(0)
        crop = F.interpolate(crop, size=(side, side), mode="bilinear", align_corners=False, antialias=True)[0]
        if rng.random() < 0.5:
            crop = crop.flip(2)
        crops.append((crop.clamp(0, 1) - mean) / std)
    return torch.stack(crops)


def random_labels(n: int, num_classes: int, seed: int = 0) -> torch.Tensor:
    """Class labels for loss-based proxies (snip, grad_norm): the photos have no classes."""
    rng = np.random.default_rng(seed)
    return torch.from_numpy(rng.integers(0, num_classes, size=n)).long()
