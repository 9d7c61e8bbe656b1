"""ONNX -> Relax IRModule -> compiled executable -> exported shared library."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import onnx

from hwnas.errors import BadInputError
from hwnas.tvm.targets import cross_compiler, make_target, target_spec


def load_onnx_module(model: str | Path | onnx.ModelProto) -> Any:
    """The Relax IRModule of an ONNX model, weights bound as constants, ready for inference."""
    from tvm import relax
    from tvm.relax.frontend.onnx import from_onnx

    proto = model if isinstance(model, onnx.ModelProto) else _read_onnx(Path(model))
    mod = from_onnx(proto, keep_params_in_input=False)
    return relax.transform.DecomposeOpsForInference()(mod)


def _read_onnx(path: Path) -> onnx.ModelProto:
    if not path.is_file():
        raise BadInputError(f"ONNX file {path} not found")
    try:
        return onnx.load(str(path))
    except Exception as exc:  # onnx raises DecodeError, OSError, ... for broken files
        raise BadInputError(f"{path} is not a readable ONNX model: {exc}") from None


def compile_module(mod: Any, target: str | dict[str, Any], relax_pipeline: Any = "default") -> Any:
    """Compile a Relax module for `target` (a tuned flow passes its own `relax_pipeline`)."""
    import tvm

    return tvm.compile(mod, make_target(target), relax_pipeline=relax_pipeline)


def export_library(executable: Any, path: str | Path, target: str | dict[str, Any]) -> Path:
    """Write the executable as a shared library, linked by the cross compiler for ARM targets.

    Written beside `path` under a temporary name with the same suffix (TVM picks the output
    format from it), then renamed: a reader never sees half a library.
    """
    from tvm.support import cc

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    compiler = cross_compiler(target_spec(target))
    kwargs = {"fcompile": cc.cross_compiler(compiler)} if compiler else {}
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")
    try:
        executable.export_library(str(tmp), **kwargs)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def build_onnx(model: str | Path | onnx.ModelProto, target: str | dict[str, Any], out: str | Path) -> Path:
    """ONNX model in, target in, shared library out (shared by `hwnas compile` and profiling)."""
    return export_library(compile_module(load_onnx_module(model), target), out, target)
