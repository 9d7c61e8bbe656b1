"""Apache TVM on this machine: Relax compile for an LLVM target, Relax VM, `time_evaluator`."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from hwnas.errors import DeviceError
from hwnas.profiling.backends.base import Backend, Worker
from hwnas.profiling.models import Model
from hwnas.profiling.protocol import LatencyStats, MeasureProtocol, measure_adaptive
from hwnas.tvm.targets import is_cross, target_spec


def compiled_library(model: Model, target: dict[str, Any]) -> Path:
    """The model compiled for `target`, next to its ONNX file; reused when already built."""
    from hwnas.tvm.build import build_onnx

    onnx_path = model.onnx_path()
    digest = hashlib.sha1(json.dumps(target, sort_keys=True).encode()).hexdigest()[:8]
    lib = onnx_path.with_name(f"{onnx_path.stem}.{digest}.so")
    if not lib.exists():
        build_onnx(onnx_path, target, lib)
    return lib


class TvmWorker(Worker):
    def __init__(self, backend: TvmBackend) -> None:
        self.backend = backend
        self.name = "local"

    def measure(self, model: Model, protocol: MeasureProtocol) -> LatencyStats:
        from hwnas.tvm.run import LoadedModel, set_threads

        lib = compiled_library(model, self.backend.spec)
        set_threads(int(self.backend.options["threads"]))
        loaded = LoadedModel(lib)
        try:
            return measure_adaptive(loaded.sample_block(model.inputs()), protocol)
        finally:
            lib.unlink(missing_ok=True)


class TvmBackend(Backend):
    name = "tvm"
    runtime = "tvm"
    default_options: ClassVar[dict[str, Any]] = {"threads": 1, "target": "native"}

    def __init__(self, device_name: str, options: dict[str, Any] | None = None) -> None:
        super().__init__(device_name, options)
        self.spec = target_spec(self.options["target"], int(self.options["threads"]))
        if is_cross(self.spec):
            raise DeviceError(
                f"target {self.spec.get('mtriple')} is not this machine's CPU; "
                "measure it on the board with the tvm-rpc backend"
            )

    def check(self) -> str:
        try:
            import tvm
        except ImportError:
            raise DeviceError("Apache TVM is not installed: pip install apache-tvm") from None
        from hwnas.tvm.targets import make_target

        return f"TVM {tvm.__version__}, target {make_target(self.spec)}, {self.options['threads']} thread(s)"

    def runtime_version(self) -> str:
        import tvm

        return tvm.__version__

    def target(self) -> str:
        return json.dumps(self.spec, sort_keys=True)

    def open_workers(self, limit: int | None = None) -> list[Worker]:
        self.check()
        return [TvmWorker(self)]

    def run(self, model: Model) -> np.ndarray:
        from hwnas.tvm.run import LoadedModel, set_threads

        lib = compiled_library(model, self.spec)
        set_threads(int(self.options["threads"]))
        return LoadedModel(lib).run(model.inputs())
