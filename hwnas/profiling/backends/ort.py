"""ONNX Runtime on this machine: execution provider, intra-op threads, graph optimization level."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from hwnas.errors import DeviceError
from hwnas.profiling.backends.base import Backend, Worker
from hwnas.profiling.models import Model
from hwnas.profiling.protocol import LatencyStats, MeasureProtocol, measure_adaptive, timed_block

OPT_LEVELS = ("disabled", "basic", "extended", "all")


def session_options(threads: int, graph_optimization_level: str) -> Any:
    """Pinned threads: `threads` intra-op, one inter-op, sequential execution."""
    import onnxruntime as ort

    levels = {
        "disabled": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
        "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
    }
    options = ort.SessionOptions()
    options.intra_op_num_threads = int(threads)
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = levels[graph_optimization_level]
    options.log_severity_level = 3
    return options


def input_feed(session: Any, inputs: np.ndarray) -> dict[str, np.ndarray]:
    """The session's input; none when every path through the network is cut by `none` edges
    and the exporter folded the output into a constant."""
    graph_inputs = session.get_inputs()
    return {graph_inputs[0].name: inputs} if graph_inputs else {}


class OrtWorker(Worker):
    def __init__(self, backend: OrtBackend) -> None:
        self.backend = backend
        self.name = "local"

    def measure(self, model: Model, protocol: MeasureProtocol) -> LatencyStats:
        session = self.backend.session(model.onnx_path())
        feed = input_feed(session, model.inputs())
        return measure_adaptive(timed_block(lambda: session.run(None, feed)), protocol)


class OrtBackend(Backend):
    name = "onnxruntime"
    runtime = "onnxruntime"
    default_options: ClassVar[dict[str, Any]] = {
        "threads": 1,
        "execution_provider": "CPUExecutionProvider",
        "graph_optimization_level": "all",
    }

    def __init__(self, device_name: str, options: dict[str, Any] | None = None) -> None:
        super().__init__(device_name, options)
        level = self.options["graph_optimization_level"]
        if level not in OPT_LEVELS:
            raise DeviceError(f"graph_optimization_level {level!r} is not one of {', '.join(OPT_LEVELS)}")
        if int(self.options["threads"]) < 1:
            raise DeviceError(f"threads must be >= 1, got {self.options['threads']}")

    def check(self) -> str:
        try:
            import onnxruntime as ort
        except ImportError:
            raise DeviceError("onnxruntime is not installed: pip install onnxruntime") from None
        provider = self.options["execution_provider"]
        if provider not in ort.get_available_providers():
            raise DeviceError(
                f"execution provider {provider} is not available; this onnxruntime has "
                f"{', '.join(ort.get_available_providers())}"
            )
        return f"onnxruntime {ort.__version__} with {provider}, {self.options['threads']} intra-op thread(s)"

    def runtime_version(self) -> str:
        import onnxruntime as ort

        return ort.__version__

    def target(self) -> str:
        return str(self.options["execution_provider"])

    def session(self, onnx_path: Path) -> Any:
        import onnxruntime as ort

        options = session_options(int(self.options["threads"]), self.options["graph_optimization_level"])
        return ort.InferenceSession(str(onnx_path), options, providers=[self.options["execution_provider"]])

    def open_workers(self, limit: int | None = None) -> list[Worker]:
        self.check()
        return [OrtWorker(self)]

    def run(self, model: Model) -> np.ndarray:
        session = self.session(model.onnx_path())
        return session.run(None, input_feed(session, model.inputs()))[0]
