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


def _results_csv(path, rows: list[tuple[str, str]]) -> None:
    """A runner-shaped results.csv (arch, median_ms per row) and its sidecar."""
    import csv
    import json

    from hwnas.profiling.store import METRIC, ROW_COLUMNS

    numbers = {"repeats": "30", "number": "1", "warmup_runs": "10", "outliers": "0"}
    columns = ["arch_str", "median_ms", *[c for c in ROW_COLUMNS if c not in (METRIC, "worker")]]
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, columns)
        writer.writeheader()
        for arch, median in rows:
            record = {c: numbers.get(c, "0.1") for c in columns}
            record.update(arch_str=arch, median_ms=median, settled="True", noisy="False",
                          measured_at="2026-12-02T00:00:00+00:00")
            writer.writerow(record)
    path.with_suffix(".json").write_text(json.dumps({"format": "hwnas-board-results", "runtime_version": "1"}))


@pytest.mark.parametrize(
    "rows, message",
    [
        ([(ARCHS[0], "0.5"), (ARCHS[1], "nan")], "not a positive finite latency"),
        ([(ARCHS[0], "0.5"), (ARCHS[1], "-4")], "not a positive finite latency"),
        ([(ARCHS[0], "0.5"), (ARCHS[1], "inf")], "not a positive finite latency"),
        ([(ARCHS[0], "0.5"), (ARCHS[0], "0.7")], "lines 2 and 3 both measure"),
        ([(ARCHS[0], "0.5"), ("|bad~0|", "0.7")], "line 3"),
    ],
)
def test_import_validates_every_row_before_writing_anything(tmp_path, rows, message):
    _results_csv(tmp_path / "r.csv", rows)
    table = tmp_path / "tables" / "t.parquet"
    with pytest.raises(DataError, match=message):
        import_results(tmp_path / "r.csv", "b", "cifar10", table)
    assert not (tmp_path / "tables").exists() or list((tmp_path / "tables").iterdir()) == []


def test_import_cli_keeps_a_device_name_inside_the_tables_folder(tmp_path):
    from cli_checks import assert_clean_failure, invoke

    _results_csv(tmp_path / "r.csv", [(ARCHS[0], "0.5")])
    line = assert_clean_failure(invoke(["profile", "import", tmp_path / "r.csv", "--device", "../../outside"]),
                                codes=(2,))
    assert "must be a plain name" in line and not (tmp_path.parent.parent / "outside.parquet").exists()
    (tmp_path / "r.json").write_text("[1, 2]")
    line = assert_clean_failure(invoke(["profile", "import", tmp_path / "r.csv", "--device", "b", "--out",
                                        tmp_path / "t.parquet"]), codes=(2,))
    assert "not written by profiling/ort_runner.py" in line and not (tmp_path / "t.parquet").exists()
    (tmp_path / "r.json").write_bytes(b"\xff\xfe")
    line = assert_clean_failure(invoke(["profile", "import", tmp_path / "r.csv", "--device", "b", "--out",
                                        tmp_path / "t.parquet"]), codes=(2,))
    assert "not UTF-8 JSON" in line
