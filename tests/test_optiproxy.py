from __future__ import annotations

import numpy as np
import pytest
from search_fakes import OPTIPROXY_FAST, SPACE, fake_problem

from hwnas.bench.suite import prefix
from hwnas.errors import BadInputError
from hwnas.search.base import SearchContext, Trial
from hwnas.search.optiproxy import OptiProxySearcher
from hwnas.search.registry import make_searcher
from hwnas.search.runner import run_search
from hwnas.search.trial_log import read_trials

# Small and quick: the tests pin behaviour, not search quality.
FAST = OPTIPROXY_FAST


def keys(trials):
    return [(t.arch_str, t.accuracy, t.latency_ms, t.feasible, t.step, t.counted) for t in trials]


def test_respects_the_query_budget_and_never_repeats(tmp_path):
    result = run_search(fake_problem(), "optiproxy", seed=0, queries=33, out_dir=tmp_path / "r", hyperparameters=FAST)
    archs = [t.arch_str for t in result.trials]
    assert len(archs) == 33 and len(set(archs)) == 33
    assert result.summary["status"] == "finished"
    assert [t.step for t in result.trials] == [0] * 10 + [s for s in range(1, 6) for _ in range(5)][:23]


def test_deterministic_under_seed(tmp_path):
    a = run_search(fake_problem(), "optiproxy", seed=1, queries=25, out_dir=tmp_path / "a", hyperparameters=FAST)
    b = run_search(fake_problem(), "optiproxy", seed=1, queries=25, out_dir=tmp_path / "b", hyperparameters=FAST)
    c = run_search(fake_problem(), "optiproxy", seed=2, queries=25, out_dir=tmp_path / "c", hyperparameters=FAST)
    assert keys(a.trials) == keys(b.trials)
    assert keys(a.trials) != keys(c.trials)


@pytest.mark.parametrize("latency_first", [False, True])
def test_first_queries_do_not_depend_on_the_query_budget(tmp_path, latency_first):
    assert OptiProxySearcher.prefix_consistent
    runs = [
        run_search(
            fake_problem(budget_ms=6.0),
            "optiproxy",
            seed=3,
            queries=q,
            out_dir=tmp_path / str(q),
            hyperparameters=FAST,
            latency_first=latency_first,
        )
        for q in (22, 30)
    ]
    short, long = runs
    assert keys(prefix(long.trials, 22)) == keys(short.trials)


def test_resume_after_interruption_gives_the_uninterrupted_trials(tmp_path):
    full = run_search(fake_problem(), "optiproxy", seed=4, queries=30, out_dir=tmp_path / "f", hyperparameters=FAST)
    with pytest.raises(KeyboardInterrupt):
        run_search(
            fake_problem(fail_after=17), "optiproxy", seed=4, queries=30, out_dir=tmp_path / "c", hyperparameters=FAST
        )
    assert len(read_trials(tmp_path / "c" / "trials.jsonl")) == 17
    resumed = run_search(fake_problem(), "optiproxy", seed=4, queries=30, out_dir=tmp_path / "c", hyperparameters=FAST)
    assert keys(resumed.trials) == keys(full.trials)


def test_latency_first_counts_only_accuracy_queries(tmp_path):
    result = run_search(
        fake_problem(budget_ms=6.0),
        "optiproxy",
        seed=5,
        queries=25,
        out_dir=tmp_path / "r",
        hyperparameters=FAST,
        latency_first=True,
    )
    counted = [t for t in result.trials if t.counted]
    assert len(counted) == 25 and all(t.feasible for t in counted)
    assert len({t.arch_str for t in result.trials}) == len(result.trials)


def test_model_steps_beat_the_random_start(tmp_path):
    # On the fake landscape (convs accurate and slow) the proxy-guided steps find feasible
    # architectures better than the random initial set's.
    result = run_search(fake_problem(), "optiproxy", seed=6, queries=40, out_dir=tmp_path / "r", hyperparameters=FAST)
    initial = [t.accuracy for t in result.trials if t.step == 0 and t.feasible]
    later = [t.accuracy for t in result.trials if t.step > 0 and t.feasible]
    assert len(later) >= 10  # enough feasible model-step trials for the medians to mean something
    assert np.median(later) > np.median(initial)
    assert max(later) > max(initial)


def _trial(number: int, step: int, feasible: bool) -> Trial:
    arch = SPACE.format(SPACE.from_choices([number % 5, (number // 5) % 5, 0, 0, 0, 0]))
    return Trial(number, arch, 80.0, 5.0 if feasible else 20.0, feasible, step)


def test_penalty_rises_while_steps_come_out_infeasible_and_relaxes_after():
    context = SearchContext(SPACE, 10.0, "cifar10")
    searcher = OptiProxySearcher(context, 0, penalty_init=2.0, penalty_growth=2.0, target_infeasible=0.2)
    searcher.tell([_trial(i, 0, False) for i in range(5)])  # the random start does not move it
    assert searcher.penalty() == 2.0
    searcher.tell([_trial(5 + i, 1, i < 3) for i in range(5)])  # 40% infeasible
    searcher.tell([_trial(10 + i, 2, i < 1) for i in range(5)])  # 80% infeasible
    assert searcher.penalty() == 8.0
    searcher.tell([_trial(15 + i, 3, True) for i in range(5)])
    assert searcher.penalty() == pytest.approx(8.0 / np.sqrt(2.0))


def test_hyperparameters_are_checked_and_recorded():
    context = SearchContext(SPACE, 8.0, "cifar10")
    defaults = OptiProxySearcher.default_hyperparameters()
    assert defaults["base_temp"] == 0.7 and defaults["min_temp"] == 0.2 and defaults["verify_ratio"] == 20
    assert defaults["lhs_lower"] == 0.9 and defaults["lhs_range"] == 0.1 and defaults["ranking_coe"] == 0.2
    searcher = make_searcher("optiproxy", context, 0, num_sample=7)
    assert searcher.config() == {**defaults, "num_sample": 7}
    with pytest.raises(BadInputError, match="no hyperparameter 'temperature'"):
        make_searcher("optiproxy", context, 0, temperature=1.0)
    with pytest.raises(BadInputError, match="one budget fraction per group"):
        OptiProxySearcher(context, 0, groups=3)


def test_local_candidates_are_unqueried_neighbours_of_the_best_feasible_trials():
    context = SearchContext(SPACE, 10.0, "cifar10")
    searcher = OptiProxySearcher(context, 0, local_top_k=2, local_radius=1)
    archs = [SPACE.from_choices([i, 0, 0, 0, 0, 0]) for i in range(5)]
    accuracy = [70.0, 90.0, 95.0, 80.0, 99.0]  # the 99 is over budget: not a parent
    feasible = [True, True, True, True, False]
    latency = [5.0 if f else 20.0 for f in feasible]
    searcher.tell([Trial(i, SPACE.format(a), accuracy[i], latency[i], feasible[i], 0) for i, a in enumerate(archs)])
    expected = {SPACE.format(n) for parent in (archs[2], archs[1]) for n in SPACE.neighbours(parent)}
    expected -= {SPACE.format(a) for a in archs}
    got = [SPACE.format(a) for a in searcher._local_candidates()]
    assert set(got) == expected
    assert OptiProxySearcher(context, 0, local_top_k=0)._local_candidates() == []  # the paper's pool


def test_local_radius_two_adds_every_unqueried_arch_two_edits_away():
    context = SearchContext(SPACE, 10.0, "cifar10")
    parent = SPACE.from_choices([1, 0, 0, 0, 0, 0])
    queried = SPACE.neighbours(parent)[0]
    searcher = OptiProxySearcher(context, 0, local_top_k=1, local_radius=2)
    searcher.tell(
        [Trial(0, SPACE.format(parent), 90.0, 5.0, True, 0), Trial(1, SPACE.format(queried), 80.0, 5.0, True, 0)]
    )
    got = [SPACE.format(a) for a in searcher._local_candidates()]
    ops = lambda s: SPACE.choices(SPACE.parse(s))[0]  # noqa: E731
    distance = {s: int(np.count_nonzero(ops(s) != ops(SPACE.format(parent)))) for s in got}
    assert len(got) == len(set(got))
    assert set(distance.values()) == {1, 2}
    # 6 edges x 4 other ops at distance 1, C(6,2) x 4 x 4 at distance 2, minus the queried trial
    assert sorted(distance.values()).count(1) == 6 * 4 - 1
    assert sorted(distance.values()).count(2) == 15 * 16


class _OpCountScorer:
    """A zero-cost stand-in: scores an architecture by its number of convolutions."""

    name = "fake-zc"

    def __init__(self) -> None:
        self.calls = 0

    def accuracy(self, arch_str: str) -> float:
        self.calls += 1
        return float(arch_str.count("conv"))


def test_warm_start_pretrains_once_on_the_zero_cost_scores(tmp_path):
    scorer = _OpCountScorer()
    context = SearchContext(SPACE, 8.0, "cifar10", {"fake-zc": scorer})
    searcher = OptiProxySearcher(context, 0, **FAST, warm_start_proxy="fake-zc", warm_start_archs=200)
    pretrained = searcher._warm_start()
    assert scorer.calls == 200 and searcher._warm_start() is pretrained  # once per run
    held_out = SPACE.sample_distinct(np.random.default_rng(2), 100)
    predicted, _ = pretrained.predict_standardized(held_out)
    assert np.corrcoef(predicted, [SPACE.format(a).count("conv") for a in held_out])[0, 1] > 0.8
    # A run with it stays deterministic and resumable like any other.
    problem = fake_problem()
    problem.scorers["fake-zc"] = scorer
    hp = {**FAST, "warm_start_proxy": "fake-zc", "warm_start_archs": 200}
    a = run_search(problem, "optiproxy", seed=0, queries=20, out_dir=tmp_path / "a", hyperparameters=hp)
    b = run_search(problem, "optiproxy", seed=0, queries=20, out_dir=tmp_path / "b", hyperparameters=hp)
    assert keys(a.trials) == keys(b.trials)
