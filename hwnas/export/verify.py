"""Verification of an exported model: ONNX Runtime against PyTorch on the same inputs.

Random inputs at two batch sizes (so the dynamic batch axis is exercised), plus real inputs
when there are any (a trained model's validation data). Fails above `tolerance` max abs diff.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hwnas.errors import HwnasError

TOLERANCE = 1e-4
RANDOM_BATCHES = (1, 8)


class VerificationError(HwnasError):
    """ONNX Runtime and PyTorch disagree beyond the tolerance."""


@dataclass(frozen=True)
class Verification:
    max_abs_diff: float
    tolerance: float
    passed: bool
    random_batches: tuple[int, ...]
    real_inputs: int  # real samples compared (0 when there were none)
    argmax_agreement: float  # fraction of samples whose predicted class is the same
    seed: int

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["random_batches"] = list(self.random_batches)
        return data


def ort_session(path: str | Path, threads: int = 1) -> Any:
    """A sequential CPU session with all graph optimisations (the deployment setting)."""
    import onnxruntime as ort

    from hwnas.profiling.backends.ort import session_options

    return ort.InferenceSession(str(path), session_options(threads, "all"), providers=["CPUExecutionProvider"])


def run_ort(session: Any, inputs: np.ndarray) -> np.ndarray:
    from hwnas.profiling.backends.ort import input_feed

    return session.run(None, input_feed(session, inputs))[0]


def verify_onnx(
    model: torch.nn.Module,
    onnx_path: str | Path,
    input_shape: tuple[int, ...],
    real_inputs: torch.Tensor | None = None,
    tolerance: float = TOLERANCE,
    seed: int = 0,
    raise_on_failure: bool = True,
) -> Verification:
    """Compare ONNX Runtime and PyTorch outputs; raise `VerificationError` above `tolerance`."""
    generator = torch.Generator().manual_seed(seed)
    batches = [torch.randn(n, *input_shape, generator=generator) for n in RANDOM_BATCHES]
    if real_inputs is not None and len(real_inputs):
        batches.append(real_inputs.float())
    session = ort_session(onnx_path)
    model = model.eval()
    worst, agree, total = 0.0, 0, 0
    for batch in batches:
        with torch.no_grad():
            expected = model(batch).numpy()
        got = run_ort(session, batch.numpy())
        if got.shape != expected.shape:
            raise VerificationError(f"{onnx_path}: ONNX output shape {got.shape} != PyTorch {expected.shape}")
        worst = max(worst, float(np.abs(got - expected).max()))
        agree += int((got.argmax(1) == expected.argmax(1)).sum())
        total += len(batch)
    result = Verification(
        max_abs_diff=worst,
        tolerance=tolerance,
        passed=worst <= tolerance,
        random_batches=RANDOM_BATCHES,
        real_inputs=0 if real_inputs is None else len(real_inputs),
        argmax_agreement=agree / total,
        seed=seed,
    )
    if raise_on_failure and not result.passed:
        raise VerificationError(
            f"{onnx_path}: ONNX Runtime and PyTorch differ by {worst:.3g} (max abs), above the tolerance {tolerance:g}"
        )
    return result
