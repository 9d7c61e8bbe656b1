"""The measurement protocol: first run excluded, warm-up discarded, adaptive repeats, robust stats."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hwnas.profiling.protocol import MeasureProtocol, measure_adaptive, median_rse, summarize


class FakeTimer:
    """A backend whose runs take known times: a slow first run, then draws from `times_s`."""

    def __init__(self, times_s: np.ndarray, first_s: float = 0.5) -> None:
        self.times_s = times_s
        self.first_s = first_s
        self.calls: list[tuple[int, int]] = []
        self.i = 0

    def __call__(self, number: int, count: int) -> list[float]:
        self.calls.append((number, count))
        if len(self.calls) == 1:
            return [self.first_s]
        out = [float(self.times_s[(self.i + k) % len(self.times_s)]) for k in range(count)]
        self.i += count
        return out


def test_steady_timer_stops_at_min_repeats_and_excludes_the_first_run():
    protocol = MeasureProtocol(warmup_runs=5, warmup_min_s=0.0, min_repeats=30)
    timer = FakeTimer(np.full(50, 2e-3))
    stats = measure_adaptive(timer, protocol)
    assert stats.repeats == 30 and stats.settled and not stats.noisy
    assert stats.median_ms == pytest.approx(2.0) and stats.cv == pytest.approx(0.0)
    assert stats.first_run_ms == pytest.approx(500.0) and stats.warmup_runs == 5
    assert stats.p90_ms == pytest.approx(2.0)  # the 500 ms first run is in no statistic


def test_fast_models_are_timed_in_groups_of_runs_lasting_min_sample_ms():
    protocol = MeasureProtocol(warmup_runs=3, warmup_min_s=0.0, min_sample_ms=1.0)
    timer = FakeTimer(np.full(10, 0.1e-3))
    stats = measure_adaptive(timer, protocol)
    assert stats.number == 10  # 10 runs of 0.1 ms per sample
    assert all(number == 10 for number, _ in timer.calls[1 + 3 :])


def test_noisy_timer_draws_more_samples_until_a_cap_and_is_flagged():
    rng = np.random.default_rng(0)
    noisy = 1e-3 * rng.lognormal(0.0, 0.8, size=1000)
    protocol = MeasureProtocol(warmup_runs=3, warmup_min_s=0.0, max_repeats=120, target_median_rse=1e-4)
    stats = measure_adaptive(FakeTimer(noisy), protocol)
    assert stats.repeats == 120 and not stats.settled and stats.noisy
    assert any("noisy machine" in w for w in stats.warnings)
    assert any("not settled" in w for w in stats.warnings)


def test_summarize_drops_preemption_outliers_from_mean_and_cv_but_not_from_median():
    samples = [1e-3] * 18 + [1.02e-3] * 10 + [20e-3, 25e-3]  # two runs preempted by other processes
    stats = summarize(samples, MeasureProtocol())
    assert stats.outliers == 2
    assert stats.mean_ms == pytest.approx(1.00714, rel=1e-3)
    assert stats.cv < 0.02
    assert stats.median_ms == pytest.approx(1.0)
    assert stats.p90_ms > 1.0


def test_median_rse_shrinks_with_more_samples():
    rng = np.random.default_rng(1)
    draws = rng.normal(1.0, 0.05, size=4000)
    assert median_rse(draws[:2]) == math.inf
    assert median_rse(draws[:4000]) < median_rse(draws[:100]) < median_rse(draws[:20])
    assert median_rse(draws[:4000]) == pytest.approx(1.2533 * 0.05 / math.sqrt(4000), rel=0.3)


def test_protocol_rejects_impossible_settings():
    with pytest.raises(ValueError, match="min_repeats"):
        MeasureProtocol(min_repeats=50, max_repeats=10)
