"""A table-free search problem for runner and searcher tests (also run in subprocesses)."""

from __future__ import annotations

import time
from collections.abc import Hashable

from hwnas.search.problem import SearchProblem
from hwnas.space.nb201 import NB201Space

SPACE = NB201Space()
# Per-op contributions: convolutions are accurate and slow, `none` is fast and useless.
ACC_GAIN = {"none": 0.0, "skip_connect": 1.0, "nor_conv_1x1": 3.0, "nor_conv_3x3": 4.0, "avg_pool_3x3": 1.5}
LAT_COST = {"none": 0.0, "skip_connect": 0.1, "nor_conv_1x1": 1.0, "nor_conv_3x3": 2.5, "avg_pool_3x3": 0.5}


class FakeAccuracy:
    name = "fake:accuracy"
    is_estimate = False
    unit = "%"

    def __init__(self, fail_after: int | None = None, delay_s: float = 0.0) -> None:
        self.calls = 0
        self.fail_after = fail_after
        self.delay_s = delay_s

    def accuracy(self, arch: Hashable) -> float:
        if self.fail_after is not None and self.calls >= self.fail_after:
            raise KeyboardInterrupt
        self.calls += 1
        if self.delay_s:
            time.sleep(self.delay_s)
        a = SPACE.parse(arch) if isinstance(arch, str) else arch
        # Position-dependent weights break ties so the optimum is unique.
        return 60.0 + sum(ACC_GAIN[op] * (1.0 + 0.07 * k) for k, op in enumerate(a.ops))


class FakeLatency:
    name = "fake:latency"

    def __init__(self) -> None:
        self.calls = 0

    def latency_ms(self, arch: Hashable) -> float:
        self.calls += 1
        a = SPACE.parse(arch) if isinstance(arch, str) else arch
        return 1.0 + sum(LAT_COST[op] * (1.0 + 0.05 * k) for k, op in enumerate(a.ops))


def fake_problem(budget_ms: float = 8.0, fail_after: int | None = None, delay_s: float = 0.0) -> SearchProblem:
    return SearchProblem(
        space=SPACE,
        accuracy=FakeAccuracy(fail_after, delay_s),
        latency=FakeLatency(),
        budget_ms=budget_ms,
        dataset="cifar10",
        device_name="fake",
    )


# OptiProxy settings small enough for a 30-query run on the fake problem in seconds.
OPTIPROXY_FAST = {
    "gcn_hidden": 32,
    "linear_size": 32,
    "batch_size": 0,
    "lr": 3e-3,
    "model_epochs": 30,
    "search_epochs": 40,
    "num_sample_init": 10,
    "num_sample": 5,
}
