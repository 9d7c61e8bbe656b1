"""Continuing from any history: told trials it never proposed, every searcher continues from them;
resumes that cannot replay keep the log; finished runs extend; new runs warm-start from old ones."""

from __future__ import annotations

import json

import pytest
from search_fakes import OPTIPROXY_FAST, SPACE, fake_problem

from hwnas.errors import RunError
from hwnas.search.base import SearchContext
from hwnas.search.registry import SEARCHERS, make_searcher
from hwnas.search.runner import run_search
from hwnas.search.trial_log import read_trials

# Small settings so every searcher's run takes seconds on the fake problem.
FAST: dict[str, dict] = {
    "optiproxy": OPTIPROXY_FAST,
    "proxybo": {"n_candidates": 120, "n_trees": 5, "k_folds": 3},
}


def fast(name: str) -> dict:
    return dict(FAST.get(name, {}))


def keys(trials):
    return [(t.arch_str, t.accuracy, t.latency_ms, t.feasible, t.step, t.counted) for t in trials]


@pytest.fixture(scope="module")
def foreign_run(tmp_path_factory):
    """25 trials another searcher evaluated on the same problem."""
    out = tmp_path_factory.mktemp("foreign") / "run"
    run_search(fake_problem(), "random", seed=99, queries=25, out_dir=out)
    return out


@pytest.mark.parametrize("name", list(SEARCHERS))
def test_every_searcher_continues_from_a_foreign_history(tmp_path, foreign_run, name):
    history = read_trials(foreign_run / "trials.jsonl")
    told = {t.arch_str for t in history}
    result = run_search(
        fake_problem(), name, seed=0, queries=15, out_dir=tmp_path / "r", hyperparameters=fast(name),
        warm_start=[foreign_run],
    )
    proposed = [t.arch_str for t in result.trials]
    assert sum(t.counted for t in result.trials) == 15
    assert not told & set(proposed), "re-queried a told architecture"
    assert len(set(proposed)) == len(proposed)
    assert result.summary["warm_start"]["trials"] == 25


@pytest.mark.parametrize("name", list(SEARCHERS))
def test_told_history_shapes_what_each_searcher_proposes(foreign_run, name):
    """Not only dedupe: the history replaces the searcher's random start where it has one."""
    history = read_trials(foreign_run / "trials.jsonl")
    context = SearchContext(SPACE, 8.0, "cifar10")
    searcher = make_searcher(name, context, 0, **fast(name))
    searcher.tell(history)
    fresh = make_searcher(name, context, 0, **fast(name))
    first_told = [SPACE.format(p.arch) for p in searcher.ask(1)]
    first_fresh = [SPACE.format(p.arch) for p in fresh.ask(1)]
    assert first_told and first_told[0] not in {t.arch_str for t in history}
    if name in ("local", "optiproxy", "rea"):
        # local starts from the best told trial's neighbourhood, REA mutates a told parent, OptiProxy
        # fits its proxy at once: none of them spends a proposal on its seeded random start.
        best = max((t for t in history if t.feasible), key=lambda t: t.accuracy)
        if name == "local":
            neighbours = {SPACE.format(a) for a in SPACE.neighbours(SPACE.parse(best.arch_str))}
            assert first_told[0] in neighbours
        else:
            assert first_told != first_fresh


def test_divergent_trial_in_the_middle_keeps_every_logged_line(tmp_path):
    out = tmp_path / "r"
    with pytest.raises(KeyboardInterrupt):
        run_search(fake_problem(fail_after=20), "local", seed=3, queries=40, out_dir=out)
    path = out / "trials.jsonl"
    lines = path.read_text().splitlines(keepends=True)
    changed = json.loads(lines[9])
    changed["arch_str"] = "|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|"
    assert changed["arch_str"] not in "".join(lines)
    lines[9] = json.dumps(changed) + "\n"
    path.write_text("".join(lines))
    before = path.read_bytes()
    result = run_search(fake_problem(), "local", seed=3, queries=40, out_dir=out)
    assert path.read_bytes().startswith(before)
    assert result.continued["trial"] == 9
    assert sum(t.counted for t in result.trials) == 40
    assert len({t.arch_str for t in result.trials}) == len(result.trials)


@pytest.mark.parametrize("name", ["rea", "optiproxy"])
def test_extending_a_finished_run_keeps_its_trials(tmp_path, name):
    out = tmp_path / "r"
    first = run_search(fake_problem(), name, seed=1, queries=20, out_dir=out, hyperparameters=fast(name))
    # Whatever a run directory holds besides config, log and summary is a cache: throw it away.
    for path in out.iterdir():
        if path.name not in ("config.json", "trials.jsonl", "summary.json", ".lock"):
            path.unlink()
    extended = run_search(fake_problem(), name, seed=1, queries=40, out_dir=out, hyperparameters=fast(name))
    assert keys(extended.trials[:20]) == keys(first.trials)
    assert sum(t.counted for t in extended.trials) == 40
    assert extended.summary["queries"] == 40 and extended.continued is None  # prefix-consistent: exact
    config = json.loads((out / "config.json").read_text())
    assert config["queries"] == 40 and config["queries_before"] == [20]
    again = run_search(fake_problem(), name, seed=1, queries=40, out_dir=out, hyperparameters=fast(name))
    assert keys(again.trials) == keys(extended.trials)
    with pytest.raises(RunError, match="holds a run of 40 queries; rerun with --queries 40"):
        run_search(fake_problem(), name, seed=1, queries=20, out_dir=out, hyperparameters=fast(name))


def test_same_machine_and_versions_still_replay_exactly(tmp_path):
    full = run_search(fake_problem(), "rea", seed=5, queries=30, out_dir=tmp_path / "full")
    with pytest.raises(KeyboardInterrupt):
        run_search(fake_problem(fail_after=12), "rea", seed=5, queries=30, out_dir=tmp_path / "cut")
    resumed = run_search(fake_problem(), "rea", seed=5, queries=30, out_dir=tmp_path / "cut")
    assert keys(resumed.trials) == keys(full.trials) and resumed.continued is None


def test_warm_start_from_several_runs_requeries_nothing(tmp_path):
    a = tmp_path / "a"
    b = tmp_path / "b"
    run_search(fake_problem(), "rea", seed=0, queries=20, out_dir=a)
    run_search(fake_problem(), "local", seed=1, queries=20, out_dir=b)
    sources = {t.arch_str for d in (a, b) for t in read_trials(d / "trials.jsonl")}
    problem = fake_problem()
    calls_before = problem.accuracy.calls
    result = run_search(problem, "rea", seed=2, queries=10, out_dir=tmp_path / "w", warm_start=[a, b])
    assert problem.accuracy.calls - calls_before == 10
    assert not sources & {t.arch_str for t in result.trials}
    config = json.loads((tmp_path / "w" / "config.json").read_text())
    assert config["warm_start"] == [str(a), str(b)] and config["warm_start_trials"] == [20, 20]
    # A source that grew since is read only as far as the run started from it.
    run_search(fake_problem(), "rea", seed=0, queries=30, out_dir=a)
    again = run_search(fake_problem(), "rea", seed=2, queries=10, out_dir=tmp_path / "w", warm_start=[a, b])
    assert keys(again.trials) == keys(result.trials)


def test_warm_start_from_another_problem_is_refused_with_the_key(tmp_path):
    run_search(fake_problem(budget_ms=9.0), "random", seed=0, queries=5, out_dir=tmp_path / "a")
    with pytest.raises(RunError, match=r"problem.budget_ms is 9.0 there and 8.0 here"):
        run_search(fake_problem(), "rea", seed=0, queries=5, out_dir=tmp_path / "w", warm_start=[tmp_path / "a"])
    assert not (tmp_path / "w" / "trials.jsonl").exists()


@pytest.mark.needs_data
def test_raspi4_rea_log_cut_and_edited_resumes_without_requerying(tmp_path, catalog):
    from hwnas.devices.registry import DeviceRegistry
    from hwnas.search.problem import build_problem

    def problem():
        return build_problem(DeviceRegistry().get("raspi4"), "cifar10", 16, catalog)

    out = tmp_path / "r"
    run_search(problem(), "rea", seed=0, queries=30, out_dir=out)
    path = out / "trials.jsonl"
    lines = path.read_text().splitlines(keepends=True)[:27]
    logged = {json.loads(line)["arch_str"] for line in lines}
    p = problem()
    replacement = next(
        s for s in p.accuracy.known_values() if s not in logged and p.latency_ms(s) <= 16.0
    )
    trial = json.loads(lines[20])
    trial.update(
        arch_str=replacement, accuracy=p.accuracy.accuracy(replacement), latency_ms=p.latency_ms(replacement),
        feasible=True,
    )
    lines[20] = json.dumps(trial) + "\n"
    path.write_text("".join(lines))
    (out / "summary.json").unlink()
    before = path.read_bytes()
    result = run_search(problem(), "rea", seed=0, queries=30, out_dir=out)
    assert path.read_bytes().startswith(before)
    assert result.continued["trial"] == 20
    assert sum(t.counted for t in result.trials) == 30 and len(result.trials) == 30
    assert len({t.arch_str for t in result.trials}) == 30


@pytest.mark.needs_data
def test_cli_extends_and_warm_starts(tmp_path, shared_data_dir):
    from click.testing import CliRunner

    from hwnas.cli import main

    def search(*extra):
        args = ["search", "--device", "fpga", "--dataset", "cifar10", "--budget-ms", "2.9", "--searcher", "rea",
                "--data-dir", str(shared_data_dir), "--json", *extra]
        return CliRunner().invoke(main, args)

    first = search("--queries", "10", "--seed", "0", "--out", str(tmp_path / "a"))
    assert first.exit_code == 0, first.output
    extended = search("--queries", "20", "--seed", "0", "--out", str(tmp_path / "a"))
    assert extended.exit_code == 0, extended.output
    assert json.loads(extended.stdout)["queries_used"] == 20
    warm = search("--queries", "5", "--seed", "1", "--out", str(tmp_path / "w"), "--warm-start", str(tmp_path / "a"))
    assert warm.exit_code == 0, warm.output
    report = json.loads(warm.stdout)
    assert report["warm_start"]["trials"] == 20 and report["queries_used"] == 5
    other = search("--queries", "5", "--out", str(tmp_path / "x"), "--warm-start", str(tmp_path / "nothing"))
    assert other.exit_code == 2 and "not a run directory" in other.stderr
