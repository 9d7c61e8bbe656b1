"""Searching with no benchmark data and no network: zero-cost estimates, labelled as such."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from hwnas.devices.registry import DeviceRegistry
from hwnas.search.problem import build_problem
from hwnas.tables.catalog import Catalog

REPO = Path(__file__).resolve().parents[1]
# Loaded at interpreter start (PYTHONPATH) by the command and every process it starts: any
# connection that is not to this machine fails, as it would on a machine without network.
NO_NETWORK = """
import socket

_connect = socket.socket.connect


def _local_only(self, address):
    host = address[0] if isinstance(address, tuple) else address
    if isinstance(host, str) and not (host in ("localhost", "::1") or host.startswith("127.") or host.startswith("/")):
        raise OSError(f"network disabled for this test: {address}")
    return _connect(self, address)


socket.socket.connect = _local_only
"""


def offline_env(tmp_path: Path) -> dict[str, str]:
    guard = tmp_path / "guard"
    guard.mkdir()
    (guard / "sitecustomize.py").write_text(NO_NETWORK)
    empty = tmp_path / "no-data"
    empty.mkdir()
    env = dict(os.environ)
    env.update(
        HWNAS_DATA_DIR=str(empty),
        HWNAS_CACHE_DIR=str(tmp_path / "cache"),
        PYTHONPATH=str(guard),
        OMP_NUM_THREADS="1",
    )
    return env


def test_without_an_accuracy_table_the_problem_searches_a_zero_cost_estimate(tmp_path):
    device = DeviceRegistry().get("local-ort")
    problem = build_problem(device, "cifar10", 5.0, Catalog(tmp_path), latency=_Constant())
    assert problem.accuracy.is_estimate and "estimate" in problem.accuracy.name
    assert problem.reports == {} and problem.reference is None
    assert any("zero-cost" in w and "not accuracies" in w for w in problem.warnings)
    assert problem.describe()["accuracy_is_estimate"] is True


@pytest.mark.needs_data
def test_a_chosen_zero_cost_estimate_is_judged_by_the_true_accuracy(catalog):
    device = DeviceRegistry().get("raspi4")
    problem = build_problem(device, "cifar10", 16.0, catalog, accuracy="zero-cost:params")
    assert problem.accuracy.name == "zero-cost:params (estimate)"
    assert problem.reference is not None and problem.reference.name == "nb201:c10valid_val_200"


class _Constant:
    name = "constant"

    def latency_ms(self, arch) -> float:
        return 1.0


@pytest.mark.slow
def test_live_search_offline_with_no_data_dir(tmp_path):
    env = offline_env(tmp_path)
    args = ["--device", "local-ort", "--dataset", "cifar10", "--budget-ms", "3", "--queries", "4"]
    command = [sys.executable, "-m", "hwnas", "search", *args, "--searcher", "random", "--out", str(tmp_path / "run")]
    done = subprocess.run([*command, "--json"], cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["problem"]["accuracy_is_estimate"] is True
    assert summary["problem"]["accuracy"].startswith("zero-cost:") and "estimate" in summary["problem"]["accuracy"]
    assert summary["queries_used"] == 4 and summary["regret"] is None
    shown = subprocess.run(
        [sys.executable, "-m", "hwnas", "runs", "show", str(tmp_path / "run")],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shown.returncode == 0, shown.stderr
    assert "estimate (zero-cost:" in shown.stdout and " %" not in shown.stdout.split("latency")[0]


def demo_command(runs: Path) -> list[str]:
    """`make demo`'s search command, read from the Makefile so the test follows it."""
    lines = (REPO / "Makefile").read_text().splitlines()
    start = lines.index("demo: $(STAMP)")
    recipe = [line.strip() for line in lines[start + 1 :] if line.startswith("\t")]
    (search,) = [line for line in recipe if "hwnas search" in line]
    words = shlex.split(search.replace("$(RUNS)", str(runs)))
    assert words[0] == "$(BIN)/hwnas", search
    return [sys.executable, "-m", "hwnas", *words[1:]]


def test_make_demo_offline_leaves_a_verified_model(tmp_path):
    env = offline_env(tmp_path)
    command = demo_command(tmp_path / "runs")
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    model = tmp_path / "runs" / "demo-model"
    manifest = json.loads((model / "manifest.json").read_text())
    assert manifest["verification"]["passed"] and manifest["verification"]["max_abs_diff"] <= 1e-4
    assert manifest["metadata"]["accuracy_is_estimate"] is True
    assert manifest["metadata"]["target_latency_ms"] <= manifest["metadata"]["budget_ms"]
    assert "estimate" in done.stdout and "exported to" in done.stdout
