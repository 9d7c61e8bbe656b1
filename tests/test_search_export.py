"""hwnas search --export: the best feasible architecture leaves the search as a verified model."""

from __future__ import annotations

import json

from click.testing import CliRunner

from hwnas.cli import main
from hwnas.export.metadata import read_metadata


def test_offline_search_exports_its_best_feasible_arch(tmp_path, monkeypatch):
    empty = tmp_path / "no-data"
    empty.mkdir()
    monkeypatch.setenv("HWNAS_DATA_DIR", str(empty))
    args = ["search", "--device", "local-ort", "--dataset", "cifar10", "--budget-ms", "1.0", "--queries", "4"]
    args += ["--searcher", "random", "--seed", "0", "--out", str(tmp_path / "run"), "--export", str(tmp_path / "m")]
    result = CliRunner().invoke(main, [*args, "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)  # warnings go to stderr
    best, export = report["best"], report["export"]
    meta = read_metadata(tmp_path / "m" / "model.onnx")
    assert meta.arch_str == best["arch_str"] and meta.accuracy == best["accuracy"]
    assert meta.accuracy_is_estimate is True and "zero-cost" in meta.accuracy_source
    assert meta.target_device == "local-ort" and meta.budget_ms == 1.0
    assert meta.target_latency_ms == best["latency_ms"] <= 1.0 and meta.latency_ms > 0
    assert export["verification"]["passed"] and export["search"]["run_dir"] == str(tmp_path / "run")
    manifest = json.loads((tmp_path / "m" / "manifest.json").read_text())
    assert manifest["search"]["best"]["arch_str"] == best["arch_str"]
