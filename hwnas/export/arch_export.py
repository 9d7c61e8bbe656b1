"""`export_arch`: an architecture in, a verified deployable ONNX model and its manifest out.

The exported network is `build_network(arch, dataset, prune=True)`, the same network the
profiler measures for latency tables (no `none` edge and no dead node becomes computation),
with a dynamic batch axis. Every export is verified (ONNX Runtime vs PyTorch, see
`hwnas.export.verify`) before it is reported; the manifest (`manifest.json` beside the model)
holds the metadata, the verification, latency statistics and, when asked, the int8 model's size,
latency and accuracy change.
"""

from __future__ import annotations

import hashlib
import json
import math
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch

import hwnas
from hwnas.atomic import atomic_write_json, staged_directory
from hwnas.devices.registry import Device
from hwnas.errors import BadInputError, BudgetError, DataError
from hwnas.export.metadata import ExportMetadata, write_metadata
from hwnas.export.onnx_export import OPSET, export_onnx
from hwnas.export.quantize import quantize_int8
from hwnas.export.verify import Verification, ort_session, run_ort, verify_onnx
from hwnas.export.weights import describe_random_init, random_network
from hwnas.nets import DatasetSpec, get_dataset
from hwnas.space.nb201 import NB201Arch, format_arch
from hwnas.tables.catalog import Catalog
from hwnas.train.checkpoint import Checkpoint, load_checkpoint
from hwnas.train.data import Split, checkpoint_data, validation_inputs
from hwnas.train.trainer import trained_network

MODEL_NAME = "model.onnx"
INT8_NAME = "model.int8.onnx"
MANIFEST_NAME = "manifest.json"
REAL_VERIFY_SAMPLES = 64
RANDOM_CALIBRATION_SAMPLES = 64
TRAINED_CALIBRATION_SAMPLES = 256


@dataclass(frozen=True)
class KnownFigures:
    """What the caller already knows about the architecture (e.g. from a search)."""

    accuracy: float | None = None
    accuracy_source: str | None = None
    accuracy_is_estimate: bool | None = None
    target_device: str | None = None
    target_latency_ms: float | None = None
    budget_ms: float | None = None


@dataclass
class ExportResult:
    out_dir: Path
    onnx_path: Path
    manifest_path: Path
    metadata: ExportMetadata
    verification: Verification
    manifest: dict[str, Any] = field(default_factory=dict)


def export_arch(
    arch: NB201Arch,
    dataset: str,
    out_dir: str | Path,
    *,
    weights: str | Path | None = None,
    seed: int = 0,
    known: KnownFigures | None = None,
    device: Device | None = None,
    catalog: Catalog | None = None,
    measure_latency: bool = True,
    int8: bool = False,
    tolerance: float = 1e-4,
    enforce_budget: bool = True,
    extra: dict[str, Any] | None = None,
    finish: Callable[[ExportResult], None] | None = None,
) -> ExportResult:
    """Export, verify and describe the deployable network of `arch`; see module docstring.

    `weights` is a checkpoint from `hwnas train` (else a seeded random init). `device` is the
    target device: its latency for `arch` is looked up (table devices) or measured (live ones)
    and checked against `known.budget_ms` (over budget: `BudgetError` when `enforce_budget`, else
    a warning in the manifest). `extra` goes into the manifest as is (e.g. the search that chose
    `arch`); `finish` adds to the export before it is committed (the TVM build). Raises
    `VerificationError` when ONNX Runtime and PyTorch disagree beyond `tolerance`.

    All or nothing: everything is built, verified and checked in a staging folder beside
    `out_dir`, which then replaces the previous export as a whole; a refused or killed export
    leaves the previous one as it was.
    """
    final = Path(out_dir)
    if final.is_dir() and any(final.iterdir()) and not (final / MANIFEST_NAME).is_file():
        raise BadInputError(
            f"{final} exists and is not an hwnas export (no {MANIFEST_NAME}); an export replaces its folder "
            "as a whole, so choose another --out or empty it"
        )
    with staged_directory(final) as staging:
        result = _export_into(
            staging, arch, dataset, weights, seed, known, device, catalog, measure_latency, int8, tolerance,
            enforce_budget, extra,
        )
        if finish is not None:
            finish(result)
        # Reports name the files where they will be, not where they were built.
        manifest = json.loads(json.dumps(result.manifest, default=str).replace(str(staging), str(final)))
        atomic_write_json(result.manifest_path, manifest)
    return replace(
        result, out_dir=final, onnx_path=final / MODEL_NAME, manifest_path=final / MANIFEST_NAME, manifest=manifest
    )


def _export_into(
    out: Path,
    arch: NB201Arch,
    dataset: str,
    weights: str | Path | None,
    seed: int,
    known: KnownFigures | None,
    device: Device | None,
    catalog: Catalog | None,
    measure_latency: bool,
    int8: bool,
    tolerance: float,
    enforce_budget: bool,
    extra: dict[str, Any] | None,
) -> ExportResult:
    """The export in `out` (a fresh staging folder); the manifest is written by the caller."""
    started = time.perf_counter()
    spec = get_dataset(dataset)
    known = known or KnownFigures()
    checkpoint = load_checkpoint(weights) if weights else None
    model, weights_kind, weights_detail = _network(arch, spec, checkpoint, weights, seed)
    real = _real_inputs(checkpoint, spec)
    if checkpoint is not None and known.accuracy is None:
        known = replace(
            known,
            accuracy=checkpoint.val_accuracy,
            accuracy_source=f"validation accuracy on {checkpoint.preprocess['data']} (trained checkpoint)",
            accuracy_is_estimate=False,
        )
    elif known.accuracy is None:
        known = _table_accuracy(arch, spec, catalog, known)
    if device is not None:
        target_ms = _device_latency_ms(device, arch, spec, catalog or Catalog())
        known = replace(known, target_device=device.name, target_latency_ms=target_ms)
    metadata = ExportMetadata(
        arch_str=format_arch(arch),
        dataset=spec.name,
        input_shape=spec.input_shape,
        num_classes=spec.num_classes,
        opset=OPSET,
        weights=weights_kind,
        weights_detail=weights_detail,
        accuracy=known.accuracy,
        accuracy_source=known.accuracy_source,
        accuracy_is_estimate=known.accuracy_is_estimate,
        target_device=known.target_device,
        target_latency_ms=known.target_latency_ms,
        budget_ms=known.budget_ms,
        **_versions(),
    )
    onnx_path = out / MODEL_NAME
    example = torch.zeros(1, *spec.input_shape)
    export_onnx(model, example, onnx_path, metadata=metadata.to_props())
    verification = verify_onnx(
        model, onnx_path, spec.input_shape, real.x[:REAL_VERIFY_SAMPLES] if real else None, tolerance, seed
    )
    manifest: dict[str, Any] = {"files": {MODEL_NAME: _file_info(onnx_path)}, "warnings": []}
    if measure_latency:
        stats, backend_info = _measure(onnx_path, device)
        metadata = replace(metadata, latency_ms=stats["median_ms"], latency_backend=backend_info)
        _rewrite_metadata(onnx_path, metadata)
        manifest["latency"] = {"backend": backend_info, **stats}
        manifest["files"][MODEL_NAME] = _file_info(onnx_path)
    if known.budget_ms is not None and device is not None:
        latency = _budget_latency(metadata, device)
        if latency is not None and latency > known.budget_ms:
            message = (
                f"{metadata.arch_str} takes {latency:.4g} ms on {device.name}, over the budget of "
                f"{known.budget_ms:g} ms"
            )
            if enforce_budget:
                raise BudgetError(f"{message}; pick a faster architecture or raise --budget-ms")
            manifest["warnings"].append(f"{message} when measured again now (load on this machine?)")
    if int8:
        manifest["int8"] = _int8(onnx_path, out / INT8_NAME, metadata, spec, checkpoint, real, seed, measure_latency)
        manifest["files"][INT8_NAME] = _file_info(out / INT8_NAME)
    manifest = {
        "format": "hwnas-export-manifest",
        "version": 1,
        "model": MODEL_NAME,
        "metadata": metadata.to_dict(),
        "verification": verification.to_dict(),
        **manifest,
        **(extra or {}),
        "export_seconds": time.perf_counter() - started,
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
    }
    return ExportResult(out, onnx_path, out / MANIFEST_NAME, metadata, verification, manifest)


def _network(
    arch: NB201Arch, spec: DatasetSpec, checkpoint: Checkpoint | None, weights: str | Path | None, seed: int
) -> tuple[torch.nn.Module, str, str]:
    if checkpoint is None:
        return random_network(arch, spec, seed), "random-init", describe_random_init(seed)
    if checkpoint.arch_str != format_arch(arch) or checkpoint.dataset != spec.name:
        raise BadInputError(
            f"checkpoint {weights} holds {checkpoint.arch_str} for {checkpoint.dataset}, not "
            f"{format_arch(arch)} for {spec.name}"
        )
    detail = (
        f"checkpoint {Path(str(weights)).name}: {checkpoint.epoch} epochs on {checkpoint.preprocess['data']}, "
        f"validation accuracy {checkpoint.val_accuracy:.2f}%"
    )
    return trained_network(checkpoint), "checkpoint", detail


def _real_inputs(checkpoint: Checkpoint | None, spec: DatasetSpec) -> Split | None:
    return None if checkpoint is None else validation_inputs(checkpoint.preprocess, spec)


def _table_accuracy(arch: NB201Arch, spec: DatasetSpec, catalog: Catalog | None, known: KnownFigures) -> KnownFigures:
    """The benchmark accuracy of `arch` when the accuracy table is on this machine."""
    from hwnas.search.problem import DEFAULT_ACCURACY, table_metric_spec

    catalog = catalog or Catalog()
    spec_text = DEFAULT_ACCURACY.get(spec.name)
    if spec_text is None or not catalog.has(spec_text.rpartition(":")[0]):
        return known
    try:
        table, metric = table_metric_spec(spec_text, catalog)
        value = float(table.series(metric).get(format_arch(arch), math.nan))
    except DataError:
        return known
    if math.isnan(value):
        return known
    return replace(
        known,
        accuracy=value,
        accuracy_source=f"{spec_text} (NAS-Bench-201, 200 epochs; these exported weights are not trained)",
        accuracy_is_estimate=False,
    )


def _device_latency_ms(device: Device, arch: NB201Arch, spec: DatasetSpec, catalog: Catalog) -> float:
    """Latency on the target device: its table, or (live devices) its stored or fresh measurement."""
    from hwnas.devices.tables import require_latency_table
    from hwnas.search.problem import TableLatency
    from hwnas.space.nb201 import NB201Space

    if device.is_live:
        from hwnas.profiling.live import LiveLatency

        return float(LiveLatency(device, spec.name).latency_ms(arch))
    table, ref = require_latency_table(device, spec.name, catalog)
    return float(TableLatency(table, ref.metric, NB201Space()).latency_ms(arch))


def _budget_latency(metadata: ExportMetadata, device: Device) -> float | None:
    """The number a budget is checked against: this export measured on a live device, else the table's."""
    if device.is_live and metadata.latency_ms is not None:
        return metadata.latency_ms
    return metadata.target_latency_ms


def _measure(onnx_path: Path, device: Device | None) -> tuple[dict[str, Any], str]:
    """Batch-1 latency with the live device's backend, else ONNX Runtime on this machine (1 thread)."""
    from hwnas.profiling.backends import make_backend
    from hwnas.profiling.machine import cpu_model
    from hwnas.profiling.models import OnnxModel
    from hwnas.profiling.protocol import MeasureProtocol

    if device is not None and device.is_live:
        from hwnas.profiling.profile import device_backend

        backend = device_backend(device)
    else:
        backend = make_backend("onnxruntime", "local", {"threads": 1})
    worker = backend.open_workers(1)[0]
    try:
        stats = worker.measure(OnnxModel(onnx_path), MeasureProtocol(time_cap_s=1.5))
    finally:
        worker.close()
    info = backend.info()
    described = f"{info.runtime} {info.runtime_version}, {info.threads} thread(s), {info.target}, {cpu_model()}"
    return stats.to_dict(), described


def _rewrite_metadata(path: Path, metadata: ExportMetadata) -> None:
    from hwnas.atomic import atomic_write

    proto = onnx.load(str(path))
    del proto.metadata_props[:]
    write_metadata(proto, metadata)
    atomic_write(path, lambda tmp: onnx.save(proto, str(tmp)))


def _int8(
    fp32_path: Path,
    int8_path: Path,
    metadata: ExportMetadata,
    spec: DatasetSpec,
    checkpoint: Checkpoint | None,
    real: Split | None,
    seed: int,
    measure_latency: bool,
) -> dict[str, Any]:
    """Quantize, then compare size, accuracy (trained models) and latency with the fp32 model."""
    calibration, calibration_source = calibration_inputs(checkpoint, spec, seed)
    quantize_int8(fp32_path, int8_path, calibration)
    int8_meta = replace(metadata, latency_ms=None, latency_backend=None)
    _rewrite_metadata(int8_path, int8_meta)
    report: dict[str, Any] = {
        "file": int8_path.name,
        "method": "onnxruntime static quantization, QDQ, int8 weights per channel (7-bit range), uint8 activations",
        "calibration": calibration_source,
        "fp32_bytes": fp32_path.stat().st_size,
        "int8_bytes": int8_path.stat().st_size,
    }
    report["size_ratio"] = report["int8_bytes"] / report["fp32_bytes"]
    if real is not None:
        fp32_acc, int8_acc = (ort_accuracy(p, real) for p in (fp32_path, int8_path))
        report.update(
            fp32_accuracy=fp32_acc,
            int8_accuracy=int8_acc,
            accuracy_change=int8_acc - fp32_acc,
            accuracy_on=f"{len(real.y)} validation images",
        )
    if measure_latency:
        stats, backend_info = _measure(int8_path, None)
        report["latency"] = {"backend": backend_info, **stats}
        int8_meta = replace(int8_meta, latency_ms=stats["median_ms"], latency_backend=backend_info)
        _rewrite_metadata(int8_path, int8_meta)
    return report


def calibration_inputs(checkpoint: Checkpoint | None, spec: DatasetSpec, seed: int) -> tuple[np.ndarray, str]:
    """What int8 activation ranges are fixed from, and a description: training images for a
    trained model, random-normal inputs otherwise."""
    if checkpoint is not None:
        images = checkpoint_data(checkpoint.preprocess, spec).train.x[:TRAINED_CALIBRATION_SAMPLES]
        return images.numpy(), f"{len(images)} training images of {checkpoint.preprocess['data']}"
    generator = torch.Generator().manual_seed(seed)
    noise = torch.randn(RANDOM_CALIBRATION_SAMPLES, *spec.input_shape, generator=generator)
    return noise.numpy(), f"{RANDOM_CALIBRATION_SAMPLES} random-normal inputs (seed {seed})"


def ort_accuracy(path: Path, split: Split) -> float:
    """Top-1 accuracy (%) of an exported model run by ONNX Runtime: what the deployed file scores."""
    session = ort_session(path)
    logits = np.concatenate([run_ort(session, batch.numpy()) for batch in split.x.split(128)])
    return float(100.0 * (logits.argmax(1) == split.y.numpy()).mean())


def _file_info(path: Path) -> dict[str, Any]:
    return {"bytes": path.stat().st_size, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}


def _versions() -> dict[str, str]:
    import onnxruntime

    return {
        "hwnas_version": hwnas.__version__,
        "torch_version": torch.__version__,
        "onnx_version": onnx.__version__,
        "onnxruntime_version": onnxruntime.__version__,
    }
