"""What hwnas shows can be trusted: warnings reach the user, degenerate results fail, sources are
of the right kind, bad values are one-line errors, RPC listens on loopback unless told."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import pytest
from cli_checks import assert_clean_failure, invoke, snapshot
from test_profiling_live import DEVICE, REP, committed_table

from hwnas.search.problem import build_problem

REPO = Path(__file__).resolve().parents[1]


def table_search(shared_data_dir, *args):
    return invoke(["search", "--data-dir", shared_data_dir, "--searcher", "random", "--seed", "0", *args])


def test_a_table_from_another_machine_is_said_in_the_problem_and_the_cli(tmp_path, shared_data_dir, monkeypatch):
    from hwnas.tables.catalog import Catalog

    (tmp_path / "tables").mkdir()
    committed_table(tmp_path / "tables", {REP: 0.42}, {"cpu_model": "Some Other CPU"})
    monkeypatch.setattr("hwnas.profiling.live.latency_tables_dirs", lambda: [tmp_path / "tables"])
    problem = build_problem(DEVICE, "cifar10", 50.0, Catalog(shared_data_dir))
    assert any("measured elsewhere" in w and "cpu_model" in w for w in problem.warnings)
    result = invoke([
        "search", "--device", "local-ort", "--budget-ms", "50", "--queries", "2", "--searcher", "random",
        "--out", tmp_path / "run", "--json", "--data-dir", shared_data_dir,
    ])
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert any("measured on this machine instead" in w for w in report["warnings"])
    assert "measured elsewhere" in result.stderr
    provenance = report["latency_provenance"]
    assert provenance["looked_up_in_table"] == 0 and provenance["table"] is None
    assert 1 <= provenance["measured_here"] <= 2 and provenance["machine"]


def test_a_latency_column_is_refused_as_accuracy(shared_data_dir, tmp_path):
    result = table_search(
        shared_data_dir, "--device", "raspi4", "--budget-ms", "16", "--accuracy", "hw-nas-bench:raspi4_latency",
        "--out", tmp_path / "r",
    )
    line = assert_clean_failure(result, codes=(2,))
    assert "holds latency (ms), not accuracy" in line and not (tmp_path / "r").exists()


def test_nothing_feasible_is_exit_1_naming_the_fastest(shared_data_dir, tmp_path):
    result = table_search(shared_data_dir, "--device", "raspi4", "--budget-ms", "1", "--queries", "10",
                          "--out", tmp_path / "r", "--json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["best"] is None and "the fastest was" in report["warnings"][-1]
    assert result.stderr.strip().splitlines()[-1].startswith("error: no architecture within 1 ms")
    assert len((tmp_path / "r" / "trials.jsonl").read_text().splitlines()) == 10  # the run is kept


def test_a_chance_level_best_is_exit_1(shared_data_dir, tmp_path):
    # A budget just under the fastest above-chance architecture admits only cells whose every path
    # is cut by `none` (they ignore their input).
    from hwnas.devices.registry import DeviceRegistry
    from hwnas.tables.catalog import Catalog

    # HW-NAS-Bench's raspi4 table: 289 such cells run under 2.53 ms, the fastest useful one.
    problem = build_problem(DeviceRegistry().get("raspi4"), "cifar10", 100.0, Catalog(shared_data_dir))
    truth = problem.ground_truth()
    useful = truth.accuracy > 11.0
    budget = float(truth.latency_ms[useful].min()) * 0.999
    assert (truth.latency_ms <= budget).sum() > 100
    result = table_search(shared_data_dir, "--device", "raspi4", "--budget-ms", repr(budget), "--queries", "200",
                          "--searcher", "rea", "--out", tmp_path / "r")
    assert result.exit_code == 1, result.stdout + result.stderr
    assert "chance level" in result.stderr and "fastest architecture above chance needs" in result.stderr


def test_cifar100_says_the_reported_test_accuracy_is_the_search_target(shared_data_dir, tmp_path):
    result = table_search(shared_data_dir, "--device", "pi5-onnx", "--dataset", "cifar100", "--budget-ms", "4",
                          "--queries", "3", "--out", tmp_path / "r", "--json")
    assert result.exit_code == 0, result.stderr
    assert any("no validation accuracy" in w for w in json.loads(result.stdout)["warnings"])


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--param", "lr=nan"], "finite float"),
        (["--param", "lr=inf"], "finite float"),
        (["--queries", "0"], "queries must be >= 1"),
    ],
)
def test_bad_search_values_are_one_line(shared_data_dir, tmp_path, args, needle):
    result = invoke(["search", "--data-dir", shared_data_dir, "--device", "raspi4", "--budget-ms", "16",
                     "--out", tmp_path / "r", *args])
    assert needle in assert_clean_failure(result, codes=(2,))
    assert snapshot(tmp_path / "r") == {}


def test_an_out_path_that_cannot_be_a_directory_is_one_line(shared_data_dir, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("mine")
    result = table_search(shared_data_dir, "--device", "raspi4", "--budget-ms", "16", "--queries", "3",
                          "--out", blocker / "run")
    assert "Not a directory" in assert_clean_failure(result, codes=(2,))
    assert blocker.read_text() == "mine"


def test_runs_show_recomputes_a_summary_missing_fields(shared_data_dir, tmp_path):
    out = tmp_path / "r"
    assert table_search(shared_data_dir, "--device", "raspi4", "--budget-ms", "16", "--queries", "5",
                        "--out", out).exit_code == 0
    summary = json.loads((out / "summary.json").read_text())
    for key in ("status", "queries_used", "best"):
        summary.pop(key)
    (out / "summary.json").write_text(json.dumps(summary))
    shown = invoke(["runs", "show", out, "--json", "--data-dir", shared_data_dir])
    assert shown.exit_code == 0, shown.stderr
    assert json.loads(shown.stdout)["queries_used"] == 5
    config = json.loads((out / "config.json").read_text())
    config.pop("queries")
    (out / "config.json").write_text(json.dumps(config))
    assert "lacks queries" in assert_clean_failure(invoke(["runs", "show", out]), codes=(2,))


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--option", "threads=abc"], "option threads must be int"),
        (["--option", "threads=true"], "option threads must be int"),
        (["--limit", "-1"], "--limit must be >= 1"),
        (["--time-cap-s", "nan"], "positive and finite"),
        (["--target-rse", "inf"], "positive and finite"),
    ],
)
def test_bad_profile_values_are_one_line_and_write_nothing(tmp_path, args, needle):
    out = tmp_path / "t.parquet"
    result = invoke(["profile", "run", "--device", "local-ort", "--sample", "1", "--out", out, *args])
    assert needle in assert_clean_failure(result, codes=(2,))
    assert snapshot(tmp_path) == {}


def test_compile_rejects_a_bad_target_and_a_non_onnx_file_in_one_line(tmp_path):
    not_onnx = tmp_path / "model.onnx"
    not_onnx.write_text("x\n")
    line = assert_clean_failure(invoke(["compile", not_onnx, "--target", '{"kind": 5}', "--out", tmp_path / "o"]),
                                codes=(2,))
    assert "TVM rejects target" in line
    line = assert_clean_failure(invoke(["compile", not_onnx, "--target", "host", "--out", tmp_path / "o"]),
                                codes=(2,))
    assert "is not a readable ONNX model" in line and not (tmp_path / "o").exists()


def _fake_python(tmp_path: Path) -> Path:
    """A stand-in for the board's python: imports succeed, the server prints its arguments."""
    fake = tmp_path / "python"
    fake.write_text('#!/bin/sh\nif [ "$1" = "-c" ]; then exit 0; fi\necho "$@"\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    return fake


def test_rpc_server_listens_on_loopback_unless_told(tmp_path):
    script = REPO / "profiling" / "start_rpc_server.sh"
    env = {**os.environ, "PYTHON": str(_fake_python(tmp_path))}
    default = subprocess.run(["sh", script, "127.0.0.1:9190", "raspi4"], env=env, capture_output=True, text=True)
    assert default.returncode == 0 and "--host 127.0.0.1 " in default.stdout
    told = subprocess.run(["sh", script, "--bind", "10.0.0.5", "127.0.0.1:9190", "raspi4"], env=env,
                          capture_output=True, text=True)
    assert told.returncode == 0 and "--host 10.0.0.5 " in told.stdout and "--key raspi4" in told.stdout
    missing = subprocess.run(["sh", script, "--bind"], env=env, capture_output=True, text=True)
    assert missing.returncode == 2 and "needs an address" in missing.stderr


@pytest.mark.slow
def test_ctrl_c_during_profile_run_exits_130_and_keeps_what_was_measured(tmp_path):
    import signal
    import sys
    import time

    out = tmp_path / "t.parquet"
    log = tmp_path / "t.log.jsonl"
    command = [sys.executable, "-m", "hwnas", "profile", "run", "--device", "local-ort", "--sample", "40",
               "--seed", "3", "--time-cap-s", "0.5", "--out", str(out)]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and child.poll() is None:
        if log.is_file() and len(log.read_text().splitlines()) >= 3:
            break
        time.sleep(0.2)
    assert child.poll() is None, "the run ended before it could be interrupted"
    child.send_signal(signal.SIGINT)  # in the middle of measuring the next network
    _, stderr = child.communicate(timeout=60)
    assert child.returncode == 130, stderr
    assert "terminate called" not in stderr and "interrupted" in stderr
    rerun = subprocess.run([*command, "--limit", "1", "--json"], capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    assert json.loads(rerun.stdout)["already_measured"] >= 2  # nothing finished before Ctrl-C was lost


def test_a_broken_measured_table_is_reported_and_skipped_by_listings(tmp_path, shared_data_dir, monkeypatch):
    import pandas as pd

    tables = tmp_path / "tables"
    tables.mkdir()
    pd.DataFrame({"arch_str": [REP], "latency_ms": [1.0]}).to_parquet(tables / "orphan.parquet")  # no sidecar
    (tables / "array.parquet").write_bytes(b"")
    (tables / "array.json").write_text("[1, 2]")
    monkeypatch.setattr("hwnas.tables.catalog.latency_tables_dirs", lambda: [tables])
    listing = invoke(["data", "list", "--json", "--data-dir", shared_data_dir])
    assert listing.exit_code == 0, listing.stderr
    rows = {r["table"]: r for r in json.loads(listing.stdout)["tables"]}
    assert "sidecar" in rows["orphan"]["unreadable"] and "not an hwnas table sidecar" in rows["array"]["unreadable"]
    assert rows["nb201"]["rows"] == 15625
    shown = invoke(["arch", "show", REP, "--json", "--data-dir", shared_data_dir])
    assert shown.exit_code == 0, shown.stderr
    report = json.loads(shown.stdout)
    assert set(report["unreadable_tables"]) == {"orphan", "array"} and "nb201" in report["tables"]
