"""What is measured: an NB201 network (built pruned, as deployed) or any ONNX file.

Backends ask a model for the form they run: ONNX Runtime and TVM the ONNX file, PyTorch eager
the module. NB201 networks are exported on first use, under a lock because the TorchScript
exporter keeps global state and RPC workers call it from several threads.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Protocol

import numpy as np
import onnx
import torch

from hwnas.errors import BadInputError
from hwnas.export.onnx_export import export_onnx
from hwnas.nets import build_network, example_input, get_dataset
from hwnas.space.nb201 import parse_arch

_EXPORT_LOCK = threading.Lock()
WEIGHT_SEED = 0  # latency does not depend on weight values; a fixed seed keeps exports identical


class Model(Protocol):
    """What a backend measures: a key for the table row, an input, and the model in some form."""

    key: str

    def inputs(self) -> np.ndarray: ...

    def input_shape(self) -> tuple[int, ...]: ...

    def onnx_path(self) -> Path: ...

    def torch_module(self) -> torch.nn.Module: ...


class OnnxModel:
    """An ONNX file with a fixed batch-1 input."""

    def __init__(self, path: str | Path, inputs: np.ndarray | None = None, key: str | None = None) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise BadInputError(f"ONNX file {self.path} not found")
        self.key = key or self.path.stem
        self._inputs = inputs

    def onnx_path(self) -> Path:
        return self.path

    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.inputs().shape)

    def inputs(self) -> np.ndarray:
        if self._inputs is None:
            self._inputs = onnx_example_input(self.path)
        return self._inputs

    def torch_module(self) -> torch.nn.Module:
        raise BadInputError(f"{self.path} is an ONNX file; PyTorch eager needs an architecture, not a file")


def onnx_example_input(path: Path, seed: int = 0) -> np.ndarray:
    """Random input of the graph's first input shape, with dynamic dimensions set to 1."""
    graph = onnx.load(str(path), load_external_data=False).graph
    initializers = {i.name for i in graph.initializer}
    first = next((i for i in graph.input if i.name not in initializers), None)
    if first is None:
        raise BadInputError(f"{path} has no graph input to feed")
    dims = [d.dim_value if d.dim_value > 0 else 1 for d in first.type.tensor_type.shape.dim]
    return np.random.default_rng(seed).standard_normal(dims).astype(np.float32)


class ArchModel:
    """The deployable (pruned) network of an NB201 cell for a dataset."""

    def __init__(self, arch_str: str, dataset: str, workdir: str | Path) -> None:
        self.arch = parse_arch(arch_str)
        self.key = str(self.arch)
        self.dataset = get_dataset(dataset).name
        self.workdir = Path(workdir)
        self._path: Path | None = None

    def input_shape(self) -> tuple[int, ...]:
        return (1, *get_dataset(self.dataset).input_shape)

    def inputs(self) -> np.ndarray:
        return example_input(self.dataset, batch=1, seed=0).numpy()

    def torch_module(self) -> torch.nn.Module:
        with _EXPORT_LOCK:
            torch.manual_seed(WEIGHT_SEED)
            return build_network(self.arch, self.dataset, prune=True).eval()

    def onnx_path(self) -> Path:
        if self._path is None:
            path = self.workdir / f"{self.arch.ordinal:05d}.onnx"
            module = self.torch_module()
            with _EXPORT_LOCK:
                export_onnx(
                    module,
                    torch.from_numpy(self.inputs()),
                    path,
                    dynamic_batch=False,
                    metadata={"arch_str": self.key, "dataset": self.dataset, "pruned": "true"},
                )
            self._path = path
        return self._path

    def discard(self) -> None:
        """Delete the exported file once it is measured."""
        if self._path is not None:
            self._path.unlink(missing_ok=True)
            self._path = None
