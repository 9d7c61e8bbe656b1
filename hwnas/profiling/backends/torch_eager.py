"""PyTorch eager on this machine: the reference the exported runtimes are compared against."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch

from hwnas.profiling.backends.base import Backend, Worker
from hwnas.profiling.models import Model
from hwnas.profiling.protocol import LatencyStats, MeasureProtocol, measure_adaptive, timed_block


class TorchWorker(Worker):
    def __init__(self, backend: TorchBackend) -> None:
        self.backend = backend
        self.name = "local"

    def measure(self, model: Model, protocol: MeasureProtocol) -> LatencyStats:
        torch.set_num_threads(int(self.backend.options["threads"]))
        module = model.torch_module()
        x = torch.from_numpy(model.inputs())
        with torch.inference_mode():
            return measure_adaptive(timed_block(lambda: module(x)), protocol)


class TorchBackend(Backend):
    name = "torch"
    runtime = "pytorch"
    default_options: ClassVar[dict[str, Any]] = {"threads": 1}

    def check(self) -> str:
        return f"PyTorch {torch.__version__} eager on CPU, {self.options['threads']} thread(s)"

    def runtime_version(self) -> str:
        return torch.__version__

    def target(self) -> str:
        return "cpu"

    def open_workers(self, limit: int | None = None) -> list[Worker]:
        return [TorchWorker(self)]

    def run(self, model: Model) -> np.ndarray:
        torch.set_num_threads(int(self.options["threads"]))
        with torch.inference_mode():
            return model.torch_module()(torch.from_numpy(model.inputs())).numpy()
