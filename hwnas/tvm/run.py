"""Run and time a compiled library with the Relax VM, here or on a board over RPC."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def set_threads(threads: int, session: Any = None) -> None:
    """Pin TVM's thread pool (of this process or of the RPC server behind `session`)."""
    import tvm

    config = (
        session.get_function("runtime.config_threadpool")
        if session
        else tvm.get_global_func("runtime.config_threadpool")
    )
    config(1, int(threads))  # 1 = use the big cores, `threads` workers


class LoadedModel:
    """A library loaded into a Relax VM on a device (local CPU or a remote board's CPU)."""

    def __init__(self, lib_path: str | Path, session: Any = None) -> None:
        import tvm
        from tvm import relax

        self.session = session
        if session is None:
            self.device = tvm.cpu()
            lib = tvm.runtime.load_module(str(lib_path))
        else:
            session.upload(str(lib_path))
            self.device = session.cpu()
            lib = session.load_module(Path(lib_path).name)
        self.vm = relax.VirtualMachine(lib, self.device)
        # a network whose output does not depend on its input (every path cut by `none`) imports
        # as a function without parameters
        self.takes_input = self.vm.module["get_function_arity"]("main") > 0

    def tensor(self, array: np.ndarray) -> Any:
        import tvm

        return tvm.runtime.tensor(np.ascontiguousarray(array), self.device)

    def _args(self, inputs: np.ndarray) -> tuple[Any, ...]:
        return (self.tensor(inputs),) if self.takes_input else ()

    def run(self, inputs: np.ndarray) -> np.ndarray:
        out = self.vm["main"](*self._args(inputs))
        return (out if hasattr(out, "numpy") else out[0]).numpy()

    def sample_block(self, inputs: np.ndarray) -> Any:
        """A protocol `SampleBlock` backed by the VM's `time_evaluator` (timed where it runs)."""
        args = self._args(inputs)

        def block(number: int, count: int) -> list[float]:
            timer = self.vm.time_evaluator("main", self.device, number=number, repeat=count, min_repeat_ms=0)
            return [float(r) for r in timer(*args).results]

        return block
