from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from click.testing import CliRunner

from hwnas.bench.report import parse_curve
from hwnas.bench.suite import SUITE_SETTINGS, parse_int_list, plan_jobs, select_settings
from hwnas.cli import main
from hwnas.devices.registry import DeviceRegistry
from hwnas.errors import BadInputError
from hwnas.search.problem import build_problem
from hwnas.search.runner import run_search
from hwnas.tables.catalog import Catalog


def bench(root, *args: str):
    return CliRunner().invoke(main, ["bench", "--root", str(root), "--suite", "t", "--workers", "1", *args])


def rows(root):
    with open(root / "t" / "runs.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def test_suite_has_the_eighteen_settings_and_selection_works():
    assert len(SUITE_SETTINGS) == 18 and len({s.id for s in SUITE_SETTINGS}) == 18
    assert [s.id for s in select_settings("fpga")] == ["fpga-2.4ms", "fpga-2.9ms", "fpga-3.7ms"]
    assert [s.id for s in select_settings("raspi4-16ms,pi5-onnx")] == [
        "raspi4-16ms",
        "pi5-onnx-1.7ms",
        "pi5-onnx-4ms",
        "pi5-onnx-5ms",
    ]
    with pytest.raises(BadInputError, match="unknown setting 'raspi5'"):
        select_settings("raspi5")
    assert parse_int_list("0-3,7", "--seeds") == [0, 1, 2, 3, 7]
    with pytest.raises(BadInputError):
        parse_int_list("a-b", "--seeds")


def test_prefix_consistent_searchers_run_only_the_longest_budget():
    jobs = plan_jobs(select_settings("raspi4-8ms"), ["random", "rea"], [0, 1], [100, 200])
    assert len(jobs) == 4 and all(j.queries == (100, 200) and j.run_queries == 200 for j in jobs)


def test_bench_skips_finished_runs_and_derives_shorter_budgets(shared_data_dir, tmp_path):
    args = ("--settings", "raspi4-16ms", "--searchers", "rea,local", "--seeds", "0-1", "--queries", "20,40")
    first = bench(tmp_path, *args, "--data-dir", str(shared_data_dir), "--json")
    assert first.exit_code == 0, first.output
    assert json.loads(first.output)["ran"] == 4
    table = rows(tmp_path)
    assert len(table) == 8 and {r["queries"] for r in table} == {"20", "40"}
    assert (tmp_path / "t" / "summary.md").is_file() and (tmp_path / "t" / "plots" / "raspi4-16ms.png").is_file()

    again = bench(tmp_path, *args, "--data-dir", str(shared_data_dir), "--json")
    assert json.loads(again.output)["ran"] == 0 and json.loads(again.output)["skipped"] == 4
    assert rows(tmp_path) == table

    # a run whose summary is gone (killed) is resumed, and gives the same row
    (tmp_path / "t" / "runs" / "raspi4-16ms" / "rea" / "q40-s1" / "summary.json").unlink()
    third = bench(tmp_path, *args, "--data-dir", str(shared_data_dir), "--json")
    assert json.loads(third.output)["ran"] == 1
    assert [{k: v for k, v in r.items() if "time" not in k} for r in rows(tmp_path)] == [
        {k: v for k, v in r.items() if "time" not in k} for r in table
    ]

    # the derived 20-query row equals a real 20-query run
    problem = build_problem(DeviceRegistry().get("raspi4"), "cifar10", 16, Catalog(shared_data_dir))
    real = run_search(problem, "local", 1, 20, tmp_path / "real").summary
    derived = next(r for r in table if r["label"] == "local" and r["seed"] == "1" and r["queries"] == "20")
    assert derived["derived_from"] == "40"
    assert (
        float(derived["best_accuracy"]) == real["best"]["accuracy"] and derived["best_arch"] == real["best"]["arch_str"]
    )


def test_curve_text_round_trips():
    curve = parse_curve("3:80.5 7:85.0", 10)
    assert np.isnan(curve[:2]).all() and curve[2] == 80.5 and curve[6] == 85.0 and curve[9] == 85.0


def test_bench_param_needs_a_searcher_prefix(tmp_path):
    result = bench(tmp_path, "--searchers", "rea", "--param", "population_size=3")
    assert result.exit_code == 2 and "searcher.key=value" in result.output


def test_tuning_comparison_puts_each_variant_next_to_rea_on_its_own_seeds():
    import importlib.util
    from pathlib import Path

    import pandas as pd

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "tuning_compare.py"
    spec = importlib.util.spec_from_file_location("tuning_compare", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    def run(label, seed, accuracy, searcher="optiproxy"):
        return {
            "label": label,
            "searcher": searcher,
            "setting": "s",
            "queries": 200,
            "seed": seed,
            "best_accuracy": accuracy,
            "hit_optimum": accuracy >= 90,
            "best_rank": 1,
        }

    tuning = pd.DataFrame([run("a", 0, 89.0), run("a", 1, 89.0), run("b", 2, 90.0)])
    reference = pd.DataFrame([run("rea", 0, 88.0, "rea"), run("rea", 1, 88.0, "rea"), run("rea", 2, 91.0, "rea")])
    table = module.compare(tuning, reference).set_index("label")
    assert table.loc["a", "seeds"] == "0-1" and table.loc["a", "settings_at_or_above_rea"] == 1
    assert table.loc["b", "seeds"] == "2" and table.loc["b", "settings_at_or_above_rea"] == 0
    assert table.loc["rea (main suite, seeds 0-1)", "mean_best_accuracy"] == 88.0
    assert table.loc["rea (main suite, seeds 2)", "mean_best_accuracy"] == 91.0
