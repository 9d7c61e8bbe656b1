"""Measurement backends registered by name; a device description picks one with `latency.backend`."""

from __future__ import annotations

import importlib
from typing import Any

from hwnas.errors import DeviceError
from hwnas.profiling.backends.base import Backend, RunInfo, Worker, WorkerLost

# name -> "module:class", imported on first use (TVM takes seconds to import)
BACKENDS: dict[str, str] = {
    "onnxruntime": "hwnas.profiling.backends.ort:OrtBackend",
    "torch": "hwnas.profiling.backends.torch_eager:TorchBackend",
    "tvm": "hwnas.profiling.backends.tvm_local:TvmBackend",
    "tvm-rpc": "hwnas.profiling.backends.tvm_rpc:TvmRpcBackend",
}


def backend_class(name: str) -> type[Backend]:
    if name not in BACKENDS:
        raise DeviceError(f"unknown measurement backend {name!r}; known: {', '.join(BACKENDS)}")
    module, _, cls = BACKENDS[name].partition(":")
    return getattr(importlib.import_module(module), cls)


def make_backend(name: str, device_name: str, options: dict[str, Any] | None = None) -> Backend:
    """A backend with the device's options over the backend's defaults."""
    return backend_class(name)(device_name, options)


__all__ = ["BACKENDS", "Backend", "RunInfo", "Worker", "WorkerLost", "backend_class", "make_backend"]
