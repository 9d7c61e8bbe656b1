from __future__ import annotations

import json
import sys
import types

import pytest
from click.testing import CliRunner

from hwnas.cli import main
from hwnas.devices.registry import DeviceRegistry
from hwnas.errors import BadInputError, BudgetError, DataError, DeviceError
from hwnas.search.problem import build_problem
from hwnas.search.runner import run_search
from hwnas.search.trial_log import read_trials

OPTIMUM_RASPI4_16 = "|nor_conv_3x3~0|+|none~0|none~1|+|none~0|skip_connect~1|none~2|"


def device(name: str):
    return DeviceRegistry().get(name)


def test_constrained_optimum_and_rank_from_complete_tables(catalog):
    problem = build_problem(device("raspi4"), "cifar10", 16, catalog)
    truth = problem.ground_truth()
    assert truth is not None and len(truth.arch_strs) == 15625 and truth.n_feasible == 3966
    optimum = truth.optimum()
    assert optimum["arch_str"] == OPTIMUM_RASPI4_16 and optimum["accuracy"] == pytest.approx(88.64, abs=1e-6)
    assert optimum["latency_ms"] <= 16
    assert truth.rank(optimum["accuracy"]) == 1
    assert truth.rank(0.0) == truth.n_feasible + 1 - int((truth.accuracy[truth.feasible] <= 0.0).sum())
    assert problem.report_values(OPTIMUM_RASPI4_16)["test_accuracy"] == pytest.approx(91.99, abs=0.01)


def test_cifar100_devices_search_the_nb201_test_accuracy_of_hwnasbench360(catalog):
    problem = build_problem(device("pi5-onnx"), "cifar100", 1.7, catalog)
    assert problem.accuracy.name == "nb201:c100_test_200"
    other = build_problem(device("pi5-onnx"), "cifar100", 1.7, catalog, accuracy="hw-nas-bench-360:cifar100_accuracy")
    a, b = problem.ground_truth(), other.ground_truth()
    assert a.optimum()["arch_str"] == b.optimum()["arch_str"]
    assert a.optimum()["accuracy"] == pytest.approx(67.08, abs=1e-6)
    assert abs(a.accuracy - b.accuracy).max() < 1e-9
    pixel = build_problem(device("pixel-litert"), "cifar100", 0.7, catalog).ground_truth()
    assert pixel.n_feasible == 1590


def test_budget_below_the_fastest_arch_names_it_and_suggests_a_value(catalog):
    with pytest.raises(
        BudgetError, match=r"below the fastest architecture on eyeriss \(1.68 ms\); try --budget-ms >= 1.7"
    ):
        build_problem(device("eyeriss"), "cifar10", 1.0, catalog)
    with pytest.raises(BudgetError, match="positive"):
        build_problem(device("eyeriss"), "cifar10", -3, catalog)


def test_budget_above_the_slowest_arch_is_a_warning(catalog):
    problem = build_problem(device("fpga"), "cifar10", 50, catalog)
    assert problem.warnings and "every architecture is feasible" in problem.warnings[0]
    assert problem.ground_truth().n_feasible == 15625


def test_unknown_device_dataset_or_accuracy(catalog):
    with pytest.raises(DeviceError, match=r"known devices: .*raspi4"):
        device("raspi9")
    with pytest.raises(DataError, match="has no latency table for cifar10; it has: cifar100"):
        build_problem(device("pi5-onnx"), "cifar10", 5, catalog)
    with pytest.raises(BadInputError, match=r"no metric 'c10_val'; accuracy metrics: .*c10valid_val_200"):
        build_problem(device("raspi4"), "cifar10", 16, catalog, accuracy="nb201:c10_val")


def test_a_search_on_a_table_device_reports_rank_and_regret(catalog, tmp_path):
    problem = build_problem(device("raspi4"), "cifar10", 16, catalog)
    result = run_search(problem, "rea", seed=0, queries=60, out_dir=tmp_path / "r")
    s = result.summary
    assert s["optimum"]["arch_str"] == OPTIMUM_RASPI4_16
    assert s["best"]["rank"] >= 1 and s["regret"] == pytest.approx(s["optimum"]["accuracy"] - s["best"]["accuracy"])
    assert s["best"]["test_accuracy"] is not None and s["hit_optimum"] == (s["best"]["rank"] == 1)


def cli(*args: str):
    return CliRunner().invoke(main, list(args))


def test_cli_search_json_then_runs_show(shared_data_dir, tmp_path):
    out = tmp_path / "run"
    common = ("--device", "raspi4", "--budget-ms", "16", "--queries", "40", "--seed", "1", "--searcher", "local")
    result = cli("search", *common, "--out", str(out), "--json", "--data-dir", str(shared_data_dir))
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["status"] == "finished" and data["queries_used"] == 40 and data["best"]["latency_ms"] <= 16
    shown = cli("runs", "show", str(out), "--json", "--data-dir", str(shared_data_dir))
    assert json.loads(shown.output)["best"] == data["best"]
    human = cli("runs", "show", str(out), "--data-dir", str(shared_data_dir))
    assert human.exit_code == 0 and "rank among feasible" in human.output and "constrained optimum" in human.output
    again = cli("search", *common, "--out", str(out), "--data-dir", str(shared_data_dir))
    assert again.exit_code == 0 and data["best"]["arch_str"][:20] in again.output


def test_cli_runs_show_recomputes_a_killed_run(shared_data_dir, tmp_path):
    out = tmp_path / "run"
    args = (
        "search",
        "--device",
        "pixel3",
        "--budget-ms",
        "6.5",
        "--queries",
        "30",
        "--searcher",
        "rea",
        "--out",
        str(out),
    )
    assert cli(*args, "--json", "--data-dir", str(shared_data_dir)).exit_code == 0
    (out / "summary.json").unlink()  # as if killed before the summary was written
    shown = json.loads(cli("runs", "show", str(out), "--json", "--data-dir", str(shared_data_dir)).output)
    assert shown["status"] == "incomplete" and shown["queries_used"] == 30 and shown["optimum"] is not None
    assert len(read_trials(out / "trials.jsonl")) == 30


def test_cli_errors_are_one_line_exit_2(shared_data_dir, tmp_path):
    low = cli("search", "--device", "raspi4", "--budget-ms", "0.001", "--data-dir", str(shared_data_dir))
    assert low.exit_code == 2 and "fastest architecture on raspi4" in low.output
    assert low.output.strip().count("\n") == 0
    bad = cli("search", "--device", "raspi4", "--budget-ms", "16", "--searcher", "rea", "--param", "x=1")
    assert bad.exit_code == 2 and "has no hyperparameter 'x'" in bad.output
    missing = cli("runs", "show", str(tmp_path))
    assert missing.exit_code == 2 and "not a run directory" in missing.output


def test_live_devices_measure_through_profiling_live(catalog, monkeypatch, tmp_path):
    created = {}

    class FakeLive:
        name = "live:local-ort"

        def __init__(self, device, dataset, cache_dir=None):
            created.update(device=device.name, dataset=dataset, cache_dir=cache_dir)

        def latency_ms(self, arch):
            return 1.0 + arch.ops.count("nor_conv_3x3")

    module = types.ModuleType("hwnas.profiling.live")
    module.LiveLatency = FakeLive
    monkeypatch.setitem(sys.modules, "hwnas.profiling.live", module)
    problem = build_problem(device("local-ort"), "cifar10", 2.5, catalog, live_cache_dir=str(tmp_path))
    assert created == {"device": "local-ort", "dataset": "cifar10", "cache_dir": str(tmp_path)}
    assert problem.ground_truth() is None and problem.warnings == []  # nothing known up front
    result = run_search(problem, "random", seed=0, queries=15, out_dir=tmp_path / "r")
    assert result.summary["best"]["latency_ms"] <= 2.5 and result.summary["optimum"] is None
    assert json.loads((tmp_path / "r" / "config.json").read_text())["problem"]["latency"] == "live:local-ort"


def test_live_device_without_the_profiling_module_says_what_is_missing(catalog, monkeypatch):
    monkeypatch.setitem(sys.modules, "hwnas.profiling.live", None)  # import fails
    with pytest.raises(DataError, match=r"local-ort measures live, which needs hwnas\.profiling\.live"):
        build_problem(device("local-ort"), "cifar10", 2.5, catalog)
