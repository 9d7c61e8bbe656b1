"""`hwnas compile`: an exported ONNX model built into a deployable TVM library for a target.

The batch axis is fixed to 1 for the build (boards run one image at a time, and MetaSchedule
tunes static shapes). Output directory: `model.so` (load it with `tvm.runtime.load_module` and
run it with `relax.VirtualMachine`), `tvm.json` (target, tuning, parity, versions) and, when
tuned, the tuning database (`tuning/`, reused by the next build that points at it). Host builds
are run and compared with ONNX Runtime; cross builds are checked to link for the board.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from hwnas.atomic import atomic_write_json
from hwnas.errors import BadInputError
from hwnas.export.metadata import load_onnx
from hwnas.export.verify import TOLERANCE, VerificationError, ort_session, run_ort
from hwnas.tvm.build import compile_module, export_library, load_onnx_module
from hwnas.tvm.targets import is_cross, make_target, target_spec

LIBRARY_NAME = "model.so"
REPORT_NAME = "tvm.json"


def static_batch(proto: onnx.ModelProto, batch: int = 1) -> onnx.ModelProto:
    """A copy of the model with its symbolic batch dimension set to `batch`."""
    fixed = onnx.ModelProto()
    fixed.CopyFrom(proto)
    initializers = {i.name for i in fixed.graph.initializer}
    for value in [*fixed.graph.input, *fixed.graph.output]:
        if value.name in initializers:
            continue
        dims = value.type.tensor_type.shape.dim
        if dims and not dims[0].dim_value:
            dims[0].ClearField("dim_param")
            dims[0].dim_value = batch
    return fixed


def compile_model(
    onnx_path: str | Path,
    target: str | dict[str, Any],
    out_dir: str | Path,
    trials: int = 0,
    database_dir: str | Path | None = None,
    threads: int = 1,
    seed: int = 0,
) -> dict[str, Any]:
    """Build (optionally tune) `onnx_path` for `target` into `out_dir`; returns the report."""
    import tvm

    if trials < 0:
        raise BadInputError(f"--trials must be >= 0, got {trials}")
    make_target(target, threads)  # a bad target is a one-line error before any work
    started = time.perf_counter()
    out = Path(out_dir)
    proto = static_batch(load_onnx(onnx_path))
    mod = load_onnx_module(proto)
    tuning: dict[str, Any] | None = None
    if trials or database_dir:
        from hwnas.tvm import tune

        spec = tune.tuning_target(target, threads)
        database = Path(database_dir) if database_dir else out / "tuning"
        database.mkdir(parents=True, exist_ok=True)
        prepared = tune.prepare(mod, spec)
        tune_started = time.perf_counter()
        if trials:
            tune.tune(prepared, spec, database, trials, seed)
        valid, total = tune.measured_records(database)
        tuning = {
            "trials": trials,
            "records_measured": valid,
            "records_total": total,
            "database": str(database),
            "tasks": len(tune.task_names(prepared, spec)),
            "tuning_seconds": time.perf_counter() - tune_started,
            "seed": seed,
        }
        executable = tune.compile_tuned(prepared, spec, database)
    else:
        spec = target_spec(target, threads)
        executable = compile_module(mod, spec)
    library = export_library(executable, out / LIBRARY_NAME, spec)
    report: dict[str, Any] = {
        "library": str(library),
        "onnx": str(onnx_path),
        "target_json": str(make_target(spec)),
        "target": spec,
        "batch": 1,
        "tuning": tuning,
        "parity": None if is_cross(spec) else host_parity(library, Path(onnx_path), proto, threads, seed),
        "tvm_version": tvm.__version__,
        "build_seconds": time.perf_counter() - started,
    }
    atomic_write_json(out / REPORT_NAME, report)
    return report


def host_parity(library: Path, onnx_path: Path, proto: onnx.ModelProto, threads: int, seed: int) -> dict[str, Any]:
    """Run the library here and compare with ONNX Runtime on a random batch-1 input."""
    from hwnas.tvm.run import LoadedModel, set_threads

    graph_input = next(iter(proto.graph.input), None)
    if graph_input is None:
        raise BadInputError(f"{onnx_path} has no input to feed")
    shape = [d.dim_value for d in graph_input.type.tensor_type.shape.dim]
    inputs = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    set_threads(threads)
    got = LoadedModel(library).run(inputs)
    expected = run_ort(ort_session(onnx_path), inputs)
    diff = float(np.abs(got - expected).max())
    if diff > TOLERANCE:
        raise VerificationError(
            f"TVM build {library} differs from ONNX Runtime by {diff:.3g} (max abs) > {TOLERANCE:g}"
        )
    return {"max_abs_diff": diff, "tolerance": TOLERANCE, "input_shape": shape, "seed": seed}
