"""A TVM RPC tracker and servers on 127.0.0.1: a farm of loopback "boards" for tests and benchmarks.

Real farms run `profiling/start_rpc_server.sh` on each board; this starts the same TVM
processes here, waits until every server is registered, and stops them (with the session
processes TVM forks) on exit. `stop_server` kills one mid-run, as a board that goes away.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from hwnas.errors import HwnasError
from hwnas.profiling.backends.tvm_rpc import TvmRpcBackend


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop_process_tree(proc: subprocess.Popen) -> None:
    """Kill a process and everything it forked (TVM serves each session in a child process)."""
    try:
        family = [*psutil.Process(proc.pid).children(recursive=True), psutil.Process(proc.pid)]
    except psutil.NoSuchProcess:
        family = []
    for member in family:
        with contextlib.suppress(psutil.NoSuchProcess):
            member.kill()
    proc.wait(timeout=10)


def _wait_for_port(port: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise HwnasError(f"the RPC tracker did not listen on 127.0.0.1:{port} within {timeout_s:g} s")


@dataclass
class LoopbackFarm:
    tracker: str
    key: str
    servers: list[subprocess.Popen] = field(default_factory=list)

    def stop_server(self, index: int) -> None:
        stop_process_tree(self.servers[index])


@contextlib.contextmanager
def loopback_farm(key: str, servers: int, log_dir: str | Path, timeout_s: float = 90) -> Iterator[LoopbackFarm]:
    """Tracker + `servers` RPC servers under `key`, all registered, stopped on exit."""
    log_dir = Path(log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()

    def start(args: list[str], log: str) -> subprocess.Popen:
        with open(log_dir / log, "w") as handle:
            return subprocess.Popen([sys.executable, "-m", *args], stdout=handle, stderr=subprocess.STDOUT)

    tracker = start(["tvm.exec.rpc_tracker", "--host", "127.0.0.1", "--port", str(port),
                     "--port-end", str(port + 1)], "tracker.log")  # fmt: skip
    farm = LoopbackFarm(f"127.0.0.1:{port}", key)
    try:
        _wait_for_port(port, timeout_s)  # servers started earlier would retry only every 5 s
        for i in range(servers):
            base = free_port()
            farm.servers.append(start(["tvm.exec.rpc_server", "--host", "127.0.0.1", "--port", str(base),
                                       "--port-end", str(base + 50), "--tracker", farm.tracker, "--key", key],
                                      f"server{i}.log"))  # fmt: skip
        backend = TvmRpcBackend("loopback", {"tracker": farm.tracker, "key": key})
        deadline = time.monotonic() + timeout_s
        while backend.free_boards() < servers:
            if time.monotonic() > deadline:
                raise HwnasError(f"only {backend.free_boards()} of {servers} RPC servers registered in {timeout_s:g} s")
            time.sleep(0.5)
        yield farm
    finally:
        for proc in [*farm.servers, tracker]:
            stop_process_tree(proc)
