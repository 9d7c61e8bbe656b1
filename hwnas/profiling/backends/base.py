"""One device protocol for every way of measuring latency (nn-Meter's backend shape).

A backend is registered by name, has default options a device description can override, a
`check` (connect) step that says what is missing, and hands out workers: one for a local
runtime, one per board for an RPC farm. A worker measures one ONNX model and returns latency
statistics; a worker whose board went away raises `WorkerLost` so its job can be re-queued.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

import numpy as np

from hwnas.errors import DeviceError, HwnasError
from hwnas.profiling.machine import cpu_model, host_name
from hwnas.profiling.models import Model
from hwnas.profiling.protocol import LatencyStats, MeasureProtocol


class WorkerLost(HwnasError):
    """The board behind a worker disconnected or stopped answering."""


@dataclass(frozen=True)
class RunInfo:
    """What a measurement ran on; stored in the table sidecar (and per row where it varies)."""

    device: str
    backend: str
    runtime: str
    runtime_version: str
    threads: int
    target: str
    host: str
    cpu_model: str
    options: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Worker(ABC):
    """Measures models on one execution resource (this CPU, one remote board)."""

    name: str

    @abstractmethod
    def measure(self, model: Model, protocol: MeasureProtocol) -> LatencyStats:
        """Latency statistics of one batch-1 inference of the model."""

    def close(self) -> None:  # noqa: B027 -- most workers hold nothing to release
        """Release the resource (sessions, RPC connections)."""


class Backend(ABC):
    """A measurement backend with its options; see module docstring."""

    name: ClassVar[str]
    runtime: ClassVar[str]
    default_options: ClassVar[dict[str, Any]]

    def __init__(self, device_name: str, options: dict[str, Any] | None = None) -> None:
        options = dict(options or {})
        unknown = sorted(set(options) - set(self.default_options))
        if unknown:
            raise DeviceError(
                f"backend {self.name} has no option(s) {', '.join(unknown)}; "
                f"it takes {', '.join(sorted(self.default_options))}"
            )
        for key, value in options.items():
            _check_option_type(self.name, key, value, self.default_options[key])
        self.device_name = device_name
        self.options = {**self.default_options, **options}

    @abstractmethod
    def check(self) -> str:
        """Connect step: raise `DeviceError` saying what is missing, else describe what answered."""

    @abstractmethod
    def runtime_version(self) -> str: ...

    @abstractmethod
    def target(self) -> str:
        """Execution provider, compiler target or board key."""

    @abstractmethod
    def open_workers(self, limit: int | None = None) -> list[Worker]:
        """Workers ready to measure (at most `limit`)."""

    @abstractmethod
    def run(self, model: Model) -> np.ndarray:
        """The model's output for its inputs (to check backends agree)."""

    def info(self, host: str | None = None, cpu: str | None = None) -> RunInfo:
        return RunInfo(
            device=self.device_name,
            backend=self.name,
            runtime=self.runtime,
            runtime_version=self.runtime_version(),
            threads=int(self.options.get("threads", 0)),
            target=self.target(),
            host=host or host_name(),
            cpu_model=cpu or cpu_model(),
            options=dict(self.options),
        )

    def fingerprint(self) -> dict[str, Any]:
        """What must match for new measurements to extend an existing table."""
        info = self.info()
        return {
            "backend": info.backend,
            "runtime_version": info.runtime_version,
            "target": info.target,
            "cpu_model": info.cpu_model,
            "options": info.options,
        }


def _check_option_type(backend: str, key: str, value: Any, default: Any) -> None:
    """A numeric or boolean option must be of its default's type (an int for a float is fine);
    text options may also take a table (TVM targets in dict form)."""
    if not isinstance(default, bool | int | float):
        return
    expected: tuple[type, ...] = (float, int) if isinstance(default, float) else (type(default),)
    wrong = not isinstance(value, expected) or (isinstance(value, bool) and not isinstance(default, bool))
    if wrong:
        raise DeviceError(
            f"backend {backend} option {key} must be {type(default).__name__} like its default {default!r}, "
            f"got {value!r}"
        )
