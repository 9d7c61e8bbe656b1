"""Boards behind a TVM RPC tracker: one worker per free board registered under the device's key.

The host compiles each network for the board's target (cross-compiling for ARM), uploads the
library, and times it on the board with the Relax VM's `time_evaluator`, so the network never
enters the measurement. A call that fails because the board went away raises `WorkerLost`, and
the runner hands the architecture to another board.
"""

from __future__ import annotations

import json
import socket
import threading
from typing import Any, ClassVar

import numpy as np

from hwnas.errors import BadInputError, DeviceError
from hwnas.profiling.backends.base import Backend, RunInfo, Worker, WorkerLost
from hwnas.profiling.backends.tvm_local import compiled_library
from hwnas.profiling.models import Model
from hwnas.profiling.protocol import LatencyStats, MeasureProtocol, measure_adaptive
from hwnas.tvm.targets import target_spec

_COMPILE_LOCK = threading.Lock()  # TVM's pass infrastructure is not meant for concurrent builds


def parse_tracker(address: str) -> tuple[str, int]:
    host, sep, port = str(address).rpartition(":")
    if not sep or not host or not port.isdigit():
        raise BadInputError(f"tracker {address!r} must be host:port, e.g. 127.0.0.1:9190")
    return host, int(port)


class RpcWorker(Worker):
    def __init__(self, backend: TvmRpcBackend, session: Any, name: str) -> None:
        self.backend = backend
        self.session = session
        self.name = name

    def _alive(self) -> bool:
        try:
            self.session.get_function("tvm.rpc.server.workpath")("")  # a round trip to the board
        except Exception:  # any failure of the round trip means the board is gone
            return False
        return True

    def measure(self, model: Model, protocol: MeasureProtocol) -> LatencyStats:
        from hwnas.tvm.run import LoadedModel, set_threads

        with _COMPILE_LOCK:
            lib = compiled_library(model, self.backend.spec)
        try:
            set_threads(int(self.backend.options["threads"]), self.session)
            loaded = LoadedModel(lib, self.session)
            stats = measure_adaptive(loaded.sample_block(model.inputs()), protocol)
        except Exception as exc:
            if not self._alive():
                raise WorkerLost(f"{self.name} stopped answering: {str(exc).splitlines()[0][:200]}") from None
            raise
        lib.unlink(missing_ok=True)
        return stats

    def close(self) -> None:
        self.session = None


class TvmRpcBackend(Backend):
    name = "tvm-rpc"
    runtime = "tvm"
    default_options: ClassVar[dict[str, Any]] = {
        "tracker": "127.0.0.1:9190",
        "key": "",
        "target": "native",
        "threads": 1,
        "session_timeout_s": 0,
    }

    def __init__(self, device_name: str, options: dict[str, Any] | None = None) -> None:
        super().__init__(device_name, options)
        if not self.options["key"]:
            raise DeviceError(f"device {device_name}: the tvm-rpc backend needs option key (the boards' RPC key)")
        self.host, self.port = parse_tracker(self.options["tracker"])
        self.spec = target_spec(self.options["target"], int(self.options["threads"]))

    def _tracker(self) -> Any:
        from tvm import rpc

        try:
            # TVM itself retries for a minute; a closed port should fail at once
            socket.create_connection((self.host, self.port), timeout=5).close()
            return rpc.connect_tracker(self.host, self.port)
        except (OSError, RuntimeError) as exc:
            raise DeviceError(
                f"no TVM RPC tracker at {self.host}:{self.port} ({exc}); start one with "
                f"`python -m tvm.exec.rpc_tracker --host 127.0.0.1 --port {self.port}` (loopback; boards reach it "
                "through SSH tunnels, profiling/README.md: TVM RPC has no authentication)"
            ) from None

    def free_boards(self) -> int:
        """Boards registered under the key and not busy, as the tracker reports them."""
        tracker = self._tracker()
        try:
            queue = tracker.summary()["queue_info"].get(self.options["key"], {})
        finally:
            tracker.close()
        return int(queue.get("free", 0))

    def check(self) -> str:
        free = self.free_boards()
        if free == 0:
            raise DeviceError(
                f"tracker {self.host}:{self.port} has no free board under key {self.options['key']!r}; on each board "
                f"run profiling/start_rpc_server.sh {self.host}:{self.port} {self.options['key']}"
            )
        return f"tracker {self.host}:{self.port}: {free} free board(s) under key {self.options['key']!r}"

    def runtime_version(self) -> str:
        import tvm

        return tvm.__version__

    def target(self) -> str:
        return json.dumps(self.spec, sort_keys=True)

    def info(self, host: str | None = None, cpu: str | None = None) -> RunInfo:
        where = f"rpc key {self.options['key']} via {self.host}:{self.port}"
        return super().info(host or where, cpu or str(self.spec.get("mcpu", "the boards' CPU")))

    def fingerprint(self) -> dict[str, Any]:
        # the tracker address may change between runs; the boards (key) and target may not
        options = {k: v for k, v in self.options.items() if k not in ("tracker", "session_timeout_s")}
        return {"backend": self.name, "runtime_version": self.runtime_version(), "target": self.target(),
                "options": options}  # fmt: skip

    def open_workers(self, limit: int | None = None) -> list[Worker]:
        """One session per free board (a tracker request for a busy key would wait forever)."""
        free = self.free_boards()
        count = free if limit is None else min(free, limit)
        if count == 0:
            self.check()
        tracker = self._tracker()
        workers: list[Worker] = []
        try:
            for i in range(count):
                session = tracker.request(
                    self.options["key"], session_timeout=float(self.options["session_timeout_s"]), max_retry=2
                )
                workers.append(RpcWorker(self, session, f"{self.options['key']}-{i}"))
        finally:
            tracker.close()
        return workers

    def run(self, model: Model) -> np.ndarray:
        from hwnas.tvm.run import LoadedModel

        tracker = self._tracker()
        try:
            session = tracker.request(self.options["key"], max_retry=2)
        finally:
            tracker.close()
        with _COMPILE_LOCK:
            lib = compiled_library(model, self.spec)
        return LoadedModel(lib, session).run(model.inputs())
