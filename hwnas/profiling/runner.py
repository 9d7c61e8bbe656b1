"""Measure a list of architectures on a device's workers into a `ProfileStore`.

One thread per worker takes architectures from a shared queue; the calling thread alone writes
results, so the store never sees a row twice. A worker whose board disconnects puts its
architecture back on the queue and stops; the others pick it up. Workers leave only when no
architecture is queued or in flight, so a re-queued one is never stranded.
"""

from __future__ import annotations

import queue
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from hwnas.errors import HwnasError
from hwnas.profiling.backends.base import Worker, WorkerLost
from hwnas.profiling.machine import load_1m
from hwnas.profiling.models import ArchModel
from hwnas.profiling.protocol import LatencyStats, MeasureProtocol
from hwnas.profiling.store import METRIC, ProfileStore, now_iso


class AllWorkersLost(HwnasError):
    """Every board disconnected before the work was done (what was measured is kept)."""


@dataclass(frozen=True)
class ProgressEvent:
    """Reported after each finished (or failed) architecture."""

    arch_str: str
    worker: str
    done: int  # finished in this run
    total: int  # to do in this run
    stats: LatencyStats | None = None
    error: str | None = None


@dataclass
class ProfileResult:
    requested: int
    already_measured: int
    measured: int
    failed: dict[str, str] = field(default_factory=dict)
    lost_workers: dict[str, str] = field(default_factory=dict)
    noisy: int = 0
    seconds: float = 0.0
    per_worker: dict[str, int] = field(default_factory=dict)
    stopped_early: bool = False

    remeasured: int = 0
    replaced: int = 0

    @property
    def remaining(self) -> int:
        return self.requested - self.already_measured - self.measured

    def to_dict(self) -> dict[str, Any]:
        return {
            "requested": self.requested,
            "already_measured": self.already_measured,
            "measured": self.measured,
            "remaining": self.remaining,
            "remeasured": self.remeasured,
            "replaced": self.replaced,
            "failed": self.failed,
            "lost_workers": self.lost_workers,
            "noisy": self.noisy,
            "seconds": round(self.seconds, 2),
            "archs_per_hour": round(3600 * self.measured / self.seconds, 1) if self.seconds > 0 else None,
            "per_worker": self.per_worker,
        }


def stats_row(stats: LatencyStats, worker: str) -> dict[str, Any]:
    return {
        METRIC: stats.median_ms,
        "mean_ms": stats.mean_ms,
        "p90_ms": stats.p90_ms,
        "iqr_ms": stats.iqr_ms,
        "cv": stats.cv,
        "repeats": stats.repeats,
        "number": stats.number,
        "warmup_runs": stats.warmup_runs,
        "first_run_ms": stats.first_run_ms,
        "outliers": stats.outliers,
        "median_rse": stats.median_rse,
        "settled": stats.settled,
        "noisy": stats.noisy,
        "duration_s": stats.duration_s,
        "worker": worker,
        "load_1m": load_1m(),
        "measured_at": now_iso(),
    }


def profile_archs(
    arch_strs: list[str],
    dataset: str,
    workers: list[Worker],
    store: ProfileStore,
    protocol: MeasureProtocol,
    limit: int | None = None,
    on_progress: Callable[[ProgressEvent], None] | None = None,
    workdir: str | Path | None = None,
    remeasure: set[str] | None = None,
) -> ProfileResult:
    """Measure every architecture of `arch_strs` the store lacks (at most `limit` of them).

    Architectures in `remeasure` are measured again even though the store has them; the new
    row replaces the old one only when its CV is lower (the less disturbed measurement wins).
    """
    done_before = store.done
    requested = list(dict.fromkeys(arch_strs))
    remeasure = set(remeasure or ()) & done_before & set(requested)
    todo = [a for a in requested if a not in done_before or a in remeasure]
    already = sum(a in done_before for a in requested)
    result = ProfileResult(requested=len(requested), already_measured=already, measured=0)
    result.stopped_early = limit is not None and len(todo) > limit
    if limit is not None:
        todo = todo[: max(0, limit)]
    if not todo:
        return result
    if not workers:
        raise AllWorkersLost("no worker to measure on")
    # Exports run between measurements; idle exporter threads must not spin on the measured core.
    torch.set_num_threads(1)
    jobs: queue.Queue[str] = queue.Queue()
    for arch in todo:
        jobs.put(arch)
    events: queue.Queue[tuple[str, str, str, Any]] = queue.Queue()
    outstanding = [len(todo)]  # queued + in flight; changed under `counter_lock`
    counter_lock = threading.Lock()
    stop = threading.Event()
    start = time.monotonic()

    with tempfile.TemporaryDirectory(prefix="hwnas-profile-", dir=workdir, ignore_cleanup_errors=True) as tmp:

        def work(worker: Worker) -> None:
            try:
                while not stop.is_set():
                    try:
                        arch = jobs.get(timeout=0.1)
                    except queue.Empty:
                        with counter_lock:
                            if outstanding[0] == 0:
                                return
                        continue
                    model = ArchModel(arch, dataset, tmp)
                    try:
                        stats = worker.measure(model, protocol)
                    except WorkerLost as exc:
                        jobs.put(arch)
                        events.put(("lost", worker.name, arch, str(exc)))
                        return
                    except Exception as exc:  # one network that fails must not end a long run
                        events.put(("failed", worker.name, arch, f"{type(exc).__name__}: {exc}"))
                    else:
                        events.put(("ok", worker.name, arch, stats))
                    finally:
                        model.discard()
            finally:
                events.put(("exit", worker.name, "", None))
                worker.close()

        threads = [threading.Thread(target=work, args=(w,), daemon=True, name=f"hwnas-{w.name}") for w in workers]
        for thread in threads:
            thread.start()
        alive = len(threads)
        finished = 0
        try:
            while alive:
                try:
                    kind, name, arch, payload = events.get(timeout=0.5)
                except queue.Empty:
                    continue
                if kind == "exit":
                    alive -= 1
                    continue
                if kind == "lost":
                    result.lost_workers[name] = payload
                    continue
                finished += 1
                result.remeasured += int(arch in remeasure)
                if kind == "ok":
                    if arch not in remeasure:
                        store.add(arch, stats_row(payload, name))
                        result.measured += 1
                    elif payload.cv < float(store.rows[arch]["cv"]):
                        store.add(arch, stats_row(payload, name), replace=True)
                        result.replaced += 1
                    result.noisy += int(payload.noisy)
                    result.per_worker[name] = result.per_worker.get(name, 0) + 1
                    event = ProgressEvent(arch, name, finished, len(todo), stats=payload)
                else:
                    result.failed[arch] = payload
                    event = ProgressEvent(arch, name, finished, len(todo), error=payload)
                with counter_lock:
                    outstanding[0] -= 1
                if on_progress is not None:
                    on_progress(event)
        finally:
            stop.set()
            result.seconds = time.monotonic() - start
            store.save()
        if outstanding[0] > 0:
            lost = "; ".join(f"{k}: {v}" for k, v in result.lost_workers.items())
            raise AllWorkersLost(
                f"every worker stopped with {outstanding[0]} architecture(s) left ({lost}); "
                f"{result.measured} measured this run are saved in {store.path}; rerun to continue"
            )
    return result
