"""What an exported model says about itself, stored in the ONNX file's `metadata_props`.

ONNX metadata values are strings: text fields are stored as they are (readable by any ONNX
tool, e.g. Netron), numbers, flags and lists as JSON. `read_metadata` turns them back into an
`ExportMetadata`, so what was written is what is read (pinned by a test).
"""

from __future__ import annotations

import json
import platform
from dataclasses import MISSING, asdict, dataclass, fields
from pathlib import Path
from typing import Any

import onnx

from hwnas.errors import BadInputError

FORMAT = "hwnas-export"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class ExportMetadata:
    """Identity of the network, where its weights and numbers come from, and the tool versions."""

    arch_str: str
    dataset: str
    input_shape: tuple[int, ...]  # C, H, W; the batch axis is dynamic
    num_classes: int
    opset: int
    weights: str  # "random-init" or "checkpoint"
    weights_detail: str  # seed and BN calibration, or checkpoint file, epochs and training data
    accuracy: float | None = None  # percent, or a proxy score when accuracy_is_estimate
    accuracy_source: str | None = None
    accuracy_is_estimate: bool | None = None
    latency_ms: float | None = None  # batch 1, measured on the exporting machine
    latency_backend: str | None = None  # what measured latency_ms (runtime, threads, CPU)
    target_device: str | None = None  # the device a search targeted
    target_latency_ms: float | None = None  # latency on target_device (its table or measurement)
    budget_ms: float | None = None
    hwnas_version: str = ""
    torch_version: str = ""
    onnx_version: str = ""
    onnxruntime_version: str = ""
    python_version: str = platform.python_version()
    format: str = FORMAT
    format_version: int = FORMAT_VERSION

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["input_shape"] = list(self.input_shape)
        return data

    def to_props(self) -> dict[str, str]:
        """`metadata_props` entries (fields that are None are left out)."""
        props = {}
        for key, value in self.to_dict().items():
            if value is None:
                continue
            props[key] = value if isinstance(value, str) else json.dumps(value)
        return props

    @classmethod
    def from_props(cls, props: dict[str, str], source: str = "model") -> ExportMetadata:
        if props.get("format") != FORMAT:
            raise BadInputError(f"{source} has no hwnas export metadata (was it written by `hwnas export`?)")
        values: dict[str, Any] = {}
        for field in fields(cls):
            if field.name not in props:
                continue
            text = props[field.name]
            values[field.name] = text if _is_text(field.type) else json.loads(text)
        missing = [f.name for f in fields(cls) if f.name not in values and f.default is MISSING]
        if missing:
            raise BadInputError(f"{source} metadata lacks {', '.join(missing)}")
        values["input_shape"] = tuple(values["input_shape"])
        return cls(**values)


def _is_text(annotation: Any) -> bool:
    return annotation in ("str", "str | None")


def write_metadata(proto: onnx.ModelProto, metadata: ExportMetadata) -> onnx.ModelProto:
    onnx.helper.set_model_props(proto, metadata.to_props())
    return proto


def load_onnx(path: str | Path) -> onnx.ModelProto:
    """An ONNX file, with a one-line error when it is missing or not ONNX."""
    path = Path(path)
    if not path.is_file():
        raise BadInputError(f"ONNX file {path} not found")
    try:
        proto = onnx.load(str(path))
        # Protobuf parses many non-ONNX files into an empty model without complaint.
        onnx.checker.check_model(proto)
        return proto
    except Exception as exc:  # DecodeError, ValidationError, OSError, ... for a file that is not ONNX
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BadInputError(f"{path} is not a readable ONNX model: {message}") from None


def read_metadata(model: str | Path | onnx.ModelProto) -> ExportMetadata:
    """The metadata of an exported model file (or loaded proto)."""
    proto = model if isinstance(model, onnx.ModelProto) else load_onnx(model)
    source = "model" if isinstance(model, onnx.ModelProto) else str(model)
    return ExportMetadata.from_props({p.key: p.value for p in proto.metadata_props}, source)
