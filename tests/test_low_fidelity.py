from __future__ import annotations

import pytest

from hwnas.search.base import Trial
from hwnas.search.low_fidelity import (
    FULL_EPOCHS,
    LOW_EPOCHS,
    FidelityPoint,
    affordable,
    fidelity_sources,
    full_fidelity_points,
    low_fidelity_points,
)
from hwnas.space.nb201 import NB201Space


class FullTraining:
    """Full accuracy and cost per arch string (a stand-in for the 200-epoch table)."""

    def __init__(self, accuracy: dict[str, float], cost: dict[str, float]) -> None:
        self._accuracy, self._cost = accuracy, cost

    def accuracy(self, arch: str) -> float:
        return self._accuracy[arch]

    def cost_s(self, arch: str) -> float:
        return self._cost[arch]


def trial(i: int, accuracy: float | None, cost_s: float, feasible: bool = True, counted: bool = True) -> Trial:
    return Trial(i, f"a{i}", accuracy, 1.0, feasible, i, counted, extra={"cost_s": cost_s})


TRIALS = [
    trial(0, 60.0, 10.0),
    trial(1, 70.0, 20.0),
    trial(2, 90.0, 30.0, feasible=False),  # best low-fidelity accuracy, but over budget
    trial(3, None, 0.0, feasible=False, counted=False),  # latency-only check: free, not a query
    trial(4, 65.0, 40.0),
]
FULL = FullTraining(
    {"a0": 88.0, "a1": 85.0, "a2": 95.0, "a4": 86.0}, {"a0": 100.0, "a1": 200.0, "a2": 300.0, "a4": 400.0}
)


def test_full_fidelity_points_charge_every_query():
    points = full_fidelity_points(TRIALS, [2, 4])
    assert points[0] == FidelityPoint(2, 30.0, 70.0, "a1")
    assert points[1] == FidelityPoint(4, 100.0, 70.0, "a1")


def test_low_fidelity_points_retrain_the_top_k_feasible_and_keep_the_fully_trained_best():
    top2 = low_fidelity_points(TRIALS, FULL, 2, [4])[0]
    # the top 2 feasible by low fidelity are a1 (70) and a4 (65); a4 is better fully trained
    assert top2 == FidelityPoint(4, 100.0 + 200.0 + 400.0, 86.0, "a4")
    top3 = low_fidelity_points(TRIALS, FULL, 3, [4])[0]
    assert top3.arch_str == "a0" and top3.cost_s == 100.0 + 700.0
    nothing = low_fidelity_points(TRIALS[2:4], FULL, 2, [2])[0]
    assert nothing.accuracy is None and nothing.cost_s == 30.0


def test_affordable_takes_the_longest_search_that_fits():
    points = [
        FidelityPoint(10, 50.0, 80.0, "x"),
        FidelityPoint(20, 90.0, 79.0, "y"),
        FidelityPoint(30, 200.0, 90.0, "z"),
    ]
    assert affordable(points, 100.0).queries == 20  # not the more accurate first checkpoint
    assert affordable(points, 10.0) is None


@pytest.mark.needs_data
def test_fidelity_sources_cost_training_seconds(catalog):
    space = NB201Space()
    low, full = fidelity_sources(catalog, space)
    arch = catalog.get("nb201").frame["arch_str"].iloc[0]
    seconds_12 = catalog.get("nb201").value(arch, "c10valid_train_seconds_12")
    assert low.is_estimate and not full.is_estimate
    assert low.cost_s(arch) == pytest.approx(seconds_12)
    assert full.cost_s(arch) == pytest.approx(seconds_12 * FULL_EPOCHS / LOW_EPOCHS)
    assert low.accuracy(arch) == catalog.get("nb201").value(arch, "c10valid_val_12")
