"""Exports are all or nothing: a refused, failed or killed export leaves the previous one intact."""

from __future__ import annotations

import hashlib
import json

import pytest
from cli_checks import assert_clean_failure, invoke, snapshot
from test_export import ALL_SKIP, DEAD_NODES

from hwnas.atomic import recover_directory, staged_directory
from hwnas.export import arch_export
from hwnas.export.verify import VerificationError


def export(out, arch=ALL_SKIP, *extra):
    return invoke(["export", arch, "--dataset", "cifar10", "--out", out, "--no-latency", "--json", *extra])


@pytest.fixture
def previous(tmp_path):
    out = tmp_path / "model"
    result = export(out, ALL_SKIP, "--data-dir", tmp_path / "no-data")
    assert result.exit_code == 0, result.stderr
    return out


def manifest_matches_files(out) -> bool:
    manifest = json.loads((out / "manifest.json").read_text())
    return all(
        hashlib.sha256((out / name).read_bytes()).hexdigest() == info["sha256"]
        for name, info in manifest["files"].items()
    )


def test_an_export_refused_for_its_budget_leaves_the_previous_one(previous, tmp_path, shared_data_dir):
    before = snapshot(previous)
    result = export(previous, DEAD_NODES, "--device", "raspi4", "--budget-ms", "1", "--int8",
                    "--data-dir", shared_data_dir)
    assert "over the budget" in assert_clean_failure(result, codes=(2,))
    assert snapshot(previous) == before and manifest_matches_files(previous)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".model.")]


def test_a_failed_verification_leaves_the_previous_export(previous, tmp_path, monkeypatch):
    before = snapshot(previous)

    def disagree(*args, **kwargs):
        raise VerificationError("ONNX Runtime and PyTorch differ by 3.0 (tolerance 1e-4)")

    monkeypatch.setattr(arch_export, "verify_onnx", disagree)
    result = export(previous, DEAD_NODES, "--data-dir", tmp_path / "no-data")
    assert result.exit_code in (1, 2) and snapshot(previous) == before


def test_a_successful_export_replaces_the_previous_one_as_a_whole(previous, tmp_path):
    result = export(previous, DEAD_NODES, "--data-dir", tmp_path / "no-data")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["metadata"]["arch_str"] == DEAD_NODES and manifest_matches_files(previous)
    assert str(tmp_path / ".model") not in result.stdout  # the report names the final files


def test_a_folder_that_is_not_an_export_is_never_replaced(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    line = assert_clean_failure(export(mine, ALL_SKIP, "--data-dir", tmp_path), codes=(2,))
    assert "is not an hwnas export" in line and (mine / "notes.txt").read_text() == "keep me"


def test_what_a_killed_export_left_is_cleaned_up_or_undone(tmp_path):
    final = tmp_path / "model"
    (tmp_path / ".model.staging-abc").mkdir()
    (tmp_path / ".model.staging-abc" / "model.onnx").write_text("half")
    old = tmp_path / ".model.old-123"
    old.mkdir()
    (old / "manifest.json").write_text("{}")
    recover_directory(final)  # killed between the two renames: the old export comes back
    assert (final / "manifest.json").read_text() == "{}" and sorted(p.name for p in tmp_path.iterdir()) == ["model"]
    with pytest.raises(RuntimeError), staged_directory(final) as staging:
        (staging / "model.onnx").write_text("new")
        raise RuntimeError("killed")
    assert sorted(p.name for p in final.iterdir()) == ["manifest.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
