from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from search_fakes import fake_problem

from hwnas.errors import BadInputError, RunError
from hwnas.search.registry import SEARCHERS, default_hyperparameters, parse_params
from hwnas.search.runner import load_run, run_search
from hwnas.search.trial_log import read_trials

BASELINES = ("random", "rea", "local")


def trial_keys(trials):
    return [(t.arch_str, t.accuracy, t.latency_ms, t.feasible, t.step, t.counted) for t in trials]


@pytest.mark.parametrize("name", BASELINES)
def test_baselines_spend_exactly_the_budget_without_repeats(tmp_path, name):
    result = run_search(fake_problem(), name, seed=3, queries=80, out_dir=tmp_path / "run")
    archs = [t.arch_str for t in result.trials]
    assert len(archs) == 80 and len(set(archs)) == 80
    assert all(t.counted for t in result.trials)
    assert result.summary["status"] == "finished" and result.summary["queries_used"] == 80
    assert [t.number for t in result.trials] == list(range(80))
    assert trial_keys(read_trials(tmp_path / "run" / "trials.jsonl")) == trial_keys(result.trials)


@pytest.mark.parametrize("name", BASELINES)
def test_same_seed_same_trials_other_seed_other_trials(tmp_path, name):
    a = run_search(fake_problem(), name, seed=1, queries=40, out_dir=tmp_path / "a")
    b = run_search(fake_problem(), name, seed=1, queries=40, out_dir=tmp_path / "b")
    c = run_search(fake_problem(), name, seed=2, queries=40, out_dir=tmp_path / "c")
    assert trial_keys(a.trials) == trial_keys(b.trials)
    assert trial_keys(a.trials) != trial_keys(c.trials)


@pytest.mark.parametrize("name", BASELINES)
def test_first_queries_do_not_depend_on_the_query_budget(tmp_path, name):
    # benchmarks derive 100-query results from 200-query runs on this property
    short = run_search(fake_problem(), name, seed=5, queries=50, out_dir=tmp_path / "short")
    long = run_search(fake_problem(), name, seed=5, queries=120, out_dir=tmp_path / "long")
    assert trial_keys(long.trials[:50]) == trial_keys(short.trials)


@pytest.mark.parametrize("name", BASELINES)
def test_resume_after_interruption_gives_the_uninterrupted_trials(tmp_path, name):
    full = run_search(fake_problem(), name, seed=7, queries=90, out_dir=tmp_path / "full")
    out = tmp_path / "cut"
    with pytest.raises(KeyboardInterrupt):
        run_search(fake_problem(fail_after=37), name, seed=7, queries=90, out_dir=out)
    assert len(read_trials(out / "trials.jsonl")) == 37
    assert json.loads((out / "summary.json").read_text())["status"] == "interrupted"
    problem = fake_problem()
    resumed = run_search(problem, name, seed=7, queries=90, out_dir=out)
    assert trial_keys(resumed.trials) == trial_keys(full.trials)
    assert resumed.replayed == 37 and problem.accuracy.calls == 90 - 37  # logged trials are not re-queried
    assert resumed.summary["best"] == full.summary["best"]


def test_rerunning_a_finished_run_evaluates_nothing(tmp_path):
    run_search(fake_problem(), "rea", seed=0, queries=30, out_dir=tmp_path / "r")
    problem = fake_problem()
    again = run_search(problem, "rea", seed=0, queries=30, out_dir=tmp_path / "r")
    assert len(again.trials) == 30 and problem.accuracy.calls == 0 and problem.latency.calls == 0


_CHILD = """
import sys
from search_fakes import fake_problem
from hwnas.search.runner import run_search
run_search(fake_problem(delay_s=0.02), sys.argv[1], seed=11, queries=60, out_dir=sys.argv[2])
"""


@pytest.mark.parametrize("name", ["rea", "local"])
def test_resume_after_sigkill_gives_the_uninterrupted_trials(tmp_path, name):
    out = tmp_path / "killed"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")])}
    child = subprocess.Popen([sys.executable, "-c", _CHILD, name, str(out)], env=env)
    log = out / "trials.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not log.is_file() or log.read_bytes().count(b"\n") < 15):
        time.sleep(0.02)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    killed_at = len(read_trials(log))
    assert 15 <= killed_at < 60
    resumed = run_search(fake_problem(), name, seed=11, queries=60, out_dir=out)
    full = run_search(fake_problem(), name, seed=11, queries=60, out_dir=tmp_path / "full")
    assert trial_keys(resumed.trials) == trial_keys(full.trials)


def test_torn_last_line_is_reported_then_repaired(tmp_path):
    out = tmp_path / "r"
    with pytest.raises(KeyboardInterrupt):
        run_search(fake_problem(fail_after=20), "rea", seed=2, queries=50, out_dir=out)
    with open(out / "trials.jsonl", "ab") as handle:
        handle.write(b'{"number":20,"arch_str":"|nor_co')
    with pytest.raises(RunError, match=r"line 21 is incomplete.*--repair"):
        run_search(fake_problem(), "rea", seed=2, queries=50, out_dir=out)
    with pytest.raises(RunError, match="line 21"):
        load_run(out)
    repaired = run_search(fake_problem(), "rea", seed=2, queries=50, out_dir=out, repair=True)
    full = run_search(fake_problem(), "rea", seed=2, queries=50, out_dir=tmp_path / "full")
    assert trial_keys(repaired.trials) == trial_keys(full.trials)
    assert b"|nor_co" in (out / "trials.jsonl.corrupt").read_bytes()


def test_damaged_line_inside_the_log_is_never_repaired(tmp_path):
    out = tmp_path / "r"
    run_search(fake_problem(), "random", seed=2, queries=10, out_dir=out)
    lines = (out / "trials.jsonl").read_text().splitlines(keepends=True)
    lines[3] = "garbage\n"
    (out / "trials.jsonl").write_text("".join(lines))
    with pytest.raises(RunError, match="line 4 is not a trial"):
        run_search(fake_problem(), "random", seed=2, queries=10, out_dir=out, repair=True)


def test_a_different_config_names_the_differing_key(tmp_path):
    run_search(fake_problem(), "rea", seed=0, queries=20, out_dir=tmp_path / "r")
    with pytest.raises(RunError, match=r"hyperparameters.population_size is 20 there and 10 now"):
        run_search(
            fake_problem(), "rea", seed=0, queries=20, out_dir=tmp_path / "r", hyperparameters={"population_size": 10}
        )
    with pytest.raises(RunError, match=r"problem.budget_ms is 8.0 there and 9.0 now"):
        run_search(fake_problem(budget_ms=9.0), "rea", seed=0, queries=20, out_dir=tmp_path / "r")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(RunError, match="not a run directory"):
        run_search(fake_problem(), "rea", seed=0, queries=20, out_dir=tmp_path / "other")


def test_replay_that_diverges_continues_from_history_keeping_every_logged_line(tmp_path):
    out = tmp_path / "r"
    with pytest.raises(KeyboardInterrupt):
        run_search(fake_problem(fail_after=10), "rea", seed=4, queries=30, out_dir=out)
    lines = (out / "trials.jsonl").read_text().splitlines(keepends=True)
    first = json.loads(lines[5])
    first["arch_str"] = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
    lines[5] = json.dumps(first) + "\n"
    (out / "trials.jsonl").write_text("".join(lines))
    logged = "".join(lines).encode()
    result = run_search(fake_problem(), "rea", seed=4, queries=30, out_dir=out)
    assert (out / "trials.jsonl").read_bytes().startswith(logged)
    assert result.continued["trial"] == 5 and "in the log but the searcher now proposes" in result.continued["reason"]
    assert "same library versions and machine" in result.continued["cause"]
    assert sum(t.counted for t in result.trials) == 30
    assert len({t.arch_str for t in result.trials}) == len(result.trials)
    assert json.loads((out / "summary.json").read_text())["continued_from_history"]["trial"] == 5


@pytest.mark.parametrize("name", BASELINES)
def test_latency_first_spends_queries_only_on_feasible_candidates(tmp_path, name):
    problem = fake_problem(budget_ms=6.0)
    result = run_search(problem, name, seed=0, queries=40, out_dir=tmp_path / "r", latency_first=True)
    counted = [t for t in result.trials if t.counted]
    checks = [t for t in result.trials if not t.counted]
    assert len(counted) == 40 and problem.accuracy.calls == 40
    assert all(t.feasible and t.accuracy is not None for t in counted)
    assert checks and all(not t.feasible and t.accuracy is None for t in checks)
    assert result.summary["latency_checks"] == len(checks)
    again = run_search(
        fake_problem(budget_ms=6.0), name, seed=0, queries=40, out_dir=tmp_path / "r2", latency_first=True
    )
    assert trial_keys(again.trials) == trial_keys(result.trials)


def test_infeasible_queries_count_and_best_is_feasible(tmp_path):
    result = run_search(fake_problem(budget_ms=6.0), "random", seed=0, queries=40, out_dir=tmp_path / "r")
    assert any(not t.feasible for t in result.trials)
    best = result.summary["best"]
    assert best["latency_ms"] <= 6.0 and best["margin_ms"] == pytest.approx(6.0 - best["latency_ms"])
    feasible = [t.accuracy for t in result.trials if t.feasible]
    assert best["accuracy"] == max(feasible)


def test_summary_knows_the_ground_truth_of_complete_sources(tmp_path):
    problem = fake_problem(budget_ms=6.0)
    truth = problem.ground_truth()
    assert truth is None  # fake sources cannot enumerate their values
    result = run_search(problem, "rea", seed=0, queries=20, out_dir=tmp_path / "r")
    assert result.summary["optimum"] is None and result.summary["regret"] is None


def test_registry_and_params():
    assert {"random", "rea", "local"} <= set(SEARCHERS)
    assert default_hyperparameters("rea") == {"population_size": 20, "tournament_size": 5}
    assert parse_params("rea", ["population_size=30"]) == {"population_size": 30}
    with pytest.raises(BadInputError, match="has no hyperparameter 'pop'; it has: population_size, tournament_size"):
        parse_params("rea", ["pop=3"])
    with pytest.raises(BadInputError, match="expected int"):
        parse_params("rea", ["population_size=many"])
    with pytest.raises(BadInputError, match="unknown searcher 'nope'; known: random, rea, local"):
        parse_params("nope", [])


def test_invalid_hyperparameters_are_bad_input(tmp_path):
    with pytest.raises(BadInputError, match="tournament_size"):
        run_search(fake_problem(), "rea", 0, 10, tmp_path / "r", hyperparameters={"tournament_size": 50})
