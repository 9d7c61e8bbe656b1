"""TVM targets in the dict form TVM 0.27 requires, named presets, and the cross linker they need.

TVM 0.27 rejects CLI strings such as `llvm -mcpu=native`; targets are dicts (or their JSON).
"""

from __future__ import annotations

import json
import platform
import shutil
from typing import Any

from hwnas.errors import BadInputError, DeviceError

# Raspberry Pi 4 Model B: BCM2711, 4x Cortex-A72, 64-bit Raspberry Pi OS / Debian arm64.
RASPI4: dict[str, Any] = {
    "kind": "llvm",
    "mtriple": "aarch64-linux-gnu",
    "mcpu": "cortex-a72",
    "mattr": ["+neon"],
    "num-cores": 4,
}
PRESETS: dict[str, dict[str, Any]] = {
    "raspi4": RASPI4,
    "aarch64": {"kind": "llvm", "mtriple": "aarch64-linux-gnu"},
}


def host_target(threads: int | None = None) -> dict[str, Any]:
    """This machine's CPU as an LLVM target (what `-mcpu=native` used to mean)."""
    from tvm.target import codegen

    spec: dict[str, Any] = {"kind": "llvm", "mcpu": codegen.llvm_get_system_cpu()}
    if threads:
        spec["num-cores"] = int(threads)
    return spec


def target_spec(target: str | dict[str, Any], threads: int | None = None) -> dict[str, Any]:
    """A target dict from a preset name (`native`, `raspi4`, `aarch64`), `llvm`, JSON or a dict."""
    if isinstance(target, dict):
        spec = dict(target)
    elif target in ("native", "host"):
        return host_target(threads)
    elif target in PRESETS:
        spec = dict(PRESETS[target])
    elif target.strip().startswith("{"):
        try:
            spec = json.loads(target)
        except json.JSONDecodeError as exc:
            raise BadInputError(f"target {target!r} is not valid JSON: {exc.msg}") from None
    elif " " not in target.strip():
        spec = {"kind": target.strip()}
    else:
        raise BadInputError(
            f"target {target!r} is a CLI string, which TVM 0.27 no longer accepts; use a preset "
            f"({', '.join(['native', *PRESETS])}) or the dict/JSON form, e.g. "
            '{"kind": "llvm", "mtriple": "aarch64-linux-gnu", "mcpu": "cortex-a72"}'
        )
    if "kind" not in spec:
        raise BadInputError(f"target {spec} has no 'kind' (e.g. 'llvm')")
    return spec


def make_target(target: str | dict[str, Any], threads: int | None = None) -> Any:
    """A `tvm.target.Target`, with TVM's own complaint turned into a one-line error."""
    import tvm

    spec = target_spec(target, threads)
    try:
        return tvm.target.Target(spec)
    except (ValueError, TypeError, RuntimeError) as exc:  # TVM 0.27 has no tvm.error.TVMError
        raise BadInputError(f"TVM rejects target {json.dumps(spec)}: {str(exc).splitlines()[0]}") from None


def is_cross(spec: dict[str, Any]) -> bool:
    """True when the target's triple names another CPU architecture than this machine's."""
    triple = str(spec.get("mtriple", ""))
    return bool(triple) and triple.split("-")[0] != platform.machine()


def cross_compiler(spec: dict[str, Any]) -> str | None:
    """The `<triple>-gcc` that links libraries for a cross target, `None` for the host.

    Raises `DeviceError` with the install command when the cross linker is missing.
    """
    if not is_cross(spec):
        return None
    triple = str(spec["mtriple"])
    name = f"{triple}-gcc"
    if shutil.which(name) is None:
        package = f"gcc-{triple}"
        raise DeviceError(f"cross linker {name} not found; on Debian/Ubuntu: apt-get install -y {package}")
    return name
