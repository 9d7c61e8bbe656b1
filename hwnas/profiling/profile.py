"""`hwnas profile` as an API: measure architectures on a live device into its latency table."""

from __future__ import annotations

import platform
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hwnas.devices.registry import Device
from hwnas.errors import DeviceError
from hwnas.export.onnx_export import OPSET
from hwnas.nets import get_dataset
from hwnas.paths import latency_tables_dirs
from hwnas.profiling.backends import Backend, make_backend
from hwnas.profiling.machine import affinity, cpu_count
from hwnas.profiling.protocol import MeasureProtocol
from hwnas.profiling.runner import ProfileResult, ProgressEvent, profile_archs
from hwnas.profiling.store import ProfileStore, TableMeta


def device_backend(device: Device, options: dict[str, Any] | None = None) -> Backend:
    """The measurement backend a live device names, with `options` over the device's own."""
    if not device.is_live or not device.backend:
        raise DeviceError(
            f"device {device.name} has no measurement backend (its latencies come from tables); "
            "profile a live device, e.g. local-ort, or describe yours in a devices/*.toml with latency.source = 'live'"
        )
    return make_backend(device.backend, device.name, {**device.options, **(options or {})})


def table_name(device: Device, dataset: str) -> str:
    """The device's declared table for `dataset`, else `<device>-<dataset>`."""
    refs = device.tables_for(get_dataset(dataset).name)
    return refs[0].table if refs else f"{device.name}-{get_dataset(dataset).name}"


def default_table_path(device: Device, dataset: str) -> Path:
    """`latency_tables/<table>.parquet` of the checkout, else of the user cache."""
    return latency_tables_dirs()[0] / f"{table_name(device, dataset)}.parquet"


def table_meta(device: Device, dataset: str, backend: Backend, protocol: MeasureProtocol, name: str) -> TableMeta:
    spec = get_dataset(dataset)
    info = backend.info()
    fingerprint = {**backend.fingerprint(), "dataset": spec.name, "protocol": protocol.to_dict()}
    extra = {
        "runtime": info.runtime,
        "runtime_version": info.runtime_version,
        "backend": info.backend,
        "threads": info.threads,
        "target": info.target,
        "options": info.options,
        "input_shape": [1, *spec.input_shape],
        "batch_size": 1,
        "cpu_model": info.cpu_model,
        "host": info.host,
        "host_cpus": cpu_count(),
        "cpu_affinity": affinity(),
        "python": platform.python_version(),
        "protocol": protocol.to_dict(),
        "network": (
            f"NB201 {spec.name} network, pruned to its deployable form (build_network(prune=True)), "
            f"exported to ONNX opset {OPSET} with a static batch-1 input"
        ),
        "measurement": (
            "median of adaptive repeats after a separately timed first run and discarded warm-up; "
            "see README 'Measurement protocol'; per-row columns hold mean, p90, IQR, CV, repeats, load"
        ),
    }
    if "graph_optimization_level" in info.options:
        extra["graph_optimization_level"] = info.options["graph_optimization_level"]
    if "execution_provider" in info.options:
        extra["execution_provider"] = info.options["execution_provider"]
    description = f"batch-1 latency on {device.title} ({info.runtime} {info.runtime_version}, {info.threads} thread(s))"
    return TableMeta(
        name, device.name, spec.name, f"{info.runtime} {info.runtime_version}", description, fingerprint, extra
    )


def profile_device(
    device: Device,
    dataset: str,
    arch_strs: list[str],
    out: str | Path | None = None,
    protocol: MeasureProtocol | None = None,
    options: dict[str, Any] | None = None,
    limit: int | None = None,
    max_workers: int | None = None,
    arch_index: dict[str, int] | None = None,
    notes: str | None = None,
    on_progress: Callable[[ProgressEvent], None] | None = None,
    remeasure_noisy: bool = False,
) -> tuple[ProfileResult, Path]:
    """Measure `arch_strs` the table at `out` lacks; returns the run's result and the table path.

    `remeasure_noisy` also measures again the rows flagged noisy (CV above the protocol's
    threshold or median not settled), keeping whichever of the two measurements has the lower CV.
    """
    protocol = protocol or MeasureProtocol()
    backend = device_backend(device, options)
    backend.check()
    path = Path(out) if out else default_table_path(device, dataset)
    meta = table_meta(device, dataset, backend, protocol, path.stem)
    if notes:
        meta.extra["notes"] = notes
    with ProfileStore(path, meta, arch_index=arch_index) as store:
        redo = {a for a, row in store.rows.items() if row.get("noisy")} if remeasure_noisy else set()
        todo = [a for a in arch_strs if a not in store.done or a in redo]
        workers = backend.open_workers(max_workers) if todo and limit != 0 else []
        result = profile_archs(
            arch_strs, get_dataset(dataset).name, workers, store, protocol, limit, on_progress, remeasure=redo
        )
    return result, path
