"""The datasets NB201 networks are built for: input shape and class count."""

from __future__ import annotations

from dataclasses import dataclass

from hwnas.errors import BadInputError


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    input_shape: tuple[int, int, int]  # C, H, W
    num_classes: int


DATASETS: dict[str, DatasetSpec] = {
    "cifar10": DatasetSpec("cifar10", (3, 32, 32), 10),
    "cifar100": DatasetSpec("cifar100", (3, 32, 32), 100),
    "ImageNet16-120": DatasetSpec("ImageNet16-120", (3, 16, 16), 120),
}
_ALIASES = {
    "c10": "cifar10",
    "cifar-10": "cifar10",
    "cifar10-valid": "cifar10",
    "c100": "cifar100",
    "cifar-100": "cifar100",
    "imagenet16-120": "ImageNet16-120",
    "imagenet16": "ImageNet16-120",
    "in16": "ImageNet16-120",
}


def get_dataset(name: str) -> DatasetSpec:
    key = _ALIASES.get(name.lower(), name) if name not in DATASETS else name
    if key not in DATASETS:
        raise BadInputError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")
    return DATASETS[key]
