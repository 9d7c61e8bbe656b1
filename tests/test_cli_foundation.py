from __future__ import annotations

import json

from click.testing import CliRunner

from hwnas.cli import main

ARCH0 = "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|"


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def test_arch_show_reports_every_table_value(shared_data_dir):
    result = run("arch", "show", ARCH0, "--json", "--data-dir", str(shared_data_dir))
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["arch_index"] == 0
    assert report["devices"]["raspi4"]["cifar10"]["latency_ms"] == 10.481976820010459
    assert report["devices"]["fpga"]["cifar10"]["latency_ms"] == 2.57296
    assert abs(report["devices"]["pi5-onnx"]["cifar100"]["latency_ms"] - 1.8305045) < 1e-6
    assert round(report["tables"]["nb201"]["c10valid_val_200"]["value"], 2) == 81.98
    assert report["cost"]["cifar10"]["params_m"] == 0.129306


def test_arch_show_accepts_a_benchmark_index(shared_data_dir):
    result = run("arch", "show", "0", "--json", "--data-dir", str(shared_data_dir))
    assert json.loads(result.output)["arch_str"] == ARCH0


def test_arch_show_human_output(shared_data_dir):
    result = run("arch", "show", ARCH0, "--data-dir", str(shared_data_dir))
    assert result.exit_code == 0 and "raspi4" in result.output and "canonical" in result.output


def test_bad_arch_is_one_line_and_exit_2():
    result = run("arch", "show", "|nor_conv_5x5~0|+|none~0|none~1|+|none~0|none~1|none~2|")
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0 and "unknown op 'nor_conv_5x5'" in result.output


def test_missing_data_dir_still_answers_what_it_can(tmp_path):
    result = run("arch", "show", ARCH0, "--json", "--data-dir", str(tmp_path))
    assert result.exit_code == 0
    report = json.loads(result.output)
    assert "nb201" in report["missing_tables"] and report["cost"]["cifar10"]["params"] == 129306


def test_data_list_and_devices(shared_data_dir):
    listing = json.loads(run("data", "list", "--json", "--data-dir", str(shared_data_dir)).output)
    found = {t["table"]: t for t in listing["tables"]}
    assert found["nb201"]["rows"] == 15625 and found["hw-nas-bench"]["coverage"] == 1.0
    assert not found["hw-nas-bench-pickle/cifar10"]["found"]
    devices = json.loads(run("devices", "list", "--json", "--data-dir", str(shared_data_dir)).output)
    by_name = {d["name"]: d for d in devices}
    assert by_name["raspi4"]["tables_present"]["cifar10"] == "hw-nas-bench"
    assert by_name["edgegpu"]["tables_present"]["cifar10"] is None
    shown = run("devices", "show", "pi5-onnx", "--data-dir", str(shared_data_dir))
    assert shown.exit_code == 0 and "pi5_onnx_cifar100_latency" in shown.output


def test_unknown_device_exit_2():
    result = run("devices", "show", "nope")
    assert result.exit_code == 2 and "known devices:" in result.output
