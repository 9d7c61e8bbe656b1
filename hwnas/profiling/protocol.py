"""How one latency is measured: warm-up, adaptive repeats, robust statistics.

This module needs only numpy and the standard library on purpose: the board-side runner in
`profiling/` loads it on boards that have onnxruntime and numpy but not hwnas.

Protocol (documented in the README): the very first run is timed on its own and excluded
(lazy initialisation, cold caches); warm-up runs follow and are discarded; each sample is the
mean of `number` back-to-back runs, `number` chosen so a sample lasts at least `min_sample_ms`
(timer and Python overhead stay small against it); samples are drawn in blocks until the median's
relative standard error falls to `target_median_rse`, or `max_repeats` or `time_cap_s` is reached.
The reported latency is the median sample. Samples beyond `outlier_iqr_k` interquartile ranges
of the quartiles (preemption by other processes) are counted and left out of the mean and the CV;
the median, p90 and IQR use every sample. A measurement whose CV exceeds
`noisy_cv`, or whose median never settled, is flagged `noisy`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

# (number of runs per sample, samples wanted) -> seconds per run, one value per sample
SampleBlock = Callable[[int, int], list[float]]

Z_95 = 1.96


@dataclass(frozen=True)
class MeasureProtocol:
    """Settings of the adaptive measurement; recorded with every table."""

    warmup_runs: int = 10
    warmup_min_s: float = 0.1
    min_sample_ms: float = 1.0
    min_repeats: int = 30
    max_repeats: int = 400
    block: int = 10
    target_median_rse: float = 0.01
    time_cap_s: float = 3.0
    outlier_iqr_k: float = 1.5
    noisy_cv: float = 0.10

    def __post_init__(self) -> None:
        if self.min_repeats < 3 or self.max_repeats < self.min_repeats or self.block < 1:
            raise ValueError("need 3 <= min_repeats <= max_repeats and block >= 1")
        if not (0 < self.time_cap_s < math.inf and 0 < self.target_median_rse < math.inf):
            raise ValueError(
                f"time cap ({self.time_cap_s} s) and target RSE ({self.target_median_rse}) must be positive and finite"
            )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class LatencyStats:
    """Batch-1 latency of one network after warm-up, in milliseconds."""

    median_ms: float
    mean_ms: float
    p90_ms: float
    iqr_ms: float
    cv: float  # std / mean of the samples left after outlier removal
    repeats: int  # samples drawn
    number: int  # runs averaged into each sample
    warmup_runs: int
    first_run_ms: float
    outliers: int
    median_rse: float  # relative standard error of the median (order-statistic estimate)
    settled: bool  # median_rse reached the target before a cap
    noisy: bool
    duration_s: float
    warnings: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["warnings"] = list(self.warnings)
        return data


def timed_block(call: Callable[[], object]) -> SampleBlock:
    """A `SampleBlock` that times `call()` on this host with `time.perf_counter`."""

    def sample_block(number: int, count: int) -> list[float]:
        out = []
        for _ in range(count):
            start = time.perf_counter()
            for _ in range(number):
                call()
            out.append((time.perf_counter() - start) / number)
        return out

    return sample_block


def median_rse(samples: np.ndarray) -> float:
    """Relative standard error of the median from its distribution-free 95% interval.

    The interval between order statistics n/2 -+ 1.96 sqrt(n)/2 covers the median with ~95%
    probability whatever the timing distribution; half its width over 1.96 is a standard error.
    """
    x = np.sort(np.asarray(samples, dtype=float))
    n = len(x)
    med = float(np.median(x))
    if n < 3 or med <= 0:
        return math.inf
    half = Z_95 * math.sqrt(n) / 2
    lo = max(0, math.floor(n / 2 - half) - 1)
    hi = min(n - 1, math.ceil(n / 2 + half) - 1)
    return float((x[hi] - x[lo]) / (2 * Z_95 * med))


def summarize(
    samples_s: list[float] | np.ndarray,
    protocol: MeasureProtocol,
    *,
    number: int = 1,
    warmup_runs: int = 0,
    first_run_s: float = math.nan,
    duration_s: float = 0.0,
) -> LatencyStats:
    """Statistics of per-run times (seconds) drawn under `protocol`."""
    ms = np.asarray(samples_s, dtype=float) * 1e3
    if ms.size == 0:
        raise ValueError("no samples to summarize")
    q1, median, q3, p90 = np.percentile(ms, [25, 50, 75, 90])
    iqr = q3 - q1
    k = protocol.outlier_iqr_k
    keep = (ms >= q1 - k * iqr) & (ms <= q3 + k * iqr)
    kept = ms[keep]
    mean = float(kept.mean())
    cv = float(kept.std(ddof=1) / mean) if kept.size > 1 and mean > 0 else 0.0
    rse = median_rse(ms)
    settled = rse <= protocol.target_median_rse
    warnings = []
    if cv > protocol.noisy_cv:
        warnings.append(f"noisy machine: CV {cv:.1%} above {protocol.noisy_cv:.0%}")
    if not settled:
        warnings.append(f"median not settled: relative standard error {rse:.2%} after {ms.size} samples")
    return LatencyStats(
        median_ms=float(median),
        mean_ms=mean,
        p90_ms=float(p90),
        iqr_ms=float(iqr),
        cv=cv,
        repeats=int(ms.size),
        number=int(number),
        warmup_runs=int(warmup_runs),
        first_run_ms=float(first_run_s * 1e3),
        outliers=int((~keep).sum()),
        median_rse=rse,
        settled=bool(settled),
        noisy=bool(warnings),
        duration_s=float(duration_s),
        warnings=tuple(warnings),
    )


def measure_adaptive(sample_block: SampleBlock, protocol: MeasureProtocol) -> LatencyStats:
    """Run the protocol against a backend's `sample_block(number, count)`."""
    start = time.perf_counter()
    first_run_s = sample_block(1, 1)[0]
    warm: list[float] = []
    while len(warm) < protocol.warmup_runs or (
        time.perf_counter() - start < protocol.warmup_min_s and len(warm) < protocol.max_repeats
    ):
        warm.extend(sample_block(1, 1))
    per_run_s = float(np.median(warm))
    number = max(1, math.ceil(protocol.min_sample_ms / 1e3 / max(per_run_s, 1e-9)))
    samples: list[float] = []
    while True:
        want = min(protocol.block, protocol.max_repeats - len(samples))
        samples.extend(sample_block(number, max(want, protocol.min_repeats - len(samples))))
        if len(samples) < protocol.min_repeats:
            continue
        if (
            median_rse(np.asarray(samples)) <= protocol.target_median_rse
            or len(samples) >= protocol.max_repeats
            or time.perf_counter() - start >= protocol.time_cap_s
        ):
            break
    return summarize(
        samples,
        protocol,
        number=number,
        warmup_runs=len(warm),
        first_run_s=first_run_s,
        duration_s=time.perf_counter() - start,
    )
