"""Latency predictors: fit on part of a device table, judge on the rest, save, use as a source."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from hwnas.cli import main
from hwnas.devices.registry import parse_device
from hwnas.errors import BadInputError, DataError
from hwnas.paths import cache_dir
from hwnas.predictor.models import make_model, within
from hwnas.predictor.predictor import LatencyPredictor, fit_predictor, latency_data, load_predictor, scores
from hwnas.space.nb201 import EDGES, OPS, NB201Space
from hwnas.tables.catalog import Catalog
from hwnas.tables.table import ArchTable, MetricInfo

SPACE = NB201Space()
REPS = sorted({SPACE.canonical(a) for a in SPACE.enumerate()})
EDGE_COST_MS = np.random.default_rng(3).uniform(0.05, 1.0, size=(len(EDGES), len(OPS)))
EDGE_COST_MS[:, OPS.index("none")] = 0.0


def additive_ms(arch) -> float:
    return 0.2 + sum(EDGE_COST_MS[k, OPS.index(op)] for k, op in enumerate(arch.ops))


def synthetic_table(name: str, members: bool) -> ArchTable:
    """Additive latencies of the representatives; with `members`, every arch gets its representative's."""
    archs = list(SPACE.enumerate()) if members else REPS
    values = [additive_ms(SPACE.canonical(a)) for a in archs]
    frame = pd.DataFrame({"arch_str": [SPACE.format(a) for a in archs], "latency_ms": values})
    return ArchTable(name, frame, {"latency_ms": MetricInfo(unit="ms", kind="latency", dataset="cifar10")})


def device_for(table: str) -> object:
    return parse_device({
        "name": "synthetic",
        "latency": {"source": "table", "tables": [{"table": table, "metric": "latency_ms", "dataset": "cifar10"}]},
    })  # fmt: skip


@pytest.fixture
def synthetic_catalog(tmp_path):
    synthetic_table("synthetic", members=True).save(tmp_path / "synthetic.parquet")
    return Catalog(tmp_path / "no-data", measured_dirs=[tmp_path])


def test_a_table_that_copies_representative_values_is_reduced_to_representatives(synthetic_catalog):
    data = latency_data(device_for("synthetic"), "cifar10", synthetic_catalog)
    assert data.collapsed and len(data.arch_strs) == len(REPS) == 6466
    assert set(data.arch_strs) == {SPACE.format(a) for a in REPS}


def test_the_additive_model_recovers_additive_latencies_and_auto_chooses_by_cross_validation(synthetic_catalog):
    data = latency_data(device_for("synthetic"), "cifar10", synthetic_catalog)
    fitted = fit_predictor(data, "auto", train_size=200, seed=0, hyperparameters={"folds": 3, "trees": 40})
    held = fitted.metrics["held_out"]
    assert held["n"] == len(REPS) - 200 and held["within_10"] >= 0.99 and held["spearman"] > 0.99
    assert fitted.model.config()["chosen"]["model"] in ("additive", "hybrid")
    assert set(fitted.model.config()["cv_within_10"]) == {"additive", "hybrid"}


def test_a_member_is_predicted_through_its_representative(synthetic_catalog):
    fitted = fit_predictor(latency_data(device_for("synthetic"), "cifar10", synthetic_catalog), "additive", 100, 1)
    member = "|nor_conv_1x1~0|+|none~0|none~1|+|skip_connect~0|none~1|avg_pool_3x3~2|"
    rep = SPACE.format(SPACE.canonical(SPACE.parse(member)))
    assert member != rep and fitted.latency_ms(member) == fitted.latency_ms(rep) == fitted.predict([rep])[0]
    assert fitted.name == "predicted:synthetic"


def test_the_hybrid_model_fits_what_is_not_additive():
    rng = np.random.default_rng(0)
    archs = [REPS[i] for i in rng.permutation(len(REPS))[:1200]]
    # a fixed overhead that doubles when two 3x3 convolutions run: not a sum of edge costs
    y = np.array([additive_ms(a) * (2.0 if a.ops.count("nor_conv_3x3") >= 2 else 1.0) for a in archs])
    additive = make_model("additive").fit(archs[:400], y[:400])
    hybrid = make_model("hybrid", trees=100).fit(archs[:400], y[:400])
    assert within(y[400:], hybrid.predict(archs[400:])) > within(y[400:], additive.predict(archs[400:])) + 0.2


def test_scores_report_the_share_within_ten_percent():
    truth = np.array([1.0, 2.0, 4.0, 10.0])
    out = scores(truth, np.array([1.05, 2.5, 4.0, 9.5]))
    assert out["within_10"] == 0.75 and out["within_20"] == 0.75 and out["n"] == 4
    assert out["rmse_ms"] == pytest.approx(np.sqrt((0.05**2 + 0.5**2 + 0.5**2) / 4))


def test_bad_inputs_are_refused_with_a_clear_error():
    with pytest.raises(BadInputError, match="unknown latency model"):
        make_model("forest")
    with pytest.raises(BadInputError, match="hyperparameter"):
        make_model("additive", depth=3)
    with pytest.raises(BadInputError, match="positive"):
        make_model("additive").fit(REPS[:6], np.array([1.0, 2, 3, 4, 5, -1]))


def test_cli_fit_saves_a_predictor_that_eval_scores_on_the_held_out_rest(tmp_path, monkeypatch):
    tables, devices = cache_dir() / "latency_tables", tmp_path / "devices"
    synthetic_table("my-board", members=False).save(tables / "my-board.parquet")
    devices.mkdir()
    (devices / "my-board.toml").write_text(
        'name = "my-board"\n[latency]\nsource = "table"\n'
        '[[latency.tables]]\ntable = "my-board"\nmetric = "latency_ms"\ndataset = "cifar10"\n'
    )
    monkeypatch.setenv("HWNAS_DEVICES_DIR", str(devices))
    runner = CliRunner()
    fit = runner.invoke(
        main,
        [
            "predictor",
            "fit",
            "--device",
            "my-board",
            "--train-size",
            "150",
            "--param",
            "folds=2",
            "--param",
            "trees=30",
            "--json",
        ],
    )
    assert fit.exit_code == 0, fit.output
    saved = json.loads(fit.output)
    path = cache_dir() / "predictors" / "my-board-cifar10.npz"
    assert saved["predictor"] == str(path) and saved["train_size"] == 150
    sidecar = json.loads(path.with_suffix(".json").read_text())
    assert len(sidecar["train_archs"]) == 150 and sidecar["metrics"]["held_out"]["n"] == len(REPS) - 150
    evaluated = runner.invoke(main, ["predictor", "eval", "--device", "my-board", "--json"])
    assert evaluated.exit_code == 0, evaluated.output
    result = json.loads(evaluated.output)
    assert result["n"] == len(REPS) - 150
    assert result["within_10"] == pytest.approx(saved["metrics"]["held_out"]["within_10"])
    assert np.allclose(load_predictor(path).predict(REPS[:5]), [additive_ms(a) for a in REPS[:5]], rtol=0.05)
    bad = runner.invoke(main, ["predictor", "fit", "--device", "my-board", "--train-size", "7000"])
    assert bad.exit_code == 2 and "--train-size must be between 5 and 6465" in bad.output
    missing = runner.invoke(main, ["predictor", "eval", "--device", "my-board", "--predictor", str(tmp_path / "x.npz")])
    assert missing.exit_code == 2 and "hwnas predictor fit" in missing.output


def test_a_saved_predictor_is_the_latency_source_of_a_search(tmp_path, synthetic_catalog, catalog):
    from hwnas.devices.registry import DeviceRegistry
    from hwnas.search.problem import build_problem
    from hwnas.search.runner import run_search

    data = latency_data(device_for("synthetic"), "cifar10", synthetic_catalog)
    path = fit_predictor(data, "additive", 100, 0).save(tmp_path / "p.npz")
    predictor = load_predictor(path)
    problem = build_problem(DeviceRegistry().get("raspi4"), "cifar10", 3.0, catalog, latency=predictor)
    result = run_search(problem, "random", seed=0, queries=5, out_dir=tmp_path / "run", latency_first=True)
    assert problem.describe()["latency"] == "predicted:synthetic" and len(result.trials) >= 5
    for trial in result.trials:
        assert trial.latency_ms == pytest.approx(predictor.latency_ms(trial.arch_str))


@pytest.mark.parametrize("kind, params", [
    ("additive", {}), ("hybrid", {"trees": 20}), ("auto", {"folds": 3, "trees": 20}), ("gcn", {"model_epochs": 20}),
])  # fmt: skip
def test_a_saved_predictor_predicts_exactly_what_the_fitted_one_did(tmp_path, kind, params):
    rng = np.random.default_rng(1)
    archs = [REPS[i] for i in rng.permutation(len(REPS))[:300]]
    y = np.array([additive_ms(a) * (2.0 if a.ops.count("nor_conv_3x3") >= 2 else 1.0) for a in archs])
    fitted = make_model(kind, 0, **params).fit(archs[:150], y[:150])
    predictor = LatencyPredictor(fitted, "board", "cifar10", "t", "latency_ms", [], by_representative=False)
    loaded = load_predictor(predictor.save(tmp_path / "p.npz"))
    np.testing.assert_allclose(loaded.predict(archs), predictor.predict(archs), rtol=1e-12, atol=0)
    assert loaded.model.config() == predictor.model.config()


class _RunsCode:
    """Unpickling this would create the marker file: the attack a predictor file must not allow."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("suffix", [".pkl", ".npz"])
def test_a_crafted_pickle_predictor_never_runs_code(tmp_path, suffix):
    import pickle

    from cli_checks import assert_clean_failure, invoke

    marker = tmp_path / "pwned"
    crafted = tmp_path / f"evil{suffix}"
    crafted.write_bytes(pickle.dumps(_RunsCode(str(marker))))
    with pytest.raises(DataError, match="not an hwnas latency predictor file"):
        load_predictor(crafted)
    # An .npz whose arrays are pickled objects is refused too (allow_pickle=False).
    np.savez(tmp_path / "objects.npz", meta=np.array([_RunsCode(str(marker))], dtype=object))
    with pytest.raises(DataError):
        load_predictor(tmp_path / "objects.npz")
    result = invoke(["predictor", "eval", "--device", "raspi4", "--predictor", crafted])
    assert "not an hwnas latency predictor file" in assert_clean_failure(result, codes=(2,))
    assert not marker.exists()


def test_a_crafted_tree_that_would_loop_is_refused_at_load(tmp_path):
    from hwnas.predictor.storage import read_npz, write_npz

    archs = REPS[:200]
    y = np.array([additive_ms(a) * (2.0 if a.ops.count("nor_conv_3x3") >= 2 else 1.0) for a in archs])
    fitted = make_model("hybrid", trees=3).fit(archs, y)
    path = LatencyPredictor(fitted, "b", "cifar10", "t", "latency_ms", [], False).save(tmp_path / "p.npz")
    meta, arrays = read_npz(path)
    arrays["tree0.left"] = arrays["tree0.left"].copy()
    arrays["tree0.left"][0] = 0  # the root is its own child: prediction would never end
    write_npz(path, meta, arrays)
    with pytest.raises(DataError, match="not a valid regression tree"):
        load_predictor(path)
