"""PyTorch networks for architectures, and their costs."""

from hwnas.nets.cost import NetworkCost, network_cost
from hwnas.nets.datasets import DATASETS, DatasetSpec, get_dataset
from hwnas.nets.nb201 import NB201Network, build_network, example_input

__all__ = [
    "DATASETS",
    "DatasetSpec",
    "NB201Network",
    "NetworkCost",
    "build_network",
    "example_input",
    "get_dataset",
    "network_cost",
]
