"""int8 models: ONNX Runtime static quantization (QDQ, per-channel weights) calibrated on data.

Static quantization fixes activation scales from a calibration set (the training data for a
trained model, random-normal inputs otherwise), so inference runs integer kernels with no
per-call range computation, unlike dynamic quantization, whose ONNX Runtime kernels cover
MatMul/Conv weights only and leave activations in float.

Weights use 7 bits (`reduce_range`): ONNX Runtime's u8s8 kernels on x86 CPUs without VNNI
multiply-add pairs into a saturating int16 (VPMADDUBSW), which with full 8-bit weights overflows
and costs accuracy on some machines but not others (the same digits model lost 5.3 points under an
emulated Haswell and 0.3 on an AVX-512-VNNI host; benchmarks/export/int8_hosts.md). 7-bit weights
cannot overflow there, and an accuracy measured on one host then holds on any.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from hwnas.atomic import atomic_write
from hwnas.export.onnx_export import INPUT_NAME

CALIBRATION_BATCH = 16


def _reader(samples: np.ndarray) -> Any:
    from onnxruntime.quantization import CalibrationDataReader

    class Batches(CalibrationDataReader):
        def __init__(self) -> None:
            self._batches = iter(np.array_split(samples, max(1, len(samples) // CALIBRATION_BATCH)))

        def get_next(self) -> dict[str, np.ndarray] | None:
            batch = next(self._batches, None)
            return None if batch is None else {INPUT_NAME: np.ascontiguousarray(batch, dtype=np.float32)}

    return Batches()


def quantize_int8(
    fp32_path: str | Path, int8_path: str | Path, calibration: np.ndarray, reduce_range: bool = True
) -> Path:
    """Write the statically quantized (int8 QDQ) model of `fp32_path`, atomically."""

    def write(tmp: Path) -> None:
        # The quantizer logs a warning for the BatchNorm after the last cell (1-D weights, no channel
        # axis to quantize per channel): it keeps that op in float, which is right.
        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.ERROR)
        try:
            _quantize(Path(fp32_path), tmp, calibration, reduce_range)
        finally:
            root.setLevel(level)

    return atomic_write(int8_path, write)


def _quantize(fp32_path: Path, out: Path, calibration: np.ndarray, reduce_range: bool) -> None:
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    with tempfile.TemporaryDirectory() as work:
        prepared = Path(work) / "prepared.onnx"
        quant_pre_process(str(fp32_path), str(prepared), skip_symbolic_shape=True)
        quantize_static(
            str(prepared),
            str(out),
            _reader(calibration),
            quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            per_channel=True,
            reduce_range=reduce_range,
        )
