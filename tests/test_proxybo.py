from __future__ import annotations

import zlib

import numpy as np
import pytest
from search_fakes import SPACE, FakeAccuracy, fake_problem

from hwnas.errors import DataError
from hwnas.search.base import SearchContext
from hwnas.search.proxybo import ProxyBOSearcher, influences, order_preserving_share
from hwnas.search.registry import SEARCHERS, make_searcher
from hwnas.search.runner import run_search
from hwnas.search.trial_log import read_trials

# Small settings keep a 40-query run near a second.
FAST = {"proxies": "good,noise", "n_candidates": 120, "n_trees": 5, "k_folds": 3}


class FakeProxy:
    """The fake accuracy plus noise of a chosen size (0 = a perfect proxy)."""

    def __init__(self, name: str, noise: float) -> None:
        self.name = name
        self.truth = FakeAccuracy()
        self.noise = noise
        self.calls = 0

    def accuracy(self, arch) -> float:
        self.calls += 1
        key = arch if isinstance(arch, str) else SPACE.format(arch)
        return self.truth.accuracy(key) + self.noise * (zlib.crc32(key.encode()) % 1000) / 100


def problem(budget_ms: float = 8.0, fail_after: int | None = None):
    p = fake_problem(budget_ms, fail_after=fail_after)
    p.scorers = {"good": FakeProxy("good", 0.2), "noise": FakeProxy("noise", 50.0)}
    return p


def keys(trials):
    return [(t.arch_str, t.accuracy, t.step) for t in trials]


def test_registered_and_records_every_hyperparameter():
    assert "proxybo" in SEARCHERS
    context = SearchContext(SPACE, 8.0, "cifar10", problem().scorers)
    searcher = make_searcher("proxybo", context, 0, **FAST)
    config = searcher.config()
    assert config["tau0"] == 0.05 and config["proxies"] == "good,noise"
    assert config["proxy_sources"] == {"good": "good", "noise": "noise"}


def test_spends_the_budget_without_repeats_and_is_deterministic(tmp_path):
    a = run_search(problem(), "proxybo", 3, 40, tmp_path / "a", FAST)
    b = run_search(problem(), "proxybo", 3, 40, tmp_path / "b", FAST)
    c = run_search(problem(), "proxybo", 4, 40, tmp_path / "c", FAST)
    archs = [t.arch_str for t in a.trials]
    assert len(archs) == 40 and len(set(archs)) == 40 and a.summary["queries_used"] == 40
    assert keys(a.trials) == keys(b.trials) and keys(a.trials) != keys(c.trials)


def test_resume_replays_to_the_uninterrupted_run(tmp_path):
    full = run_search(problem(), "proxybo", 7, 30, tmp_path / "full", FAST)
    with pytest.raises(KeyboardInterrupt):
        run_search(problem(fail_after=17), "proxybo", 7, 30, tmp_path / "cut", FAST)
    assert len(read_trials(tmp_path / "cut" / "trials.jsonl")) == 17
    resumed = run_search(problem(), "proxybo", 7, 30, tmp_path / "cut", FAST)
    assert keys(resumed.trials) == keys(full.trials)


def test_first_queries_do_not_depend_on_the_query_budget(tmp_path):
    short = run_search(problem(), "proxybo", 5, 15, tmp_path / "s", FAST)
    long = run_search(problem(), "proxybo", 5, 30, tmp_path / "l", FAST)
    assert keys(long.trials[:15]) == keys(short.trials)


def test_a_good_proxy_gains_influence_and_the_budget_is_respected(tmp_path):
    context = SearchContext(SPACE, 8.0, "cifar10", problem().scorers)
    searcher = ProxyBOSearcher(context, 0, **FAST)
    run = run_search(problem(), "proxybo", 0, 40, tmp_path / "r", FAST)
    searcher.tell(run.trials)
    searcher.ask(1)
    weights = searcher.last_influence
    assert weights["good"] > 0.5 > weights["noise"]
    assert sum(weights.values()) == pytest.approx(1)
    late = run.trials[20:]
    assert sum(t.feasible for t in late) >= 0.8 * len(late)  # the latency model keeps proposals within budget
    rea = run_search(problem(), "rea", 0, 40, tmp_path / "rea")
    assert run.summary["best"]["accuracy"] >= rea.summary["best"]["accuracy"]


def test_generalization_measure_and_influence():
    truth = np.arange(6.0)
    assert order_preserving_share(truth * 3, truth) == 1.0
    assert order_preserving_share(-truth, truth) == 0.0
    assert order_preserving_share(np.array([0.0]), np.array([1.0])) == 0.5
    w = influences(np.array([0.9, 0.5]), tau0=0.05, iteration=1)
    assert w.sum() == pytest.approx(1) and w[0] > 0.99
    # temperature tau0 / (1 + log T) sharpens with the iteration count
    early, late = influences(np.array([0.6, 0.55]), 0.5, 1), influences(np.array([0.6, 0.55]), 0.5, 200)
    assert late[0] > early[0] > 0.5


def test_without_scorers_or_table_it_says_how_to_get_one(monkeypatch, tmp_path):
    import hwnas.zc.source as source

    monkeypatch.setattr(source, "zero_cost_dirs", lambda: [tmp_path])
    with pytest.raises(DataError, match="hwnas proxies compute"):
        ProxyBOSearcher(SearchContext(SPACE, 8.0, "cifar10"), 0)
