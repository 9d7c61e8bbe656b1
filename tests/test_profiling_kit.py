"""Boards without TVM: kit export, the onnxruntime+numpy runner, import into a table."""

from __future__ import annotations

import subprocess
import sys

import pytest

from hwnas.errors import DataError
from hwnas.profiling.kit import import_results, write_kit
from hwnas.tables.table import load_table

ARCHS = [
    "|none~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|",
    "|none~0|+|none~0|none~1|+|nor_conv_1x1~0|none~1|none~2|",
]


def test_a_kit_measured_by_the_board_runner_imports_into_a_table(tmp_path):
    kit = tmp_path / "kit"
    summary = write_kit(ARCHS, "cifar10", kit)
    assert summary["onnx_files"] == 2 and {p.name for p in kit.iterdir()} >= {"ort_runner.py", "protocol.py", "onnx"}
    runner = [sys.executable, str(kit / "ort_runner.py"), str(kit / "onnx"), "--out", str(tmp_path / "results.csv")]
    # run from the kit folder with a bare environment, as on a board
    env = {"PATH": "/usr/bin:/bin", "PYTHONNOUSERSITE": "1"}
    done = subprocess.run(
        [*runner, "--time-cap-s", "0.2"], capture_output=True, text=True, timeout=120, cwd=kit, env=env
    )
    assert done.returncode == 0, done.stderr
    again = subprocess.run(runner, capture_output=True, text=True, timeout=60, cwd=kit, env=env)
    assert again.returncode == 0 and again.stdout == ""  # rerun: nothing left to measure
    table_path = tmp_path / "board.parquet"
    first = import_results(tmp_path / "results.csv", "board", "cifar10", table_path)
    second = import_results(tmp_path / "results.csv", "board", "cifar10", table_path)
    assert (first["added"], second["added"], second["already_there"]) == (2, 0, 2)
    table = load_table(table_path)
    assert sorted(table.frame["arch_str"]) == sorted(ARCHS) and (table.frame["latency_ms"] > 0).all()
    assert table.extra["runtime"] == "onnxruntime" and table.extra["threads"] == 1


def test_import_rejects_a_csv_that_is_not_from_the_runner(tmp_path):
    (tmp_path / "r.csv").write_text("arch_str,median_ms\nnot-an-arch,1.0\n")
    (tmp_path / "r.json").write_text('{"format": "hwnas-board-results", "runtime_version": "1"}')
    with pytest.raises(DataError, match="line 2"):
        import_results(tmp_path / "r.csv", "b", "cifar10", tmp_path / "t.parquet")
    (tmp_path / "r.json").write_text("{}")
    with pytest.raises(DataError, match=r"not written by profiling/ort_runner\.py"):
        import_results(tmp_path / "r.csv", "b", "cifar10", tmp_path / "t.parquet")
