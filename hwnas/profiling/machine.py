"""What machine a measurement ran on, and how busy it was."""

from __future__ import annotations

import os
import platform
import socket
from pathlib import Path


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
