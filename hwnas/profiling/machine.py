"""What machine a measurement ran on, and how busy it was."""

from __future__ import annotations

import os
import platform
import re
import socket
from pathlib import Path

from hwnas.errors import BadInputError


def cpu_model() -> str:
    """The CPU's marketing name (Linux `/proc/cpuinfo`), else the platform's processor string."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.lower().startswith(("model name", "hardware")):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def load_1m() -> float:
    """1-minute load average (runnable processes), NaN where the OS does not report it."""
    try:
        return float(os.getloadavg()[0])
    except (AttributeError, OSError):
        return float("nan")


def host_name() -> str:
    return socket.gethostname()


def cpu_count() -> int:
    return os.cpu_count() or 1


def affinity() -> list[int]:
    """CPUs this process may run on (what `taskset` pinned it to)."""
    try:
        return sorted(os.sched_getaffinity(0))
    except AttributeError:
        return list(range(cpu_count()))


def pin_cpus(spec: str) -> list[int]:
    """Restrict this process (and what it starts) to the CPUs in `spec` ("1", "0,1", "2-3").

    On a shared or virtual machine a pinned core gives much steadier latencies than letting the
    scheduler move the measuring thread (benchmarks/profiling/README.md).
    """
    cpus: set[int] = set()
    for part in spec.split(","):
        match = re.fullmatch(r"\s*(\d+)(?:-(\d+))?\s*", part)
        if match is None:
            raise BadInputError(f"--cpus {spec!r}: give CPU numbers like 1, 0,1 or 2-3")
        low, high = int(match[1]), int(match[2] or match[1])
        cpus.update(range(low, high + 1))
    available = affinity()
    if not cpus <= set(available):
        raise BadInputError(f"--cpus {spec}: this process may use CPUs {','.join(map(str, available))} only")
    if not hasattr(os, "sched_setaffinity"):
        raise BadInputError("--cpus needs an OS with CPU affinity (Linux); pin with the OS's own tool instead")
    os.sched_setaffinity(0, cpus)
    return sorted(cpus)
